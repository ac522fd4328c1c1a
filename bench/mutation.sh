#!/usr/bin/env bash
# Mutation testing with mutmut 3 over the rule-dense modules (see docs/mutation-testing.md).
#
#   bench/mutation.sh                 # every mutant of the modules in [tool.mutmut]
#   bench/mutation.sh 'llm_council.council.ranking.*'   # only some (mutmut name globs)
#
# Runs in a copy of the tree (mutmut writes a mutants/ directory next to pyproject.toml and
# the working tree is shared), with mutmut in its own virtualenv layered over the project's
# .venv, so the project's environment is never changed. Results stay in $WORK/mutants;
# browse them with:  cd "$WORK" && "$MUTENV/bin/mutmut" results   (or: mutmut browse)
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${MUTATION_WORKDIR:-/tmp/llm-council-mutation}"
MUTENV="${MUTATION_VENV:-/tmp/llm-council-mutmut-venv}"
MUTMUT_VERSION="${MUTMUT_VERSION:-3.8.1}"
PROJECT_SITE="$("$REPO/.venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"

if [[ ! -x "$MUTENV/bin/mutmut" ]]; then
  "$REPO/.venv/bin/python" -m venv "$MUTENV"
  "$MUTENV/bin/pip" install -q "mutmut==$MUTMUT_VERSION"
  # The mutmut wheel ships a top-level `tests` package of its own, which would shadow this
  # project's tests/ (imported as `tests.council_helpers` and so on).
  rm -rf "$MUTENV"/lib/python3.*/site-packages/tests
  # The project's dependencies (pytest, httpx, sqlalchemy, ...) come from its own venv.
  echo "$PROJECT_SITE" > "$("$MUTENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/zz_project.pth"
fi

mkdir -p "$WORK"
# A fresh copy of the sources; an existing mutants/ cache is kept unless FRESH=1.
[[ "${FRESH:-0}" == 1 ]] && rm -rf "$WORK/mutants"
(cd "$REPO" && tar --exclude=./.venv --exclude=./.git --exclude='__pycache__' \
  --exclude=./mutants --exclude=.pytest_cache -cf - .) | (cd "$WORK" && tar -xf -)

cd "$WORK"
nice -n 5 "$MUTENV/bin/mutmut" run --max-children "${MUTATION_JOBS:-2}" "$@"
"$MUTENV/bin/python" "$REPO/bench/mutation_summary.py" "$WORK/mutants"
