"""The targets of issue 13 against the measured figures, the machine, and the printed table
of :mod:`bench_scale`."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata


def machine() -> dict:
    """Cores, memory, versions: what the figures were measured on."""
    memory_kib = next(
        int(line.split()[1])
        for line in open("/proc/meminfo", encoding="utf-8")
        if line.startswith("MemTotal:")
    )
    versions = {}
    for package in ("duckdb", "dbt-core", "dbt-duckdb", "dagster", "pandas", "lifelines"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    try:
        r_version = subprocess.run(
            ["Rscript", "-e", "cat(R.version.string)"], capture_output=True, text=True
        ).stdout
    except FileNotFoundError:
        r_version = None
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kib / 2**20, 1),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        **versions,
        "R": r_version,
    }


def _get(results: dict, size: str, *path):
    value = results.get(size)
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def targets(results: dict) -> list[dict]:
    """Each target of the issue with the figure measured for it (None when not measured)."""
    rows = [
        ("demo full refresh, s", "demo", ("full_refresh", "seconds"), "<", 20),
        ("100k full refresh, s", "100k", ("full_refresh", "seconds"), "<", 180),
        ("100k full refresh peak memory, MB", "100k", ("full_refresh", "peak_rss_mb"), "<", 4096),
        ("grading model / bare SQL (100k)", "100k", ("grading", "model_over_bare_sql"), "<=", 2),
        ("one-centre refresh / full (100k)", "100k", ("one_centre_refresh", "over_full"), "<", 0.3),
        *(
            (
                f"no-change refresh, s ({size})",
                size,
                ("no_change_refresh", "seconds_median"),
                "<",
                5,
            )
            for size in ("demo", "10k", "100k")
            if _get(results, size, "no_change_refresh", "seconds_median") is not None
        ),
        ("Cox ours / R coxph (100k)", "100k", ("cox", "ours_over_r"), "<=", 1),
    ]
    out = []
    for name, size, path, op, limit in rows:
        value = _get(results, size, *path)
        met = None if value is None else (value < limit if op == "<" else value <= limit)
        if value is None and size == "100k" and "10k" in results:
            # not measured at 100k: show the 10k figure, without a verdict on the target
            value, size = _get(results, "10k", *path), "10k"
        out.append({"target": f"{name} {op} {limit}", "size": size, "measured": value, "met": met})
    return out


def table(results: dict) -> str:
    """The short table: one column per size."""
    sizes = [s for s in ("demo", "10k", "100k") if s in results]
    rows = [
        ("generate s / MB", ("generate", "seconds"), ("generate", "peak_rss_mb")),
        ("full refresh s / MB", ("full_refresh", "seconds"), ("full_refresh", "peak_rss_mb")),
        ("  exit", ("full_refresh", "exit"), None),
    ]
    for stage in ("startup", "raw_load", "dbt_build", "checks", "analyses", "report", "publish"):
        rows.append((f"  {stage} s", ("full_refresh", "stages", stage), None))
    rows += [
        ("grading rows", ("grading", "rows"), None),
        ("grading rows/s", ("grading", "rows_per_second"), None),
        ("grading model s", ("grading", "model_seconds"), None),
        ("  / pandas", ("grading", "model_over_pandas"), None),
        ("  / bare SQL", ("grading", "model_over_bare_sql"), None),
        ("Cox ours s", ("cox", "ours_seconds"), None),
        ("  / R coxph", ("cox", "ours_over_r"), None),
        ("  / lifelines", ("cox", "ours_over_lifelines"), None),
        ("one-centre refresh s", ("one_centre_refresh", "seconds"), None),
        ("  / full", ("one_centre_refresh", "over_full"), None),
        ("no-change refresh s", ("no_change_refresh", "seconds_median"), None),
        ("no-change sensor tick s", ("no_change_sensor_tick_seconds",), None),
    ]
    lines = [f"{'':<26}" + "".join(f"{s:>16}" for s in sizes)]
    for label, path, second in rows:
        cells = []
        for size in sizes:
            value = _get(results, size, *path)
            if second is not None and value is not None:
                value = f"{value} / {_get(results, size, *second)}"
            text = "-" if value is None else str(value)
            cells.append(f"{text:>16}")
        lines.append(f"{label:<26}" + "".join(cells))
    return "\n".join(lines)


def target_lines(rows: list[dict]) -> str:
    verdict = {True: "met", False: "NOT MET", None: "not judged"}
    return "\n".join(
        f"{r['target']:<48}{r['size']:>6}{str(r['measured']):>10}  {verdict[r['met']]}"
        for r in rows
    )
