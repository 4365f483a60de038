"""Provenance on every output, the refresh history, and data locks rebuilt in their own folder.

One extra full refresh: the demo's state is locked and rebuilt (``rebuilt``), and the history
assertions read the rebuilt warehouse.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import duckdb
import pytest
from PIL import Image

from tests.conftest import OTHER_SECRET, TEST_SECRET, run_cartwh
from tests.content_hash import content_hashes


def cartwh(env: dict[str, str], *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return run_cartwh(list(args), env, timeout)


def current_deliveries(conn) -> list[tuple]:
    return conn.execute(
        "select c.centre_code, c.delivery_id, any_value(d.delivery_fingerprint) "
        "from raw.current_deliveries c join raw.deliveries d using (centre_code, delivery_id) "
        "group by all order by 1"
    ).fetchall()


# ---------------------------------------------------------------- provenance on the outputs


def test_every_output_carries_the_provenance(demo):
    provenance = json.loads((demo.output / "provenance.json").read_text(encoding="utf-8"))
    with demo.connect() as conn:
        delivered = current_deliveries(conn)
        table = conn.execute(
            "select distinct run_id, cutoff, code_version from analysis.provenance"
        ).fetchall()
        rows = conn.execute(
            "select centre_code, delivery_id, sha256 from analysis.provenance order by 1"
        ).fetchall()
    assert rows == delivered
    assert [
        (d["centre_code"], d["delivery_id"], d["sha256"]) for d in provenance["deliveries"]
    ] == [tuple(r) for r in delivered]
    [(run_id, cutoff, code)] = table
    assert (provenance["run_id"], provenance["cutoff"], provenance["code_version"]) == (
        run_id,
        cutoff.isoformat(),
        code,
    )
    assert "provenance.csv" in {p.name for p in (demo.output / "tables").iterdir()}
    report = (demo.output / "report.html").read_text(encoding="utf-8")
    assert run_id in report
    pngs = sorted((demo.output / "figures").glob("*.png"))
    svgs = sorted((demo.output / "figures").glob("*.svg"))
    assert pngs and len(pngs) == len(svgs)
    for png in pngs:
        with Image.open(png) as image:
            assert json.loads(image.text["Provenance"]) == provenance, png.name
    for svg in svgs:
        text = svg.read_text(encoding="utf-8")
        assert f"<dc:identifier>{run_id}</dc:identifier>" in text, svg.name
        assert delivered[0][2] in text, svg.name  # the deliveries' sha256 in the description


# ---------------------------------------------------------------- locks


@pytest.fixture(scope="module")
def rebuilt(demo, tmp_path_factory):
    """The demo's state locked (into a work folder of this test: the demo's warehouse is only
    read) and rebuilt with ``cartwh refresh --lock``."""
    work = tmp_path_factory.mktemp("lockwork")
    env = {**demo.env(), "CARTWH_WORK": str(work)}
    taken = cartwh(env, "lock", "frozen")
    assert taken.returncode == 0, taken.stderr
    root = work / "locks" / "frozen"
    rebuild = cartwh(env, "refresh", "--lock", "frozen", "--log-level", "WARNING")
    assert rebuild.returncode == 0, rebuild.stdout[-2000:] + rebuild.stderr[-3000:]
    return env, work, root


def test_lock_records_the_current_state(demo, rebuilt):
    env, work, _ = rebuilt
    lock = json.loads((work / "locks" / "frozen.json").read_text(encoding="utf-8"))
    with demo.connect() as conn:
        delivered = current_deliveries(conn)
        files = conn.execute(
            "select d.centre_code, d.delivery_id, count(distinct d.sha256) "
            "from raw.current_deliveries c join raw.deliveries d using (centre_code, delivery_id) "
            "where d.sha256 is not null group by all order by 1"
        ).fetchall()
    assert [(d["centre_code"], d["delivery_id"], d["fingerprint"]) for d in lock["deliveries"]] == [
        tuple(r) for r in delivered
    ]
    assert [
        (d["centre_code"], d["delivery_id"], len({f["sha256"] for f in d["files"]}))
        for d in lock["deliveries"]
    ] == [tuple(r) for r in files]
    assert lock["cutoff"] == "2023-03-01"
    text = json.dumps(lock)
    assert TEST_SECRET not in text and lock["key_check"]["hmac_sha256"]
    again = cartwh(env, "lock", "frozen")
    assert again.returncode == 2
    assert again.stderr.strip().count("\n") == 0 and "lock frozen exists" in again.stderr


def test_the_rebuilt_lock_has_the_demos_content(demo, rebuilt):
    _, _, root = rebuilt
    expected = content_hashes(demo.warehouse)
    actual = content_hashes(root / "warehouse.duckdb")
    published = [t for t in expected if t.startswith(("mart.", "analysis."))]
    assert "analysis.provenance" in published
    assert {t: actual.get(t) for t in published} == {t: expected[t] for t in published}
    # its own landing copy: the locked delivery folders only
    folders = sorted(str(p.relative_to(root / "landing")) for p in root.glob("landing/*/*"))
    with demo.connect() as conn:
        assert folders == [f"{c}/{d}" for c, d, _ in current_deliveries(conn)]


def test_a_changed_or_foreign_state_is_refused(demo, rebuilt, tmp_path):
    env, work, _ = rebuilt
    assert cartwh(env, "lock", "changed").returncode == 0
    lock = json.loads((work / "locks" / "changed.json").read_text(encoding="utf-8"))
    delivery = lock["deliveries"][0]
    victim = delivery["files"][0]["path"]
    landing = tmp_path / "landing"
    shutil.copytree(demo.landing, landing)
    target = landing / delivery["centre_code"] / delivery["delivery_id"] / victim
    target.write_bytes(target.read_bytes() + b"\n")
    refused = cartwh({**env, "CARTWH_LANDING": str(landing)}, "refresh", "--lock", "changed")
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0, refused.stderr
    assert (
        f"centre {delivery['centre_code']}, delivery {delivery['delivery_id']}, file {victim}: "
        "changed since the lock" in refused.stderr
    )
    target.unlink()
    missing = cartwh({**env, "CARTWH_LANDING": str(landing)}, "refresh", "--lock", "changed")
    assert missing.returncode == 2 and f"file {victim}: missing" in missing.stderr
    assert not (work / "locks" / "changed" / "warehouse.duckdb").exists()

    other_key = cartwh({**env, "CARTWH_SECRET": OTHER_SECRET}, "refresh", "--lock", "changed")
    assert other_key.returncode == 2 and "CARTWH_SECRET is not the key" in other_key.stderr
    lock["code_version"] = "cartwh 0.0.0 (0000000)"
    (work / "locks" / "changed.json").write_text(json.dumps(lock), encoding="utf-8")
    other_code = cartwh(env, "refresh", "--lock", "changed")
    assert other_code.returncode == 2 and "taken with code cartwh 0.0.0" in other_code.stderr
    assert cartwh(env, "lock", "../escape").returncode == 2


# ---------------------------------------------------------------- history


def test_history_lists_the_rebuilt_refresh(rebuilt):
    _, _, root = rebuilt
    env = {
        "CARTWH_WAREHOUSE": str(root / "warehouse.duckdb"),
        "CARTWH_WORK": str(root / "work"),
    }
    listed = cartwh(env, "history", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [refresh] = json.loads(listed.stdout)
    provenance = json.loads((root / "output" / "provenance.json").read_text(encoding="utf-8"))
    assert refresh["run_id"] == provenance["run_id"]
    assert refresh["previous_run_id"] is None
    assert refresh["cutoff"] == "2023-03-01"
    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as conn:
        patients = dict(
            conn.execute(
                "select centre_code, count(*) from raw.delivery_patient_changes group by 1"
            ).fetchall()
        )
        failures = conn.execute(
            "select count(*) from quality.check_results where numerator > 0"
        ).fetchall()[0][0]
        phi = conn.execute(
            "select count(*) from information_schema.columns where table_schema = 'history' "
            "and column_name in ('centre_patient_id', 'mrn', 'full_name', 'date_of_birth')"
        ).fetchall()[0][0]
    assert phi == 0
    for delivery in refresh["deliveries"]:
        # the only delivery of each centre: every patient is added, nothing is compared
        assert delivery["became_current"] and delivery["previous_delivery_id"] is None
        changes = {c["entity"]: c for c in delivery["changes"]}
        assert {"patients", "infusions", "daily_observations"} <= set(changes)
        assert changes["patients"]["patients_added"] == patients[delivery["centre_code"]]
        assert all(c["patients_dropped"] == c["patients_changed"] == 0 for c in changes.values())
    # the first refresh: every failing check is listed, against nothing
    assert len(refresh["check_changes"]) == failures > 0
    assert all(c["before"] is None for c in refresh["check_changes"])
    text = cartwh(env, "history", "--limit", "1")
    assert text.returncode == 0
    assert f"run {refresh['run_id']}" in text.stdout
    assert "became current (first delivery)" in text.stdout


def test_history_compares_with_the_previous_current_delivery(demo):
    """The demo loaded two deliveries per centre: the newest is compared with the older one
    (entity by entity, counts only)."""
    [(changed, added)] = demo.query(
        "select count(*) filter (where patients_changed > 0), "
        "sum(patients_added) filter (where entity = 'patients') "
        "from history.delivery_changes where previous_delivery_id = '2022-09-01' "
        "and run_id = (select run_id from history.refreshes order by published_at limit 1)"
    )
    [(expected_added,)] = demo.query(
        "select count(*) from raw.delivery_patient_changes "
        "where delivery_id = '2023-03-01' and change = 'added'"
    )
    assert added == expected_added and changed > 0


def test_delivery_changes_count_patients_added_dropped_and_changed_as_multisets():
    """Rows compared as multisets (a row delivered twice is a change), metadata aside; the
    patient id trimmed (a new spelling of the same id changes the patient, it adds none); no
    id, no patient; any header, quotes included."""
    from cartwh.history import _record_entity_changes, ensure_history_schema
    from cartwh.ingest.ledger import raw_table_name

    conn = duckdb.connect()
    ensure_history_schema(conn)
    conn.execute("create schema raw")
    table = raw_table_name("xz", "labs")
    conn.execute(
        f'create table raw."{table}" ("Patient ID" varchar, "say ""hi""" varchar, '
        "_delivery_id varchar, _source_file varchar, _row_number bigint)"
    )
    old = [("p1", "a"), ("p2", "b"), ("p3", "c"), (" p4", "d"), (None, "e")]
    new = [("p1", "a"), ("p2", "b"), ("p2", "b"), ("p4", "d"), ("p5", "f"), ("", "g")]
    for delivery, rows in (("d1", old), ("d2", new)):
        conn.executemany(
            f'insert into raw."{table}" values (?, ?, ?, ?, ?)',
            [(p, v, delivery, f"{delivery}.csv", k) for k, (p, v) in enumerate(rows, 1)],
        )
    _record_entity_changes(conn, "run", "xz", "d2", "d1", "labs", "patient id")
    _record_entity_changes(conn, "first", "xz", "d1", None, "labs", "patient id")
    _record_entity_changes(conn, "none", "xz", "d3", "d4", "labs", "patient id")  # no rows
    changes = conn.execute(
        "select run_id, patients_added, patients_dropped, patients_changed "
        "from history.delivery_changes order by run_id"
    ).fetchall()
    assert changes == [("first", 4, 0, 0), ("none", 0, 0, 0), ("run", 1, 1, 2)]
