"""Refresh times of the demo: whole, with nothing new, after one centre redelivers; a sensor look.

    .venv/bin/python benchmarks/bench_refresh.py [--json FILE]

Generates the demo consortium into a temporary folder and measures, through the CLI as a user
runs it: a whole refresh; `cartwh refresh` with nothing new (three times; target under 5 s, and
the lines it prints); a look of the landing sensor with nothing new (in-process, definitions
already loaded); and the refresh after centre xz sends a new delivery (only xz is reloaded and
re-staged), as a ratio to the whole one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "cartwh.cli"]


def timed(command: list[str], env: dict) -> dict:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "exit": done.returncode,
        "lines": len(done.stdout.splitlines()) + len(done.stderr.splitlines()),
        "first_lines": done.stdout.splitlines()[:3],
    }


def redeliver(landing: Path, centre: str, delivery: str) -> None:
    """A new delivery of ``centre``: its newest one with a last-contact row added."""
    newest = sorted((landing / centre).iterdir())[-1]
    shutil.copytree(newest, landing / centre / delivery)
    folder = landing / centre / delivery
    events = (folder / "follow_up_events.csv").read_text(encoding="utf-8").splitlines()
    patient = events[1].split(",")[0]
    events.append(f"{patient},2023-02-28,last_contact,,,")
    (folder / "follow_up_events.csv").write_text("\n".join(events) + "\n", encoding="utf-8")
    manifest = folder / "manifest.json"
    if manifest.exists():
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["delivery_id"] = delivery
        data["files"] = {
            name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in data["files"]
        }
        manifest.write_text(json.dumps(data), encoding="utf-8")


def sensor_look_seconds(env: dict) -> float:
    """Seconds of one look of the sensor with nothing new (after a first look)."""
    os.environ.update(env)
    from dagster import build_sensor_context

    from cartwh.settings import read_settings
    from orchestration.definitions import build_definitions
    from orchestration.refresh import dagster_instance

    settings = read_settings(env)
    definitions = build_definitions(settings)
    sensor = definitions.get_sensor_def("new_deliveries")
    with dagster_instance(settings) as instance:
        first = sensor.evaluate_tick(
            build_sensor_context(instance=instance, definitions=definitions)
        )
        started = time.perf_counter()
        second = sensor.evaluate_tick(
            build_sensor_context(instance=instance, cursor=first.cursor, definitions=definitions)
        )
        seconds = time.perf_counter() - started
    assert not second.run_requests, second
    return round(seconds, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="cartwh-bench-refresh-"))
    env = {
        **os.environ,
        "CARTWH_DATA": str(root),
        "CARTWH_SECRET": "bench-secret-0123456789abcdef0123456789",
    }
    refresh = [*CLI, "refresh", "--accept-data-warnings"]
    results: dict = {}
    try:
        subprocess.run([*CLI, "generate"], env=env, check=True, capture_output=True, cwd=ROOT)
        results["whole"] = timed(refresh, env)
        nothing = [timed(refresh, env) for _ in range(3)]
        results["nothing_new"] = {
            "seconds_median": statistics.median(r["seconds"] for r in nothing),
            "lines": nothing[-1]["lines"],
            "exit": nothing[-1]["exit"],
            "first_lines": nothing[-1]["first_lines"],
        }
        results["sensor_look_nothing_new_seconds"] = sensor_look_seconds(env)
        redeliver(root / "landing", "xz", "2023-03-15")
        results["one_centre_redelivered"] = timed(refresh, env)
        results["one_centre_over_whole"] = round(
            results["one_centre_redelivered"]["seconds"] / results["whole"]["seconds"], 2
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'measure':<38}{'seconds':>9}{'lines':>7}{'exit':>6}")
    for name in ("whole", "one_centre_redelivered"):
        r = results[name]
        print(f"{name:<38}{r['seconds']:>9}{r['lines']:>7}{r['exit']:>6}")
    n = results["nothing_new"]
    print(f"{'nothing_new (median of 3, target < 5)':<38}{n['seconds_median']:>9}{n['lines']:>7}")
    print(f"{'sensor look, nothing new':<38}{results['sensor_look_nothing_new_seconds']:>9}")
    print(f"one centre redelivered / whole: {results['one_centre_over_whole']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
