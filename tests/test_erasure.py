"""``cartwh erase``: consent withdrawn, the patient gone from every layer and every file, and
kept out of later loads. One copy of the demo: the erasure (with its rebuild) and one full
refresh with a new delivery that still holds the patient."""

from __future__ import annotations

import getpass
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from cartwh.content_hash import hashed_columns
from tests.conftest import OTHER_SECRET, TEST_SECRET, Demo, run_cartwh
from tests.content_hash import _value

#: a zj patient (wide daily observations) in both deliveries, with queries back to the centre,
#: whose name is no part of another patient's name
CENTRE, PATIENT = "zj", "ZJ0010"
ENTITIES = (
    "patients",
    "infusions",
    "daily_observations",
    "labs",
    "car_t_kinetics",
    "treatments",
    "response_assessments",
    "follow_up_events",
)
NEW_DELIVERY = "2023-03-02"


def _key(secret: str = TEST_SECRET) -> str:
    from cartwh.transform.plugin import patient_key

    return patient_key(secret, CENTRE, PATIENT)


def _raw_counts(conn) -> dict[tuple[str, str, str], int]:
    """(raw table, delivery, file) -> rows of the patient."""
    counts = {}
    for entity in ENTITIES:
        for delivery, source, rows in conn.execute(
            f"select _delivery_id, _source_file, count(*) from raw.{CENTRE}__{entity} "
            "where trim(PID) = ? group by all",
            [PATIENT],
        ).fetchall():
            counts[(f"raw.{CENTRE}__{entity}", delivery, source)] = rows
    return counts


def _others_digest(conn, key: str) -> dict[str, str]:
    """Per mart table with patient_key: a digest of every other patient's rows."""
    tables = [
        t
        for (t,) in conn.execute(
            "select table_name from information_schema.columns where table_schema = 'mart' "
            "and column_name = 'patient_key' order by 1"
        ).fetchall()
    ]
    digests = {}
    for table in tables:
        columns = ", ".join(f'"{c}"' for c, _ in hashed_columns(conn, "mart", table))
        rows = conn.execute(
            f"select {columns} from mart.{table} where patient_key <> ?", [key]
        ).fetchall()
        lines = sorted("\t".join(_value(v) for v in row) for row in rows)
        digests[table] = hashlib.sha256("\n".join(lines).encode()).hexdigest()
    return digests


def _reconciliation_failures(conn) -> int:
    """Rows of the centre that the reconciliation check could not account for."""
    return conn.execute(
        "select sum(numerator) from quality.check_results "
        "where check_name = 'reconciliation_balanced' and centre_code = ?",
        [CENTRE],
    ).fetchall()[0][0]


def _files_naming(roots: list[Path], needles: list[bytes], skip: set[Path] = frozenset()):
    found = []
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink() and path not in skip:
                data = path.read_bytes()
                found += [(str(path), n) for n in needles if n in data]
    return found


@dataclass
class Erased:
    copy: Demo
    result: object
    needles: list[bytes]
    name: str
    mrn: str
    raw_before: dict
    rows_read_before: dict
    patients_before: int
    others_before: dict
    sha256_before: str
    planted_log: Path
    names_containing: int
    in_file_before: list[bytes]
    in_queries_before: bool


@pytest.fixture(scope="module")
def erased(demo, tmp_path_factory) -> Erased:
    copy = demo.copy(tmp_path_factory.mktemp("erase"))
    with copy.connect() as conn:
        [(name, mrn)] = conn.execute(
            "select distinct trim(PT_NAME), trim(MRN) from raw.zj__patients where trim(PID) = ?",
            [PATIENT],
        ).fetchall()
        raw_before = _raw_counts(conn)
        rows_read_before = dict(
            (tuple(r[:3]), r[3])
            for r in conn.execute(
                "select delivery_id, source_file, status, rows_read from raw.deliveries "
                "where centre_code = ?",
                [CENTRE],
            ).fetchall()
        )
        patients_before = conn.execute("select count(*) from mart.patient_outcomes").fetchall()[0][
            0
        ]
        others_before = _others_digest(conn, _key())
        [(names_containing,)] = conn.execute(
            "select count(*) from (select PT_NAME n from raw.zj__patients union "
            "select Name from raw.tj__patients union select full_name from raw.xz__patients "
            'union select "姓名" from raw.zz__patients) where contains(n, ?)',
            [name],
        ).fetchall()
    settings = copy.settings()
    work = settings.work
    data = copy.warehouse.read_bytes()
    needles = [s.encode("utf-8") for s in (name, mrn, PATIENT)]
    queries = b"".join(p.read_bytes() for p in (settings.output / "queries" / CENTRE).glob("*"))
    # a log line about bad input that names the patient (the erasure must clean it)
    planted = work / "logs" / "bad-input.log"
    planted.write_text(f"row 7 of ZJ_PATIENTS.csv: {PATIENT} ({name}, MRN {mrn}) unparsable\n")
    erased = Erased(
        copy,
        None,
        needles,
        name,
        mrn,
        raw_before,
        rows_read_before,
        patients_before,
        others_before,
        hashlib.sha256(data).hexdigest(),
        planted,
        names_containing,
        [n for n in needles if n in data],
        PATIENT.encode() in queries,
    )
    erased.result = run_cartwh(["erase", "--centre", CENTRE, "--patient", PATIENT], copy.env(), 900)
    return erased


