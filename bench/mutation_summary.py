"""Per-module counts from a mutmut 3 run: killed, survived, timeout, no tests, not run.

Usage: ``python bench/mutation_summary.py [MUTANTS_DIR] [--survivors]``. Reads the
``*.meta`` files mutmut writes next to each mutated module; ``--survivors`` also lists the
surviving mutant names (show one with ``mutmut show NAME`` in the work directory).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

# mutmut 3's exit-code meanings (mutmut/stats.py); anything else counts as "suspicious".
_STATUS = {
    0: "survived",
    1: "killed",
    3: "killed",
    2: "interrupted",
    5: "no_tests",
    33: "no_tests",
    34: "skipped",
    35: "suspicious",
    36: "timeout",
    37: "typecheck",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    -11: "segfault",
    -9: "segfault",
}


def summarise(root: Path) -> tuple[dict[str, Counter[str]], dict[str, list[str]]]:
    """Counts by status and surviving mutant names, per mutated module."""
    counts: dict[str, Counter[str]] = {}
    survivors: dict[str, list[str]] = {}
    for meta in sorted(root.rglob("*.meta")):
        module = str(meta.relative_to(root))[: -len(".meta")]
        data = json.loads(meta.read_text())
        tally: Counter[str] = Counter()
        for name, code in data.get("exit_code_by_key", {}).items():
            status = "not_run" if code is None else _STATUS.get(code, "suspicious")
            tally[status] += 1
            if status == "survived":
                survivors.setdefault(module, []).append(name)
        counts[module] = tally
    return counts, survivors


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    root = Path(args[0] if args else "mutants")
    counts, survivors = summarise(root)
    if not counts:
        sys.stderr.write(f"no mutmut results under {root}; run bench/mutation.sh first\n")
        return 1
    for module, tally in counts.items():
        detail = " ".join(f"{k}={v}" for k, v in sorted(tally.items()))
        sys.stdout.write(f"{module:45s} total={sum(tally.values()):5d} {detail}\n")
    if "--survivors" in argv:
        for module, names in survivors.items():
            sys.stdout.write(f"\n{module}\n" + "".join(f"  {n}\n" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
