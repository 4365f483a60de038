"""The command line's output: refresh stages, the run's log file, exit codes, --version and
--format json (on the session's demo warehouse, read only)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

from analysis_assets.study import ANALYSES
from cartwh import __version__
from cartwh.console import StageWriter, use_colour
from cartwh.exitcodes import ExitCode
from cartwh.project import PROJECT_ROOT
from cartwh.runlog import prune_logs
from cartwh.warehouse import write_lock
from tests.conftest import run_cartwh

ANSI = re.compile(r"\x1b\[")

ANALYSIS_TABLES = [table for analysis in ANALYSES.values() for table in analysis.tables]


def _log_path(stdout: str) -> Path:
    return Path(re.search(r"full log: (\S+\.log)", stdout).group(1))


def test_the_demo_refresh_prints_one_line_per_stage(demo):
    out, err = demo.refresh_stdout, demo.refresh_stderr
    lines = out.splitlines()
    assert len(lines) < 40, out
    assert lines[0].startswith(f"refresh of {demo.warehouse}; full log: ")
    assert not ANSI.search(out + err) and "\r" not in out  # not a terminal
    assert lines[1] == "full refresh (no published refresh of this landing state yet)"
    stages = [line.split()[0:2] for line in lines[2:13]]
    assert stages == [
        ["landing", "0"],
        ["load", "tj"],
        ["load", "xz"],
        ["load", "zj"],
        ["load", "zz"],
        ["dbt", "build"],
        ["quality", "7"],
        ["analysis", str(len(ANALYSIS_TABLES))],
        ["report", "written"],
        ["published", str(len(ANALYSIS_TABLES) + 1)],  # and the provenance
        ["quality", "warnings:"],
    ]
    assert re.search(r"^load xz +current delivery 2023-03-01, 2 new deliveries loaded, ", out, re.M)
    dbt = next(line for line in lines if line.startswith("dbt build"))
    done, total, tables = re.search(r"(\d+) of (\d+) nodes.* rows in (\d+) tables", dbt).groups()
    assert done == total and int(total) > 400 and int(tables) > 40  # dbt nodes, tables
    assert re.search(r"\(\d+\.\d s\)$", dbt)
    assert "\ncohort:\n93 patients from 4 centres\n" in out
    assert "refresh done in " in out and f"report:    {demo.output / 'report.html'}" in out
    assert err == ""


def test_the_full_log_is_in_the_run_s_file_without_colour_codes(demo):
    log = _log_path(demo.refresh_stdout)
    assert log.parent == demo.settings().work / "logs" and log.is_file()
    text = log.read_text(encoding="utf-8")
    assert not ANSI.search(text)
    assert "Running dbt command:" in text and "--no-use-colors" in text  # dagster-dbt's log
    assert re.search(r"^\d+ of \d+ PASS not_null_", text, re.M)  # dbt's own lines
    assert re.search(r"^\S+ \S+ INFO refresh_all - .* - raw_xz - xz/2023-03-01: loaded", text, re.M)


def test_old_logs_are_pruned(tmp_path):
    for n in range(7):
        path = tmp_path / f"refresh-2026010{n}T000000Z.log"
        path.write_text("x")
        os.utime(path, (1_700_000_000 + n, 1_700_000_000 + n))
    (tmp_path / "other.log").write_text("kept")
    removed = prune_logs(tmp_path, keep=3)
    assert len(removed) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "other.log",
        "refresh-20260104T000000Z.log",
        "refresh-20260105T000000Z.log",
        "refresh-20260106T000000Z.log",
    ]


def test_colour_and_the_progress_bar_only_on_a_terminal(monkeypatch):
    controller, tty = os.openpty()
    terminal = os.fdopen(tty, "w", encoding="utf-8")
    try:
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.setenv("TERM", "xterm")
        assert use_colour(terminal)
        monkeypatch.setenv("NO_COLOR", "1")
        assert not use_colour(terminal)
        writer = StageWriter(terminal)
        writer.status("dbt build", 5, 10)
        writer.line("dbt build", "10 of 10 nodes", 1.25)
        terminal.flush()
        shown = ""
        while not shown.endswith("\n"):  # the pty hands the writes over in pieces
            shown += os.read(controller, 4096).decode()
        assert "[############............] 5 of 10" in shown
        assert shown.endswith("\r\x1b[Kdbt build 10 of 10 nodes  (1.2 s)\r\n")
    finally:
        terminal.close()
        os.close(controller)
    piped = io.StringIO()
    assert not use_colour(piped)
    writer = StageWriter(piped)
    writer.status("dbt build", 5, 10)
    writer.line("dbt build", "10 of 10 nodes", 3.0, style="red")
    assert piped.getvalue() == "dbt build 10 of 10 nodes  (3.0 s)\n"


def test_version_and_exit_codes_in_help():
    version = run_cartwh(["--version"], {})
    assert version.returncode == 0
    assert version.stdout.splitlines()[0] == f"cartwh {__version__}"
    assert version.stdout.splitlines()[1].startswith(f"code: cartwh {__version__} (")
    helped = run_cartwh(["--help"], {})
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    for code in ExitCode:
        assert re.search(rf"^  {int(code)}  \S", helped.stdout, re.M), helped.stdout
        assert re.search(rf"^    {int(code)}  \S", readme, re.M), f"README lacks exit {int(code)}"
    usage = run_cartwh(["refresh", "--no-such-option"], {})
    assert usage.returncode == ExitCode.USAGE


def test_sql_as_json(demo):
    result = run_cartwh(
        [
            "sql",
            "select centre_code, count(*) as patients, min(infusion_year) as first, "
            "date '2023-03-01' as cutoff, avg(null::double) as nothing "
            "from mart.patient_outcomes group by 1 order by 1",
            "--format",
            "json",
        ],
        demo.env(),
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["columns"] == ["centre_code", "patients", "first", "cutoff", "nothing"]
    assert document["row_count"] == 4
    assert sum(row["patients"] for row in document["rows"]) == 93
    first = document["rows"][0]
    assert isinstance(first["first"], int) and 2016 <= first["first"] <= 2022
    assert first["cutoff"].startswith("2023-03-01") and first["nothing"] is None
    failed = run_cartwh(["sql", "select * from no_such_table", "--format", "json"], demo.env())
    assert failed.returncode == ExitCode.FAILED and failed.stdout == ""
    assert len(failed.stderr.strip().splitlines()) == 1


def test_quality_as_json(demo):
    result = run_cartwh(["quality", "--format", "json"], demo.env())
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted(row["centre_code"] for row in document["centres"]) == ["tj", "xz", "zj", "zz"]
    assert document["blocking_failed"] == 0
    assert sum(row["blocking_failed"] for row in document["centres"]) == 0
    assert document["failed_checks"] and all(
        check["severity"] == "warn" for check in document["failed_checks"]
    )


def test_mapping_check_as_json(demo):
    delivery = demo.landing / "zz" / "2023-03-01"
    result = run_cartwh(
        ["mapping", "check", "mappings/zz.yml", "--delivery", str(delivery), "--format", "json"],
        demo.env(),
    )
    document = json.loads(result.stdout)
    assert document["centre"] == "zz"
    errors = [f for f in document["findings"] if f["severity"] == "error"]
    assert document["problems"] == len(errors)
    assert result.returncode == (ExitCode.FAILED if errors else ExitCode.OK)
    assert {"entity", "kind", "detail"} <= set(document["findings"][0])


def test_a_busy_warehouse_exits_4(tmp_path):
    database = tmp_path / "w.duckdb"
    database.write_bytes(b"")  # never opened: the lock alone keeps readers out
    env = {"CARTWH_WAREHOUSE": str(database), "CARTWH_DATA": str(tmp_path)}
    with write_lock(database):
        readers = (
            ["sql", "--warehouse", "select 1"],
            ["quality"],
            ["deliveries", "list"],
            ["history"],
            ["publish"],
            ["report", "--external"],
        )
        for command in readers:
            result = run_cartwh([*command, "--wait", "0.5"], env)
            assert result.returncode == ExitCode.BUSY, result.stderr
            assert result.stderr.splitlines()[-1].startswith("cartwh: the warehouse ")


def test_an_unexpected_error_is_one_line_and_its_trace_is_in_the_log(demo, tmp_path):
    not_a_folder = tmp_path / "dagster-home"
    not_a_folder.write_text("a file where the Dagster home should be")
    env = {
        **demo.env(),
        "CARTWH_WAREHOUSE": str(tmp_path / "w.duckdb"),
        "CARTWH_OUTPUT": str(tmp_path / "output"),
        "CARTWH_DAGSTER_HOME": str(not_a_folder),
    }
    result = run_cartwh(["refresh", "--quiet"], env)
    assert result.returncode == ExitCode.FAILED
    assert result.stdout == ""  # --quiet: errors only
    [line] = result.stderr.splitlines()
    assert line.startswith("cartwh: the refresh failed unexpectedly (FileExistsError: ")
    log = Path(line.split("the stack trace is in ")[1])
    assert log.parent == tmp_path / "w_work" / "logs"
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")