def test_the_chosen_patient_is_a_meaningful_case(erased):
    """Several deliveries and entities (the wide layout too), a name no other patient's
    contains, every identifier in the warehouse file's bytes and the patient in the centre's
    query file before the erasure."""
    assert {d for (_, d, _) in erased.raw_before} == {"2022-09-01", "2023-03-01"}
    assert len({t for (t, _, _) in erased.raw_before}) >= 6
    assert "raw.zj__daily_observations" in {t for (t, _, _) in erased.raw_before}
    assert erased.names_containing == 1
    assert erased.in_file_before == erased.needles
    assert erased.in_queries_before


def test_erase_succeeds_and_says_what_it_did(erased):
    result = erased.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "recorded in history.erasures" in result.stdout
    assert "full refresh" in result.stdout
    for needle in erased.needles:  # it never prints the patient's identifiers
        assert needle.decode() not in result.stdout + result.stderr


def test_identifiers_are_gone_from_the_warehouse_file_bytes(erased):
    data = erased.copy.warehouse.read_bytes()
    for needle in erased.needles:
        assert needle not in data, needle
    assert not erased.copy.warehouse.with_name("warehouse.duckdb.wal").exists()
    assert not list(erased.copy.root.glob("warehouse.duckdb.rewrite*"))


def test_identifiers_are_gone_from_outputs_work_folder_and_dagster_home(erased):
    settings = erased.copy.settings()
    roots = [settings.output, settings.work, settings.dagster_home]
    assert _files_naming(roots, erased.needles) == []
    assert "[erased patient]" in erased.planted_log.read_text()
    queries = sorted((settings.output / "queries" / CENTRE).glob("*.csv"))
    assert queries, "the centre's query files are re-rendered"


def test_one_patient_less_and_every_other_patient_unchanged(erased):
    with erased.copy.connect() as conn:
        patients = conn.execute("select count(*) from mart.patient_outcomes").fetchall()[0][0]
        assert patients == erased.patients_before - 1
        assert _others_digest(conn, _key()) == erased.others_before
        for schema, table in conn.execute(
            "select table_schema, table_name from information_schema.columns "
            "where column_name = 'patient_key' and table_schema <> 'history' "
            "and table_name <> 'erased_patients'"
        ).fetchall():
            assert conn.execute(
                f'select count(*) from "{schema}"."{table}" where patient_key = ?', [_key()]
            ).fetchall() == [(0,)], f"{schema}.{table}"
        assert _raw_counts(conn) == {}
        assert conn.execute(
            "select count(*) from raw.delivery_patient_changes where centre_patient_id = ?",
            [PATIENT],
        ).fetchall() == [(0,)]


def test_the_ledger_keeps_what_was_delivered_and_counts_what_was_erased(erased):
    with erased.copy.connect() as conn:
        ledger = conn.execute(
            "select delivery_id, source_file, status, rows_read, rows_erased from raw.deliveries "
            "where centre_code = ?",
            [CENTRE],
        ).fetchall()
        balanced = _reconciliation_failures(conn)
    assert {tuple(r[:3]): r[3] for r in ledger} == erased.rows_read_before
    erased_by_file = {(d, f): n for d, f, _, _, n in ledger if n}
    expected = {(d, f): n for (_, d, f), n in erased.raw_before.items()}
    assert erased_by_file == expected
    assert balanced == 0


