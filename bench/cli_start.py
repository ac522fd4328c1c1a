"""How long ``llm-council`` takes as a whole process, beside Python's own start as the floor.

Each command runs ``--repeat`` times (default 10) as a fresh subprocess, timed from spawn
to exit with ``time.perf_counter``; the figure is the median (min and max beside it):

* floors: ``python -c pass`` (the interpreter alone) and ``python -c "import typer"``
  (the CLI framework, which every command needs);
* ``llm-council --help`` and ``llm-council run --help``;
* ``llm-council run "..." --gateway sandbox --json``: a whole offline session (the
  in-process sandbox, nine calls) including the write to an audition store, here a SQLite
  file in a temporary directory (``LLM_COUNCIL_AUDITION_URL``), never the user's.

Target (the issue): ``llm-council --help`` in at most 0.15 s, median of 10.

    python bench/cli_start.py [--repeat 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_HELP_S = 0.15
PROMPT = "Write a Python function that merges two sorted lists, with tests."
SANDBOX_JSON = ("--gateway", "sandbox", "--json")


def _cli() -> list[str]:
    """The installed ``llm-council`` script next to this interpreter, else ``-m``."""
    script = Path(sys.executable).with_name("llm-council")
    return [str(script)] if script.exists() else [sys.executable, "-m", "llm_council"]


def time_command(cmd: list[str], env: dict[str, str], repeat: int) -> dict[str, object]:
    """Median, min and max wall seconds of ``cmd`` as a whole process; it must exit 0."""
    times: list[float] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"{cmd} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return {
        "median_s": round(statistics.median(times), 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=10, help="runs per command (median)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    cli = _cli()
    with tempfile.TemporaryDirectory(prefix="llm-council-cli-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k != "OPENROUTER_API_KEY"}
        env["LLM_COUNCIL_AUDITION_URL"] = f"sqlite:///{Path(tmp) / 'audition.db'}"
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            'python -c "import typer"': [sys.executable, "-c", "import typer"],
            "llm-council --help": [*cli, "--help"],
            "llm-council run --help": [*cli, "run", "--help"],
            "llm-council run ... --gateway sandbox --json": [*cli, "run", PROMPT, *SANDBOX_JSON],
        }
        time_command(commands["llm-council --help"], env, 1)  # warm the page cache, .pyc
        results = {name: time_command(cmd, env, args.repeat) for name, cmd in commands.items()}
    help_s = float(results["llm-council --help"]["median_s"])  # type: ignore[arg-type]
    target = {
        "target": f"llm-council --help <= {TARGET_HELP_S} s (median of {args.repeat})",
        "measured_s": help_s,
        "floor_s": results['python -c "import typer"']["median_s"],
        "met": help_s <= TARGET_HELP_S,
    }
    if args.json:
        print(json.dumps({"cpus": os.cpu_count(), "results": results, "target": target}, indent=2))
        return 0
    print(f"{'command':<48} {'median s':>9} {'min s':>8} {'max s':>8}")
    for name, r in results.items():
        print(f"{name:<48} {r['median_s']:>9.4f} {r['min_s']:>8.4f} {r['max_s']:>8.4f}")
    print(
        f"\n[{'met' if target['met'] else 'MISSED'}] {target['target']}: {help_s:.3f} s "
        f"(floor: python -c pass {results['python -c pass']['median_s']:.3f} s, "
        f"import typer {target['floor_s']:.3f} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
