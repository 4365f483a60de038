"""Readers and writers, all-or-nothing outputs, bounded disk.

Unit level: the lock between processes, the wait for programs that do not take it, `cartwh sql`
during a refresh, pruning. Refresh level: one small warehouse (one canonical centre, 20
patients, CARTWH_KEEP_RUNS=2) refreshed four times in one module fixture: with a foreign reader
at the start of dbt, killed during the analysis, failing a blocking check, and good again.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import duckdb
import pytest

from cartwh.exitcodes import ExitCode
from cartwh.housekeeping import prune_dbt_targets
from cartwh.project import DBT_PROJECT_DIR
from cartwh.publish import mark_report, report_notice
from cartwh.warehouse import (
    REFRESHING,
    WarehouseBusy,
    connect_for_writing,
    read_connection,
    write_lock,
)
from tests.conftest import TEST_SECRET, table_digest

HOLDER = """
import sys, time
from pathlib import Path
import duckdb
from cartwh.warehouse import read_connection, write_lock
kind, database, seconds = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
if kind == "foreign":
    conn = duckdb.connect(str(database), read_only=True)
    print("held", flush=True); time.sleep(seconds); conn.close()
elif kind == "reader":
    with read_connection(database) as conn:
        print("held", flush=True); time.sleep(seconds)
else:
    with write_lock(database):
        print("held", flush=True); time.sleep(seconds)