def test_the_audit_row_names_no_one_and_records_hashes(erased):
    with erased.copy.connect() as conn:
        rows = conn.execute(
            "select erased_by, centre_code, patient_key, rows_removed, rows_total, "
            "sha256_before, sha256_after, erased_at, erasure_id from history.erasures"
        ).fetchall()
    assert len(rows) == 1
    by, centre, key, removed, total, before, after, at, _ = rows[0]
    assert (by, centre, key) == (getpass.getuser(), CENTRE, _key())
    removed = json.loads(removed)
    for (table, _, _), _rows in erased.raw_before.items():
        assert table in removed
    raw_total = sum(erased.raw_before.values())
    assert sum(n for t, n in removed.items() if t.startswith(f"raw.{CENTRE}__")) == raw_total
    assert removed["restricted.patient_crosswalk"] == 1
    assert removed["mart.patient_outcomes"] == 1
    assert total == sum(removed.values())
    assert before == erased.sha256_before and after != before and len(after) == 64
    text = repr(rows[0]).encode()
    for needle in erased.needles:
        assert needle not in text


def test_the_exclusion_list_holds_the_key_and_the_sealed_id_only(erased):
    from cartwh.erasure.exclusions import unseal

    rows = erased.copy.query(
        "select centre_code, patient_key, sealed_id from restricted.erased_patients"
    )
    assert len(rows) == 1
    centre, key, sealed = rows[0]
    assert (centre, key) == (CENTRE, _key())
    assert PATIENT not in sealed and PATIENT.encode().hex() not in sealed
    assert unseal(TEST_SECRET, sealed) == PATIENT
    assert unseal(OTHER_SECRET, sealed) is None  # another key cannot read it


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--centre", "nowhere", "--patient", PATIENT], {}, "unknown centre 'nowhere'"),
        (["--centre", CENTRE, "--patient", "ZJ9999"], {}, "has no patient ZJ9999"),
        (["--centre", CENTRE, "--patient", PATIENT], {}, "was already erased"),
        (
            ["--centre", CENTRE, "--patient", "ZJ0001"],
            {"CARTWH_SECRET": OTHER_SECRET},
            "CARTWH_SECRET is not the key",
        ),
    ],
)
def test_refusals_are_one_line_and_change_nothing(erased, args, env, says):
    before = erased.copy.warehouse.read_bytes()
    result = run_cartwh(["erase", *args], {**erased.copy.env(), **env})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cartwh: ") and says in lines[0], lines
    assert "Traceback" not in result.stderr
    assert erased.copy.warehouse.read_bytes() == before


@pytest.fixture(scope="module")
def reloaded(erased):
    """A full refresh after the erasure, with a new zj delivery that still holds the patient."""
    _new_delivery(erased.copy, NEW_DELIVERY)
    result = run_cartwh(["refresh", "--full"], erased.copy.env(), 900)
    assert result.returncode in (0, 3), result.stdout[-3000:] + result.stderr[-3000:]
    return erased


def test_a_full_refresh_with_a_new_delivery_withholds_the_patient_and_counts_it(reloaded):
    with reloaded.copy.connect() as conn:
        assert _raw_counts(conn) == {}
        assert conn.execute(
            "select count(*) from restricted.patient_crosswalk where centre_patient_id = ?",
            [PATIENT],
        ).fetchall() == [(0,)]
        patients = conn.execute("select count(*) from mart.patient_outcomes").fetchall()[0][0]
        current = conn.execute(
            "select delivery_id from raw.current_deliveries where centre_code = ?", [CENTRE]
        ).fetchall()
        withheld = dict(
            conn.execute(
                "select source_file, rows_erased from raw.deliveries where centre_code = ? "
                "and delivery_id = ? and rows_erased is not null",
                [CENTRE, NEW_DELIVERY],
            ).fetchall()
        )
        balanced = _reconciliation_failures(conn)
    assert current == [(NEW_DELIVERY,)]
    assert patients == reloaded.patients_before - 1
    assert withheld == {f: n for (_, d, f), n in reloaded.raw_before.items() if d == "2023-03-01"}
    assert balanced == 0
    data = reloaded.copy.warehouse.read_bytes()
    settings = reloaded.copy.settings()
    assert [n for n in reloaded.needles if n in data] == []
    # the landing holds the patient; nothing the warehouse wrote does
    assert _files_naming([settings.output, settings.work], reloaded.needles) == []


def _new_delivery(demo: Demo, delivery_id: str):
    """A new zj delivery with the content of 2023-03-01 (the patient included)."""
    from cartwh.ingest.discovery import discover_deliveries

    landing = demo.landing / CENTRE
    shutil.copytree(landing / "2023-03-01", landing / delivery_id)
    manifest = landing / delivery_id / "manifest.json"
    content = json.loads(manifest.read_text())
    content["delivery_id"] = delivery_id
    manifest.write_text(json.dumps(content))
    folders, _ = discover_deliveries(demo.landing, [CENTRE])
    return next(f for f in folders if f.delivery_id == delivery_id)


