"""Run every tests/bench/bench_*.py script (``make bench``) and collect their BENCH lines.

Each script runs in its own interpreter and prints one or more lines
``BENCH <name> ours=<s> baseline=<s> ratio=<ours/baseline> [key=value ...]``. This runner echoes the
scripts' output, checks the BENCH lines' form, and exits non-zero when a script fails or prints none.
A script that cannot measure (no bundle, no PyTorch) says so in a line ``SKIP <name>: <reason>``; skips are
listed at the end, never counted as measurements.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
BENCH_LINE = re.compile(r"^BENCH \S+ ours=[0-9.eE+-]+ baseline=[0-9.eE+-]+ ratio=[0-9.eE+-]+( \S+=\S+)*$")


def run_script(script: Path) -> tuple[list[str], str | None]:
    """The script's BENCH lines, and why it failed (None when it did not)."""
    process = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=BENCH_DIR.parents[1]
    )
    sys.stdout.write(process.stdout)
    sys.stderr.write(process.stderr)
    lines = [line for line in process.stdout.splitlines() if line.startswith("BENCH ")]
    skips = [line for line in process.stdout.splitlines() if line.startswith("SKIP ")]
    if process.returncode != 0:
        return lines, f"exit status {process.returncode}"
    if skips and not lines:
        return skips, None
    malformed = [line for line in lines if not BENCH_LINE.match(line)]
    if malformed:
        return lines, f"malformed BENCH line: {malformed[0]!r}"
    return lines, None if lines else "printed no BENCH line"


def main(argv: list[str]) -> int:
    scripts = sorted(BENCH_DIR.glob("bench_*.py"))
    if argv:
        scripts = [s for s in scripts if any(name in s.name for name in argv)]
    failures, skipped = [], []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        lines, failure = run_script(script)
        if failure:
            failures.append(f"{script.name}: {failure}")
        skipped += [line for line in lines if line.startswith("SKIP ")]
    for line in skipped:
        print(line)
    for failure in failures:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failures or not scripts else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
