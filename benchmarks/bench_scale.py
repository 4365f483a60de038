"""Scale benchmark: the demo and generated consortia of 10,000 and 100,000 patients, through
the real CLI, against plain references and the targets of issue 13.

    .venv/bin/python benchmarks/bench_scale.py [--sizes demo,10k,100k] [--json F] [--merge] [--keep]

For each size, in a temporary CARTWH_DATA folder: ``cartwh generate``; a full ``cartwh
refresh`` into an empty warehouse (start-up, raw load, dbt build, checks, analyses, report,
publish, from the stage lines it prints); the daily grading model's rows per second; the
grading as vectorised pandas and as one bare DuckDB statement (asserted equal to the
warehouse's grades) and the study's Cox model in R ``coxph`` and lifelines; three no-change
refreshes and a no-change sensor tick; a refresh after one centre redelivers. Wall time and
peak memory are those of the whole process tree (dbt included). Writes
``benchmarks/results.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

import bench_report  # noqa: E402
import duckdb  # noqa: E402
import measure  # noqa: E402
import reference_cox  # noqa: E402
import reference_grading  # noqa: E402
import yaml  # noqa: E402
from bench_refresh import redeliver  # noqa: E402

CLI = [sys.executable, "-m", "cartwh.cli"]
SECRET = "bench-secret-0123456789abcdef0123456789"
SIZES = {
    "demo": [],  # `cartwh generate` defaults: 93 patients, 4 centres
    "10k": ["--patients", "10000", "--centres", "20"],
    "100k": ["--patients", "100000", "--centres", "20"],
}
GRADING_MODEL = "int_daily_toxicity_graded"
REDELIVERING_CENTRE = "xz"  # canonical CSV layout, in every generated consortium


def _grading_run_result(work: Path) -> dict | None:
    """The grading model's entry in the newest dbt ``run_results.json`` of ``work``."""
    found = sorted(
        (work / "dbt" / "target").glob("*/run_results.json"), key=lambda p: p.stat().st_mtime
    )
    for path in reversed(found):
        for result in json.loads(path.read_text(encoding="utf-8"))["results"]:
            if result["unique_id"] == f"model.cartwh.{GRADING_MODEL}":
                return result
    return None


def grading(warehouse: Path, work: Path, scratch: Path) -> dict:
    """The model's rows per second and the two references on the same input."""
    result = _grading_run_result(work)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.sql(f"select count(*) from intermediate.{GRADING_MODEL}").fetchall()[0][0]
        expected = reference_grading.warehouse_grades(conn)
        inputs = reference_grading.read_inputs(conn)
    started = time.perf_counter()
    by_pandas = reference_grading.grade_pandas(inputs)
    pandas_seconds = time.perf_counter() - started
    # the bare statement materialises its table in a database file, as the dbt model does
    with duckdb.connect(str(scratch)) as conn:
        conn.execute(f"attach '{warehouse}' as wh (read_only)")
        started = time.perf_counter()
        conn.execute(f"create table graded as {reference_grading.grading_sql('wh.intermediate')}")
        sql_seconds = time.perf_counter() - started
        by_sql = conn.sql("select * from graded").df()
    for name, frame in (("pandas", by_pandas), ("bare SQL", by_sql)):
        difference = reference_grading.differences(frame, expected)
        assert difference is None, f"{name} reference differs from the warehouse: {difference}"
    model_seconds = result["execution_time"] if result else None
    return {
        "rows": rows,
        "model_seconds": round(model_seconds, 3) if model_seconds else None,
        "rows_per_second": round(rows / model_seconds) if model_seconds else None,
        "pandas_seconds": round(pandas_seconds, 3),
        "bare_sql_seconds": round(sql_seconds, 3),
        "model_over_pandas": round(model_seconds / pandas_seconds, 2) if model_seconds else None,
        "model_over_bare_sql": round(model_seconds / sql_seconds, 2) if model_seconds else None,
        "references_equal_warehouse": True,
    }