def test_rekey_rekeys_the_exclusion_list_so_later_loads_still_withhold(reloaded, monkeypatch):
    from cartwh.erasure.exclusions import unseal
    from cartwh.ingest.load import load_delivery
    from cartwh.ingest.mapping import mapping_for

    copy = reloaded.copy
    result = run_cartwh(["rekey"], {**copy.env(), "CARTWH_NEW_SECRET": OTHER_SECRET})
    assert result.returncode == 0, result.stderr
    [(key, sealed)] = copy.query("select patient_key, sealed_id from restricted.erased_patients")
    assert key == _key(OTHER_SECRET) and unseal(OTHER_SECRET, sealed) == PATIENT
    assert copy.query("select patient_key from history.erasures") == [(key,)]
    # a load under the new key still withholds the patient's rows at the door
    delivery = _new_delivery(copy, "2023-03-03")
    monkeypatch.setenv("CARTWH_SECRET", OTHER_SECRET)
    with duckdb.connect(str(copy.warehouse)) as conn:
        result = load_delivery(
            conn, delivery, mapping_for(CENTRE), private_tmp=copy.settings().private_tmp
        )
        assert result.status == "loaded", result.message
        assert _raw_counts(conn) == {}
        withheld = conn.execute(
            "select sum(rows_erased) from raw.deliveries where delivery_id = '2023-03-03'"
        ).fetchall()[0][0]
    assert withheld == sum(n for (_, d, _), n in reloaded.raw_before.items() if d == "2023-03-01")


def test_a_data_lock_rebuild_inherits_the_exclusion_list(tmp_path, monkeypatch):
    """A lock taken before an erasure is rebuilt without the erased patient
    (:func:`cartwh.datalock.locked_settings` carries the list into the lock's warehouse)."""
    from cartwh.erasure.exclusions import (
        EXCLUSIONS,
        carry_exclusions,
        ensure_exclusions,
        erased_row_condition,
        seal,
    )

    monkeypatch.setenv(
        "CARTWH_SECRET", TEST_SECRET
    )  # the door computes keys with the process's key
    source, target = tmp_path / "warehouse.duckdb", tmp_path / "lock" / "warehouse.duckdb"
    with duckdb.connect(str(source)) as conn:
        ensure_exclusions(conn)
        conn.execute(
            f"insert into {EXCLUSIONS} values (?, ?, ?, now())",
            [CENTRE, _key(), seal(TEST_SECRET, PATIENT)],
        )
    assert carry_exclusions(source, target) == 1
    assert carry_exclusions(source, target) == 0
    with duckdb.connect(str(target)) as conn:
        condition = erased_row_condition(conn, CENTRE, "PID")
        kept = conn.execute(
            f"select PID from (values ('{PATIENT}'), (' {PATIENT} '), ('ZJ0001'), (null)) "
            f"t(PID) where not ({condition}) order by all"
        ).fetchall()
        assert erased_row_condition(conn, "xz", "centre_patient_id") is None
    assert kept == [("ZJ0001",), (None,)]


def test_a_dagster_run_naming_the_patient_is_deleted_and_the_storage_vacuumed(erased):
    """An event log naming the patient (a check description quoting bad input) takes its run
    out of the run storage, and no SQLite file keeps the bytes in a free page."""
    import sqlite3

    from cartwh.erasure.residue import clean_residue
    from orchestration.refresh import dagster_instance

    settings = erased.copy.settings()
    with dagster_instance(settings) as instance:
        run_id = instance.get_runs(limit=1)[0].run_id  # the erasure's rebuild
    event_log = settings.dagster_home / "history" / "runs" / f"{run_id}.db"
    with sqlite3.connect(event_log) as db:
        db.execute(
            "insert into event_logs (run_id, event, timestamp) values (?, ?, current_timestamp)",
            [run_id, '{"message": "row 3: XQ9999 (Planted Name) unparsable"}'],
        )
    residue = clean_residue(settings, ["XQ9999", "Planted Name"])
    assert residue.runs_deleted == [run_id] and residue.remaining == []
    with dagster_instance(settings) as instance:
        assert not instance.has_run(run_id)
    assert not event_log.exists()
    assert _files_naming([settings.dagster_home], [b"XQ9999", b"Planted Name"]) == []
