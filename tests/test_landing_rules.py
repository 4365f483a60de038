"""Landing-folder rules through real refreshes: nothing is skipped without saying so, and a
bad delivery never replaces a good one.

One landing area (the demo's) with every kind of problem: an upper-case centre folder, an
unknown centre, a delivery folder named ``latest``, a newest delivery that is rejected, and junk
for every centre (a delivery of 10,000 empty files, a delivery folder that is a link to another
directory, a misnamed patients file, a file with a wrong header, a file that is a link to a file
outside the landing area, a delivery that drops too many patients). The refresh completes, every
centre keeps the demo's patients, every other folder is in the ledger with the reason and the
fix, nothing outside the landing area is read, and it exits with the "completed with data
warnings" status; accepted explicitly (or fixed), it exits 0.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cartwh.cli import EXIT_DATA_WARNINGS
from tests.conftest import inherited_environment

PATIENTS_BY_CENTRE = "select centre_code, count(*) from mart.patient_outcomes group by 1 order by 1"
MARKER = "OUTSIDE-THE-LANDING-AREA-7f3c9"
HELD_DROPPED = 3  # of zj's patients, in its delivery 2023-06-01


def _add_junk(landing: Path, outside: Path) -> None:
    """A bad delivery for every centre, each newer than the centre's current one."""
    junk = landing / "zz" / "2023-09-01"
    junk.mkdir()
    for number in range(10_000):
        (junk / f"junk_{number:05d}.csv").touch()
    outside.mkdir()
    shutil.copytree(landing / "tj" / "2023-03-01", outside / "tj_copy")
    (landing / "tj" / "2023-09-01").symlink_to(outside / "tj_copy", target_is_directory=True)
    renamed = landing / "zj" / "2023-09-01"
    shutil.copytree(landing / "zj" / "2023-03-01", renamed)
    (renamed / "manifest.json").unlink()
    (renamed / "ZJ_PATIENTS.csv").rename(renamed / "ZJ_PATIENT.csv")
    held = landing / "zj" / "2023-06-01"
    shutil.copytree(landing / "zj" / "2023-03-01", held)
    (held / "manifest.json").unlink()
    lines = (held / "ZJ_PATIENTS.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (held / "ZJ_PATIENTS.csv").write_text("".join(lines[:-HELD_DROPPED]), encoding="utf-8")
    wrong_header = landing / "xz" / "2023-06-01"
    shutil.copytree(landing / "xz" / "2023-03-01", wrong_header)
    (wrong_header / "manifest.json").unlink()
    labs = (wrong_header / "labs.csv").read_text(encoding="utf-8").split("\n", 1)[1]
    (wrong_header / "labs.csv").write_text("id,date,test,result,units\n" + labs, encoding="utf-8")
    linked = landing / "xz" / "2023-07-01"
    shutil.copytree(landing / "xz" / "2023-03-01", linked)
    (linked / "manifest.json").unlink()
    (linked / "patients.csv").unlink()
    (outside / "secret.csv").write_text(f"centre_patient_id\n{MARKER}\n", encoding="utf-8")
    (linked / "patients.csv").symlink_to(outside / "secret.csv")


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
    _add_junk(landing, root / "outside")
    env = {
        **inherited_environment(),
        **demo.env(),
        "CARTWH_DATA": str(root),
        "CARTWH_LANDING": str(landing),
        "CARTWH_WAREHOUSE": str(root / "w.duckdb"),
        "CARTWH_OUTPUT": str(root / "output"),
    }
    first = _refresh(env)
    patients_first = _query(env, PATIENTS_BY_CENTRE)
    skipped_first = _query(
        env,
        "select centre_code, delivery_id, message from raw.deliveries "
        "where status = 'skipped' and source_file = '' order by 1, 2",
    )
    for folder in (landing / "XZ", landing / "fx", landing / "xz" / "latest"):
        shutil.rmtree(folder)
    (landing / "tj" / "2023-09-01").unlink()
    second = _refresh(env, "--accept-data-warnings")
    return env, first, patients_first, skipped_first, second


def test_the_refresh_completes_with_data_warnings_that_name_each_folder(world):
    _, first, _, _, _ = world
    assert first.returncode == EXIT_DATA_WARNINGS, first.stderr[-3000:]
    assert "Traceback" not in first.stderr
    assert "completed with data warnings (8)" in first.stderr
    out = first.stdout
    assert "- skipped XZ: centre codes are lower-case: rename XZ to xz; not loaded" in out
    assert "- skipped fx: unknown centre fx: add it to the registry (" in out
    assert "- skipped xz/latest: 'latest' is not a delivery id" in out
    assert "- xz: newest delivery 2023-09-01 was rejected (" in out
    assert "manifest checksum" in out and "); using 2023-03-01" in out
    assert "\ncohort:\n93 patients from 4 centres\n" in out
    assert "xz: 40 patients, delivery 2023-03-01, 1 skipped, 3 rejected" in out
    assert "tj: 22 patients, delivery 2023-03-01, 1 skipped, 0 rejected" in out
    assert "zz: 18 patients, delivery 2023-03-01, 0 skipped, 1 rejected" in out
    assert "zj: 13 patients, delivery 2023-03-01, 0 skipped, 1 rejected" in out


def test_junk_never_becomes_current_and_every_warning_says_what_to_do(world):
    _, first, _, _, _ = world
    out = first.stdout
    assert (
        "- zz: newest delivery 2023-09-01 was rejected (delivery zz/2023-09-01: no file "
        "matching 'huanzhe.csv' (found: junk_00000.csv, junk_00001.csv, " in out
    )
    assert "and 9988 more): patients is required in every delivery; send it under that name)" in out
    assert (
        "- skipped tj/2023-09-01: symbolic link, not followed: copy the files into the folder"
        in out
    )
    assert (
        "- zj: newest delivery 2023-09-01 was rejected (delivery zj/2023-09-01: no file "
        "matching 'ZJ_PATIENTS.csv' (found: ZJ_FOLLOWUP.csv, ZJ_INFUSIONS.csv, " in out
    )
    assert "- zj: delivery zj/2023-06-01 is held: it drops 3 of the 13 patients" in out
    assert (
        "`cartwh deliveries accept zj 2023-06-01`, else `cartwh deliveries withdraw zj "
        "2023-06-01`" in out
    )
    assert "; using 2023-03-01 meanwhile" in out


def test_the_ledger_says_why_each_bad_delivery_was_kept_out(world):
    env, _, _, _, _ = world
    statuses = dict(
        _query(
            env,
            "select centre_code || '/' || delivery_id, "
            "case when bool_or(status = 'rejected') then 'rejected' "
            "when bool_or(status = 'held') then 'held' "
            "when bool_or(status = 'skipped') then 'skipped' else 'loaded' end "
            "from raw.deliveries where delivery_id >= '2023-06-01' group by 1",
        )
    )
    assert statuses == {
        "xz/2023-06-01": "rejected",
        "xz/2023-07-01": "rejected",
        "xz/2023-09-01": "rejected",
        "zz/2023-09-01": "rejected",
        "zj/2023-06-01": "held",
        "zj/2023-09-01": "rejected",
    }  # tj/2023-09-01 (the link) was skipped, and the row went when the link was removed
    [(wrong_header,)] = _query(
        env,
        "select distinct message from raw.deliveries where delivery_id = '2023-06-01' "
        "and centre_code = 'xz'",
    )
    assert wrong_header == (
        "delivery xz/2023-06-01: file labs.csv: the header lacks the required columns "
        "centre_patient_id, sample_date, analyte, value, unit (found: id, date, test, result, "
        "units), a broken export: send the file again with these columns"
    )
    assert _query(
        env,
        "select source_file, message from raw.deliveries "
        "where delivery_id = '2023-07-01' and status = 'skipped'",
    ) == [("patients.csv", "symbolic link, not followed: copy the files into the folder")]
    [(dropped,)] = _query(
        env,
        "select count(*) from raw.delivery_patient_changes "
        "where centre_code = 'zj' and delivery_id = '2023-06-01' and change = 'dropped'",
    )
    assert dropped == HELD_DROPPED


def test_nothing_outside_the_landing_area_reaches_the_warehouse(world):
    env, _, _, _, _ = world
    tables = _query(
        env, "select table_name from information_schema.tables where table_schema = 'raw'"
    )
    with duckdb.connect(env["CARTWH_WAREHOUSE"], read_only=True) as conn:
        for (table,) in tables:
            text = str(conn.execute(f'select * from raw."{table}"').fetchall())
            assert MARKER not in text and "secret.csv" not in text and "outside" not in text
    rows = _query(env, "select * from raw.deliveries where delivery_id = '2023-09-01'")
    assert not [r for r in rows if r[0] == "tj" and (r[2] or r[4] or r[5])]


def test_the_held_delivery_leaves_the_mart_as_it_was(world, demo):
    env, _, patients, _, _ = world
    ids = _query(
        env,
        "select c.centre_patient_id from mart.patient_outcomes o "
        "join restricted.patient_crosswalk c using (patient_key) where c.centre_code = 'zj'",
    )
    with open(
        Path(env["CARTWH_LANDING"]) / "zj" / "2023-03-01" / "ZJ_PATIENTS.csv", encoding="utf-8"
    ) as handle:
        delivered = {row["PID"] for row in csv.DictReader(handle)}
    assert {i for (i,) in ids} == delivered


def test_every_skipped_folder_is_in_the_ledger_and_no_centre_lost_data(world, demo):
    env, _, patients, skipped, _ = world
    assert patients == demo.query(PATIENTS_BY_CENTRE)
    assert [(c, d) for c, d, _ in skipped] == [
        ("XZ", ""),
        ("fx", ""),
        ("tj", "2023-09-01"),
        ("xz", "latest"),
    ]
    current = _query(env, "select centre_code, delivery_id from raw.current_deliveries")
    assert sorted(current) == sorted(demo.query("select * from raw.current_deliveries"))


def test_accepted_warnings_exit_0_and_the_ledger_follows_the_landing_area(world):
    env, _, patients, _, second = world
    assert second.returncode == 0, second.stderr[-3000:]
    assert "- xz: newest delivery 2023-09-01 was rejected" in second.stdout
    assert _query(
        env, "select count(*) from raw.deliveries where status = 'skipped' and source_file = ''"
    ) == [(0,)]
    assert _query(env, PATIENTS_BY_CENTRE) == patients
    html = Path(env["CARTWH_OUTPUT"], "report.html").read_text(encoding="utf-8")
    assert "Data received" in html
    assert "xz: 40 patients, delivery 2023-03-01, 0 skipped, 3 rejected" in html


def test_deliveries_list_shows_the_held_delivery_beside_the_current_one(world):
    env, _, _, _, _ = world
    listed = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "deliveries", "list", "--centre", "zj"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0] == "zj:"
    assert any(line.startswith("  * 2023-03-01  loaded") for line in lines)
    assert any(
        line.startswith("    2023-06-01  held") and "(+0 -3 vs 2023-03-01)" in line
        for line in lines
    )
    assert any(line.startswith("    2023-09-01  rejected") for line in lines)