def sensor_tick_seconds(env: dict) -> float:
    """A no-change sensor tick (bench_refresh.sensor_look_seconds), in a process of its own."""
    code = (
        "import sys, os; from bench_refresh import sensor_look_seconds; "
        "print(sensor_look_seconds(dict(os.environ)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "PYTHONPATH": str(HERE)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def register_generated_centres(landing: Path, mappings: Path) -> list[str]:
    """List the generated centres without a mapping file (c05, c06, ...: canonical layout) in
    ``mappings``' registry (a copy of the project's), as a consortium onboarding them would;
    returns the registry's canonical centres."""
    registry = mappings / "canonical-centres.yml"
    listed = yaml.safe_load(registry.read_text(encoding="utf-8"))["centres"]
    mapped = {p.stem for p in mappings.glob("*.yml")}
    delivered = {p.name for p in landing.iterdir() if p.is_dir() and not p.name.startswith(".")}
    canonical = sorted(set(listed) | (delivered - mapped))
    registry.write_text(yaml.safe_dump({"centres": canonical}), encoding="utf-8")
    return canonical


def bench_size(size: str, root: Path, out: dict, save) -> None:
    """Measure ``size`` in ``root`` into ``out``, calling ``save()`` after each measurement
    (a run stopped part-way keeps what it measured)."""
    env = {**os.environ, "CARTWH_DATA": str(root), "CARTWH_SECRET": SECRET}
    env = {
        k: v
        for k, v in env.items()
        if not k.startswith("CARTWH_") or k in ("CARTWH_DATA", "CARTWH_SECRET")
    }
    env["CARTWH_MAPPINGS"] = str(root / "mappings")
    shutil.copytree(ROOT / "mappings", root / "mappings")
    refresh = [*CLI, "refresh", "--accept-data-warnings"]
    out.update(size=size, load_before=os.getloadavg())
    generate = measure.run([*CLI, "generate", *SIZES[size]], env, ROOT)
    out["generate"] = {**generate.summary(), "last_line": (generate.lines or [(0, "")])[-1][1]}
    if generate.exit:
        raise SystemExit(f"generate failed: {generate.stderr[-2000:]}")
    out["centres_registered"] = register_generated_centres(root / "landing", root / "mappings")
    save()
    full = measure.run(refresh, env, ROOT)
    out["full_refresh"] = {**full.summary(), "stages": full.stages()}
    out["full_refresh"]["stage_lines"] = [line for _, line in full.lines]
    if full.exit:
        out["full_refresh"]["stderr_tail"] = full.stderr[-2000:]
    save()
    warehouse, work = root / "warehouse.duckdb", root / "warehouse_work"
    out["grading"] = grading(warehouse, work, root / "reference.duckdb")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        mart = conn.sql("select * from mart.patient_outcomes").df()
    out["cox"] = reference_cox.time_cox(mart)
    save()
    if full.exit:
        out["skipped"] = f"full refresh failed (exit {full.exit}): no-change and incremental"
        return save()
    nothing = [measure.run(refresh, env, ROOT) for _ in range(3)]
    out["no_change_refresh"] = {
        "seconds_median": round(statistics.median(m.seconds for m in nothing), 2),
        "seconds": [round(m.seconds, 2) for m in nothing],
        "exits": [m.exit for m in nothing],
        "peak_rss_mb": round(max(m.peak_rss_mb for m in nothing)),
    }
    out["no_change_sensor_tick_seconds"] = sensor_tick_seconds(env)
    save()
    redeliver(root / "landing", REDELIVERING_CENTRE, "2023-03-15")
    one = measure.run(refresh, env, ROOT)
    out["one_centre_refresh"] = {**one.summary(), "stages": one.stages()}
    out["one_centre_refresh"]["over_full"] = round(one.seconds / full.seconds, 2)
    out["load_after"] = os.getloadavg()
    save()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="demo,10k,100k", help="comma-separated: demo,10k,100k")
    parser.add_argument("--json", type=Path, default=HERE / "results.json")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folders")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the sizes of an existing --json file that this run does not measure",
    )
    args = parser.parse_args()
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = sorted(set(sizes) - set(SIZES))
    if unknown:
        parser.error(f"unknown sizes {', '.join(unknown)}: choose from {', '.join(SIZES)}")
    results: dict = {}
    if args.merge and args.json.exists():
        results = json.loads(args.json.read_text(encoding="utf-8"))
    results["machine"] = bench_report.machine()

    def save() -> None:
        results["targets"] = bench_report.targets(results)
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    for size in sizes:
        root = Path(tempfile.mkdtemp(prefix=f"cartwh-bench-{size}-"))
        print(f"{size}: {root}", flush=True)
        results[size] = {"date": datetime.now(UTC).isoformat(timespec="seconds")}
        try:
            bench_size(size, root, results[size], save)
        finally:
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)
    print(bench_report.table(results))
    print()
    print(bench_report.target_lines(results["targets"]))
    print(f"written {args.json}")


if __name__ == "__main__":
    main()
