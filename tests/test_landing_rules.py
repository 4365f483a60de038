"""Landing-folder rules through real refreshes: nothing is skipped without saying so.

One small landing area with every kind of problem: an upper-case centre folder, an unknown
centre, a delivery folder named ``latest``, and a newest delivery that is rejected. The
refresh completes, loads the good deliveries of both registered centres, records every other
folder in the ledger as ``skipped`` with the fix, and exits with the "completed with data
warnings" status; accepted explicitly (or fixed), it exits 0.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cartwh.cli import EXIT_DATA_WARNINGS

PATIENTS_BY_CENTRE = "select centre_code, count(*) from mart.patient_outcomes group by 1 order by 1"


def _refresh(env: dict, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "refresh", "--log-level", "ERROR", *flags],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _query(env: dict, sql: str) -> list[tuple]:
    with duckdb.connect(env["CARTWH_WAREHOUSE"], read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def world(demo, tmp_path_factory):
    """The demo's deliveries plus every kind of folder that must not be loaded."""
    root = tmp_path_factory.mktemp("landing_rules")
    landing = root / "landing"
    shutil.copytree(demo.landing, landing)
    current = landing / "xz" / "2023-03-01"
    shutil.copytree(current, landing / "xz" / "latest")  # would outrank dated ids as text
    newest = landing / "xz" / "2023-09-01"
    shutil.copytree(current, newest)
    manifest = json.loads((newest / "manifest.json").read_text())
    manifest["delivery_id"] = "2023-09-01"
    manifest["files"]["patients.csv"] = "0" * 64
    (newest / "manifest.json").write_text(json.dumps(manifest))
    shutil.copytree(current, landing / "XZ" / "2023-03-01")
    shutil.copytree(current, landing / "fx" / "2023-03-01")
    env = {
        **os.environ,
        **demo.env(),
        "CARTWH_DATA": str(root),
        "CARTWH_LANDING": str(landing),
        "CARTWH_WAREHOUSE": str(root / "w.duckdb"),
        "CARTWH_OUTPUT": str(root / "output"),
        "DAGSTER_HOME": str(root / "dagster_home"),
    }
    first = _refresh(env)
    patients_first = _query(env, PATIENTS_BY_CENTRE)
    skipped_first = _query(
        env,
        "select centre_code, delivery_id, message from raw.deliveries "
        "where status = 'skipped' order by 1, 2",
    )
    for folder in (landing / "XZ", landing / "fx", landing / "xz" / "latest"):
        shutil.rmtree(folder)
    second = _refresh(env, "--accept-data-warnings")
    return env, first, patients_first, skipped_first, second


def test_the_refresh_completes_with_data_warnings_that_name_each_folder(world):
    _, first, _, _, _ = world
    assert first.returncode == EXIT_DATA_WARNINGS, first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    assert "completed with data warnings (4)" in first.stderr
    out = first.stdout
    assert "- skipped XZ: centre codes are lower-case: rename XZ to xz; not loaded" in out
    assert "- skipped fx: unknown centre fx: add it to the registry (" in out
    assert "- skipped xz/latest: 'latest' is not a delivery id" in out
    assert "- xz: newest delivery 2023-09-01 was rejected (" in out
    assert "manifest checksum" in out and "); using 2023-03-01" in out
    assert "\ncohort:\n93 patients from 4 centres\n" in out
    assert "xz: 40 patients, delivery 2023-03-01, 1 skipped, 1 rejected" in out
    assert "tj: 22 patients, delivery 2023-03-01, 0 skipped, 0 rejected" in out


def test_every_skipped_folder_is_in_the_ledger_and_no_centre_lost_data(world, demo):
    env, _, patients, skipped, _ = world
    assert patients == demo.query(PATIENTS_BY_CENTRE)
    assert [(c, d) for c, d, _ in skipped] == [("XZ", ""), ("fx", ""), ("xz", "latest")]
    current = _query(env, "select centre_code, delivery_id from raw.current_deliveries")
    assert sorted(current) == sorted(demo.query("select * from raw.current_deliveries"))


def test_accepted_warnings_exit_0_and_the_ledger_follows_the_landing_area(world):
    env, _, patients, _, second = world
    assert second.returncode == 0, second.stderr[-3000:]
    assert "- xz: newest delivery 2023-09-01 was rejected" in second.stdout
    assert _query(env, "select count(*) from raw.deliveries where status = 'skipped'") == [(0,)]
    assert _query(env, PATIENTS_BY_CENTRE) == patients
    html = Path(env["CARTWH_OUTPUT"], "report.html").read_text(encoding="utf-8")
    assert "Data received" in html
    assert "xz: 40 patients, delivery 2023-03-01, 0 skipped, 1 rejected" in html
