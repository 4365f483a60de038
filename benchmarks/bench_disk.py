"""Disk use per refresh: repeated refreshes of the demo must leave it bounded.

    .venv/bin/python benchmarks/bench_disk.py [--refreshes N] [--keep-runs K] [--json FILE]

Generates the demo consortium into a temporary folder, refreshes it N times with
``CARTWH_KEEP_RUNS=K`` and prints, after each refresh, the size of the warehouse file, its work
folder (dbt target and logs, generated staging, private temporary files), the Dagster home and
the dbt project folder of the code checkout (which must not grow). Asserts nothing; the growth
between the last two refreshes is the figure to watch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "cartwh.cli"]


def size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    if not path.exists():
        return 0.0
    total = sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 2**20


def measure(root: Path) -> dict[str, float]:
    return {
        "warehouse_mb": size_mb(root / "warehouse.duckdb"),
        "work_mb": size_mb(root / "warehouse_work"),
        "dagster_home_mb": size_mb(root / "warehouse_work" / "dagster"),
        "output_mb": size_mb(root / "output"),
        "checkout_dbt_project_mb": size_mb(ROOT / "dbt_project"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refreshes", type=int, default=5)
    parser.add_argument("--keep-runs", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write the rows as JSON")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="cartwh-bench-disk-"))
    env = {
        **os.environ,
        "CARTWH_DATA": str(root),
        "CARTWH_SECRET": "bench-secret-0123456789abcdef0123456789",
        "CARTWH_KEEP_RUNS": str(args.keep_runs),
    }
    rows = []
    try:
        subprocess.run([*CLI, "generate"], env=env, check=True, capture_output=True, cwd=ROOT)
        for number in range(1, args.refreshes + 1):
            started = time.perf_counter()
            done = subprocess.run(
                [*CLI, "refresh", "--full", "--log-level", "ERROR", "--accept-data-warnings"],
                env=env,
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            row = {
                "refresh": number,
                "exit": done.returncode,
                "seconds": round(time.perf_counter() - started, 1),
                **{k: round(v, 1) for k, v in measure(root).items()},
            }
            rows.append(row)
            print("  ".join(f"{k}={v}" for k, v in row.items()), flush=True)
        if len(rows) >= 2:
            growth = {k: round(rows[-1][k] - rows[-2][k], 1) for k in rows[-1] if k.endswith("_mb")}
            print("growth between the last two refreshes (MB): " + json.dumps(growth))
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
