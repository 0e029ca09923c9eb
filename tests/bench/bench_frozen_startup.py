"""BENCH frozen_startup: cold start of the installed (PyInstaller) app to its shown main window, vs the same
start from the source tree (`python -m app.cli view --screenshot`), both measured in this run.

Each start is a new process that shows the window, saves a screenshot once it is painted and exits; one
untimed start of each warms the disk cache, then the fastest of RUNS starts counts. Needs the bundle that
`make installer` writes (dist/sightline); without it the script says so and exits 0 without a BENCH line.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_LAUNCHER = REPO / "dist" / "sightline" / "sightline"  # Windows: sightline-cli.exe; macOS: Sightline
RUNS = 3


def start_seconds(command: list[str], env: dict[str, str], runs: int = RUNS) -> float:
    """Fastest of ``runs`` timed starts of ``command`` (after one untimed warm-up start)."""
    times = []
    for run in range(runs + 1):
        with tempfile.TemporaryDirectory(prefix="sightline_start_") as folder:
            start = time.perf_counter()
            subprocess.run([*command, "view", "--screenshot", str(Path(folder) / "window.png")], cwd=REPO,
                           env=env, check=True, capture_output=True)
            if run:
                times.append(time.perf_counter() - start)
    return min(times)


def bench_env() -> dict[str, str]:
    """The environment both starts get: offscreen Qt unless a display is chosen, throw-away user data."""
    home = tempfile.mkdtemp(prefix="sightline_bench_")
    return dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"),
                PYTHONPATH=str(REPO), SIGHTLINE_HOME=home, XDG_CONFIG_HOME=home)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--launcher", type=Path, default=DEFAULT_LAUNCHER, help="the bundle's console executable")
    args = parser.parse_args(argv)
    if not args.launcher.is_file():
        print(f"SKIP frozen_startup: no {args.launcher} (`make installer` builds it)")
        return 0
    env = bench_env()
    ours = start_seconds([str(args.launcher)], env)
    baseline = start_seconds([sys.executable, "-m", "app.cli"], env)
    print(f"BENCH frozen_startup ours={ours:.3f} baseline={baseline:.3f} ratio={ours / baseline:.2f} runs={RUNS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