"""


def _hold(kind: str, database: Path, seconds: float) -> subprocess.Popen:
    """Another process holding ``database`` (``foreign``: plain DuckDB, ``reader``: cartwh's
    shared lock, ``writer``: cartwh's exclusive lock) for ``seconds``, once it says so."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, kind, str(database), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.fixture
def database(tmp_path) -> Path:
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create table t as select 42 as answer")
    return path


def test_a_writer_waits_for_cartwh_readers_and_says_why(database):
    reader = _hold("reader", database, 2.0)
    with read_connection(database, timeout_s=1) as conn:  # readers share
        assert conn.execute("select answer from t").fetchall() == [(42,)]
    messages = []
    started = time.monotonic()
    with write_lock(database, timeout_s=30, log=messages.append):
        waited = time.monotonic() - started
    reader.wait(timeout=10)
    assert waited > 1.0
    assert messages[0].startswith(f"waiting for the lock on {database}: another refresh")


def test_within_a_process_the_lock_is_joined_and_other_processes_wait(database):
    with write_lock(database):
        with read_connection(database, timeout_s=0.5) as conn, write_lock(database, 0.5):
            assert conn.execute("select answer from t").fetchall() == [(42,)]
        outsider = subprocess.run(
            [
                sys.executable,
                "-c",
                HOLDER.replace("with write_lock(database)", "with write_lock(database, 0.5)"),
                "writer",
                str(database),
                "0",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert outsider.returncode == 1
    assert f"WarehouseBusy: another process has been using {database}" in outsider.stderr


def test_a_writer_waits_for_a_foreign_reader_then_gives_up_in_one_line(database):
    reader = _hold("foreign", database, 3.0)
    with pytest.raises(WarehouseBusy) as busy:
        connect_for_writing(database, timeout_s=0.5)
    assert str(busy.value) == (
        f"another program has kept {database} open for 0 s (a DuckDB session?): "
        "close it and refresh again"
    )
    messages = []
    started = time.monotonic()
    conn = connect_for_writing(database, timeout_s=30, log=messages.append)
    waited = time.monotonic() - started
    conn.execute("insert into t values (43)")
    conn.close()
    reader.wait(timeout=10)
    assert waited > 1.0
    assert messages[0] == f"waiting for readers of {database} to close (0 s)"


def _cartwh(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cartwh.cli", *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=300,
        **kwargs,
    )


def test_cartwh_sql_during_a_refresh_waits_then_answers_or_times_out(database, tmp_path):
    env = {"CARTWH_WAREHOUSE": str(database), "CARTWH_DATA": str(tmp_path)}
    writer = _hold("writer", database, 4.0)
    started = time.monotonic()
    answered = _cartwh(["sql", "--warehouse", "select answer from t", "--format", "csv"], env)
    assert time.monotonic() - started > 2.0
    assert answered.returncode == 0, answered.stderr
    assert answered.stdout.split() == ["answer", "42"]
    assert answered.stderr.strip() == REFRESHING
    writer.wait(timeout=10)

    writer = _hold("writer", database, 4.0)
    refused = _cartwh(["sql", "--warehouse", "select answer from t", "--wait", "0.5"], env)
    writer.wait(timeout=10)
    assert refused.returncode == ExitCode.BUSY
    assert "Traceback" not in refused.stderr
    assert refused.stderr.splitlines()[-1] == (
        f"cartwh: the warehouse {database} was still being refreshed after 0 s: try again "
        "later (or wait longer with --wait SECONDS)"
    )
    assert refused.stderr.splitlines()[:-1] == [REFRESHING]


def test_pruning_keeps_the_newest_dbt_invocations(tmp_path):
    target = tmp_path / "target"
    for i in range(20):
        folder = target / f"cartwh_dbt_models-{i:07x}-abcdef{i % 10}"
        folder.mkdir(parents=True)
        (folder / "run_results.json").write_text("{}")
        os.utime(folder, (1_700_000_000 + i, 1_700_000_000 + i))
    (target / "manifest.json").write_text("{}")
    (target / "compiled").mkdir()
    removed = prune_dbt_targets(target, keep=5)
    assert len(removed) == 15
    left = sorted(p.name for p in target.iterdir())
    newest = [f"cartwh_dbt_models-{i:07x}-abcdef{i % 10}" for i in range(15, 20)]
    assert left == sorted(["compiled", "manifest.json", *newest])


def test_the_report_notice_is_replaced_not_accumulated(tmp_path):
    report = tmp_path / "report.html"
    report.write_text("<html><body><h1>Results</h1></body></html>")
    mark_report(report, "The refresh of A failed at x: these results are from the refresh of B.")
    mark_report(report, "The refresh of C did not finish: these results are from B.")
    assert report_notice(report) == "The refresh of C did not finish: these results are from B."
    assert report.read_text().count("refresh-status") == 3  # one block: two markers, one class
    mark_report(report, None)
    assert report.read_text() == "<html><body><h1>Results</h1></body></html>"


# --- four refreshes of one small warehouse -------------------------------------------------


class Refreshes:
    """The warehouse of the module, and what was seen after each of its refreshes."""

    def __init__(self, root: Path):
        self.root = root
        self.landing = root / "landing"
        self.warehouse = root / "warehouse.duckdb"
        self.output = root / "output"
        self.work = root / "warehouse_work"
        self.dagster_home = self.work / "dagster"
        self.env = {
            "CARTWH_DATA": str(root),
            "CARTWH_MAPPINGS": str(root / "mappings"),
            "CARTWH_SECRET": TEST_SECRET,
            "CARTWH_KEEP_RUNS": "2",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DAGSTER_DISABLE_TELEMETRY": "true",
            "PYTHONUNBUFFERED": "1",
        }
        self.seen: dict[str, dict] = {}

    def refresh(self, on_line=None, *flags: str) -> tuple[subprocess.Popen, list[str]]:
        """Start `cartwh refresh`; ``on_line(process, line)`` hears its output as it comes."""
        process = subprocess.Popen(
            [sys.executable, "-m", "cartwh.cli", "refresh", "--accept-data-warnings", *flags],
            env={"PATH": os.environ["PATH"], **self.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []

        def read():
            for line in process.stdout:
                lines.append(line)
                if on_line:
                    on_line(process, line)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        process.reader = reader
        return process, lines

    def snapshot(self, name: str, returncode: int, lines: list[str]) -> None:
        with duckdb.connect(str(self.warehouse), read_only=True) as conn:
            analysis = table_digest(conn, "select * from analysis.cohort_flow")
            mart_patients = conn.execute("select count(*) from mart.patient_outcomes").fetchall()
        quality = _cartwh(["quality"], self.env)  # before the report: it may mark it
        report = (self.output / "report.html").read_text(encoding="utf-8")
        self.seen[name] = {
            "returncode": returncode,
            "log": "".join(lines),
            "analysis": analysis,
            "mart_patients": mart_patients[0][0],
            "report": report,
            "notice": report_notice(self.output / "report.html"),
            "quality": quality.stdout,
            "tables_csv": (self.output / "tables" / "cohort_flow.csv").read_text(),
            "disk": _size(self.work / "dbt" / "target") + _size(self.dagster_home),
            "target_runs": sorted(
                p.name for p in (self.work / "dbt" / "target").iterdir() if p.is_dir()
            ),
            "status": (self.work / "refresh-status.json").read_text(),
        }


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _run_id(report: str) -> str:
    """The run id in the report's provenance."""
    uuid = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    return re.search(rf"run id.*?({uuid})", report, flags=re.S).group(1)


@pytest.fixture(scope="module")
def refreshes(tmp_path_factory):
    from cartwh.demo import generate_consortium

    root = tmp_path_factory.mktemp("safety")
    built = Refreshes(root)
    (root / "mappings").mkdir()
    (root / "mappings" / "canonical-centres.yml").write_text("centres: [xz]\n")
    generated = root / "generated"
    generate_consortium(generated, patients=20, centres=1, deliveries=2, clean=True)
    first, second = sorted(p.name for p in (generated / "xz").iterdir())
    (built.landing / "xz").mkdir(parents=True)
    shutil.copytree(generated / "xz" / first, built.landing / "xz" / first)
    dbt_project_before = sorted(os.listdir(DBT_PROJECT_DIR))

    # 1. a foreign reader opens the warehouse when the dbt step starts (--verbose: the log,
    # which says when, streams to the terminal too)
    readers = []

    def open_reader(process, line):
        if "dbt build starts" in line and not readers:
            readers.append((_hold("foreign", built.warehouse, 3.0), process.poll() is None))

    process, lines = built.refresh(open_reader, "--verbose")
    returncode = process.wait(timeout=600)
    process.reader.join()
    for holder, _ in readers:
        holder.wait(timeout=30)
    built.seen["reader"] = {"opened_during_the_refresh": [during for _, during in readers]}
    built.snapshot("first", returncode, lines)

    # 2. a newer delivery arrives; the refresh is killed when its analysis starts
    shutil.copytree(generated / "xz" / second, built.landing / "xz" / second)
    process, lines = built.refresh()
    deadline = time.monotonic() + 600
    while not list(built.output.glob(".next-*")) and process.poll() is None:
        assert time.monotonic() < deadline, "the analysis did not start"
        time.sleep(0.05)
    assert process.poll() is None, "".join(lines)[-3000:]
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=60)
    built.snapshot("killed", -9, lines)

    # 3. a delivery without infusions: a blocking check fails, the analysis does not run
    broken = built.landing / "xz" / f"{second}b"
    shutil.copytree(generated / "xz" / second, broken)
    (broken / "manifest.json").unlink()
    infusions = broken / "infusions.csv"
    infusions.write_text(infusions.read_text().splitlines()[0] + "\n")
    process, lines = built.refresh()
    built.snapshot("failed", process.wait(timeout=600), lines)

    # 4. good again: the centre resends the delivery (loaded deliveries stay in raw, so the
    # broken one is superseded by a newer id, not by removing its folder)
    shutil.copytree(generated / "xz" / second, built.landing / "xz" / f"{second}c")
    (built.landing / "xz" / f"{second}c" / "manifest.json").unlink()
    process, lines = built.refresh()
    built.snapshot("good", process.wait(timeout=600), lines)
    built.seen["dbt_project"] = {
        "before": dbt_project_before,
        "after": sorted(os.listdir(DBT_PROJECT_DIR)),
    }
    return built


def test_a_foreign_reader_at_the_start_of_dbt_does_not_fail_the_refresh(refreshes):
    first = refreshes.seen["first"]
    assert refreshes.seen["reader"]["opened_during_the_refresh"] == [True]
    assert first["returncode"] == 0, first["log"][-3000:]
    assert "refresh done" in first["log"]
    assert first["notice"] is None


def test_a_killed_refresh_leaves_the_previous_results_marked_as_such(refreshes):
    first, killed = refreshes.seen["first"], refreshes.seen["killed"]
    assert killed["mart_patients"] > first["mart_patients"]  # the mart moved on ...
    assert killed["analysis"] == first["analysis"]  # ... the analysis did not
    assert killed["tables_csv"] == first["tables_csv"]
    assert _run_id(killed["report"]) == _run_id(first["report"])
    notice = killed["notice"]
    assert (
        notice.startswith("The refresh of ")
        and " did not finish: these results are from the refresh of " in notice
    )
    assert killed["quality"].splitlines()[0] == notice
    assert "did not finish" not in first["quality"]


def test_a_failed_refresh_keeps_and_marks_the_previous_results_until_a_good_one(refreshes):
    first, failed, good = (refreshes.seen[k] for k in ("first", "failed", "good"))
    assert failed["returncode"] == 1
    assert failed["analysis"] == first["analysis"]
    assert _run_id(failed["report"]) == _run_id(first["report"])
    assert failed["notice"].count("The refresh of ") == 1
    assert " failed at " in failed["notice"] and "did not finish" not in failed["notice"]
    assert failed["quality"].splitlines()[0] == failed["notice"]
    assert good["returncode"] == 0, good["log"][-3000:]
    assert good["notice"] is None and "refresh-status" not in good["report"]
    assert "The refresh of" not in good["quality"]
    assert good["analysis"] != first["analysis"]
    assert _run_id(good["report"]) != _run_id(first["report"])
    assert '"state": "finished"' in good["status"]


def test_disk_use_is_bounded_by_the_runs_kept(refreshes):
    good, failed = refreshes.seen["good"], refreshes.seen["failed"]
    invocations = [n for n in good["target_runs"] if n.startswith("cartwh_dbt_models-")]
    assert len(invocations) == 2
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(refreshes.dagster_home)) as instance:
        kept = {record.dagster_run.run_id for record in instance.get_run_records()}
    assert len(kept) == 2
    index = sqlite3.connect(refreshes.dagster_home / "history" / "runs" / "index.db")
    with closing(index):
        for table in ("event_logs", "asset_check_executions"):  # delete_run leaves the latter
            runs = {r for (r,) in index.execute(f"select distinct run_id from {table}")}
            assert runs <= kept, (table, runs - kept)
    per_run_files = list((refreshes.dagster_home / "history" / "runs").glob("*-*.db"))
    assert len(per_run_files) <= 2
    assert good["disk"] <= failed["disk"] * 1.05, (failed["disk"], good["disk"])
    assert refreshes.seen["dbt_project"]["after"] == refreshes.seen["dbt_project"]["before"]
