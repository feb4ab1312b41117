"""Bundle figures: size on disk, size as .tgz, and cold start to "window shown" against `python -m desktop`.

Usage: .venv/bin/python bench/bundle_bench.py [--bundle DIR] [--starts N]
Without --bundle it uses dist/Parley, building it first (packaging/build, ~20 s) when it is missing. Start-up
is measured by bench/run.py's time_to_window, the same way for both commands, so the two rows compare.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "packaging"))

from build_bundle import build, folder_size  # noqa: E402
from run import time_to_window  # noqa: E402

GOAL_MB = 120
GOAL_START_MS = 1500


def tgz_size(bundle: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        archive = Path(tmp) / "Parley.tgz"
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(bundle, arcname=bundle.name)
        return archive.stat().st_size


def start_row(label: str, command: list[str], starts: int) -> str:
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    times = [time_to_window(env, command) for _ in range(starts)]
    median = statistics.median(times) * 1000
    return (f"| start-up to window shown ({label}), median of {starts} | {median:.0f} ms "
            f"| min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f} | goal <= {GOAL_START_MS} ms |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "Parley", help="a built Parley folder")
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    bundle: Path = args.bundle
    if not (bundle / "parley").exists():
        if args.bundle != parser.get_default("bundle"):
            print(f"no bundle at {bundle}", file=sys.stderr)
            return 1
        try:
            build(bundle.parent, quiet=True)
        except subprocess.CalledProcessError as exc:
            print(f"packaging/build failed ({exc.returncode})", file=sys.stderr)
            return 1
    size = folder_size(bundle)
    print("| figure | value | spread | goal |")
    print("|---|---|---|---|")
    print(f"| bundle size ({bundle}) | {size / 1e6:.1f} MB | | goal <= {GOAL_MB} MB |", flush=True)
    print(f"| bundle as .tgz | {tgz_size(bundle) / 1e6:.1f} MB | | |", flush=True)
    print(start_row("bundle", [str(bundle / "parley"), "--verbose"], args.starts), flush=True)
    source = [sys.executable, "-m", "desktop", "--verbose"]
    print(start_row("python -m desktop", source, args.starts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
