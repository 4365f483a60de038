"""Time the generator at scale: 100,000 patients over 20 centres (two deliveries).

    .venv/bin/python benchmarks/bench_generator.py [--patients N] [--centres K] [--keep DIR]

Prints wall-clock seconds and peak resident memory; asserts nothing.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cartwh.demo import generate_consortium  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=100_000)
    parser.add_argument("--centres", type=int, default=20)
    parser.add_argument("--deliveries", type=int, default=2)
    parser.add_argument(
        "--keep", type=Path, default=None, help="write here instead of a temporary folder"
    )
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="cartwh-bench-"))
    try:
        start = time.perf_counter()
        summary = generate_consortium(
            root / "landing",
            patients=args.patients,
            centres=args.centres,
            deliveries=args.deliveries,
            truth_dir=root / "truth",
        )
        seconds = time.perf_counter() - start
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rows = sum(summary.rows_written.values())
        size = sum(p.stat().st_size for p in (root / "landing").rglob("*") if p.is_file()) / 2**20
        print(f"patients={args.patients} centres={args.centres} deliveries={args.deliveries}")
        print(
            f"seconds={seconds:.1f} peak_rss_mb={peak_mb:.0f} rows={rows} landing_mb={size:.0f} "
            f"imperfections={summary.imperfections} corrections={summary.corrections}"
        )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
