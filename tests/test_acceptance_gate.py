"""The acceptance gate on the loader and a real DuckDB file (no refresh): a delivery that drops
too many of the current delivery's patients is held until a person accepts or withdraws it,
decisions survive later loads, an unchanged delivery is not read again, and no copy of
delivered data is left in a temporary folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from cartwh.cli import main
from cartwh.ingest import discovery, load_centre, load_delivery
from cartwh.ingest.decisions import DecisionError, accept_delivery, withdraw_delivery
from cartwh.ingest.discovery import DeliveryFolder
from cartwh.ingest.mapping import CentreMapping, canonical_mapping
from tests.conftest import table_digest, write_delivery

HEADER = (
    "centre_patient_id,mrn,full_name,date_of_birth,sex,ph_status,prior_therapy_lines,"
    "relapse_count,disease_status,prior_hsct,bm_blasts_pct_pre"
)


def _patients(ids: list[str]) -> dict[str, str]:
    rows = [f"{i},M{i},N {i},1990-01-01,f,negative,2,1,relapsed,no,10" for i in ids]
    infusions = [f"{i},1,2020-03-01,1e6" for i in ids]
    return {
        "patients.csv": "\n".join([HEADER, *rows]) + "\n",
        "infusions.csv": "\n".join(
            ["centre_patient_id,infusion_number,infusion_date,cell_dose_per_kg", *infusions]
        )
        + "\n",
    }


def _ids(n: int, start: int = 1) -> list[str]:
    return [f"p{k:02d}" for k in range(start, start + n)]


@pytest.fixture
def world(tmp_path: Path):
    landing = tmp_path / "landing"
    landing.mkdir()
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    private_tmp = tmp_path / "w_work" / "tmp"

    def load(max_patient_drop: float = 0.10):
        return load_centre(
            conn,
            landing,
            canonical_mapping("xz"),
            private_tmp=private_tmp,
            max_patient_drop=max_patient_drop,
        )

    yield landing, conn, load, private_tmp
    conn.close()


def _current(conn) -> str | None:
    rows = conn.execute("select delivery_id from raw.current_deliveries").fetchall()
    return rows[0][0] if rows else None


def _status(conn, delivery: str) -> set[str]:
    return {
        s
        for (s,) in conn.execute(
            "select distinct status from raw.deliveries where delivery_id = ? "
            "and entity in ('patients', 'infusions')",
            [delivery],
        ).fetchall()
    }


def test_a_delivery_dropping_more_than_the_share_is_held_and_names_the_patients(world):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(40)))
    write_delivery(landing, "xz", "2023-02-01", _patients(_ids(27)))  # drops 13 of 40
    loaded = load()
    assert [r.status for r in loaded.results] == ["loaded", "held"]
    message = loaded.results[1].message
    assert message.startswith(
        "delivery xz/2023-02-01 is held: it drops 13 of the 40 patients of the current delivery "
        "2023-01-01 (32.5%, more than the 10% allowed): p28, p29, p30, p31, p32, p33, p34, p35, "
        "p36, p37 and 3 more; "
    )
    assert "`cartwh deliveries accept xz 2023-02-01`" in message
    assert "`cartwh deliveries withdraw xz 2023-02-01`" in message
    assert _current(conn) == "2023-01-01" and _status(conn, "2023-02-01") == {"held"}
    assert loaded.held_warnings() == [f"xz: {message}; using 2023-01-01 meanwhile"]
    # its rows are in raw (history), but the view keeps the previous delivery current
    assert conn.execute(
        "select count(*) from raw.xz__patients where _delivery_id = '2023-02-01'"
    ).fetchall() == [(27,)]


def test_a_delivery_dropping_no_more_than_the_share_loads(world):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(20)))
    write_delivery(landing, "xz", "2023-02-01", _patients(_ids(18) + ["p99"]))  # 2 of 20: 10%
    assert [r.status for r in load().results] == ["loaded", "loaded"]
    assert _current(conn) == "2023-02-01"
    changes = dict(
        conn.execute(
            "select change, count(*) from raw.delivery_patient_changes "
            "where delivery_id = '2023-02-01' group by 1"
        ).fetchall()
    )
    assert changes == {"kept": 18, "added": 1, "dropped": 2}


def test_the_share_is_a_setting(world):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(20)))
    write_delivery(landing, "xz", "2023-02-01", _patients(_ids(15)))
    assert [r.status for r in load(max_patient_drop=0.25).results] == ["loaded", "loaded"]


def test_accept_makes_it_current_withdraw_restores_the_previous_and_both_survive_reloads(world):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(20)))
    write_delivery(landing, "xz", "2023-02-01", _patients(_ids(10)))
    load()
    assert accept_delivery(conn, "xz", "2023-02-01") == "loaded"
    assert _current(conn) == "2023-02-01"
    reloaded = load()  # a later refresh does not hold it again
    assert [r.status for r in reloaded.results] == ["unchanged", "unchanged"]
    assert _current(conn) == "2023-02-01" and reloaded.held == []
    assert withdraw_delivery(conn, "xz", "2023-02-01") == "withdrawn"
    assert _current(conn) == "2023-01-01"
    load()  # nor resurrect it
    assert _current(conn) == "2023-01-01" and _status(conn, "2023-02-01") == {"withdrawn"}
    decisions = conn.execute(
        "select delivery_id, decision, status_before, decided_by is not null "
        "from raw.delivery_decisions order by decided_at"
    ).fetchall()
    assert decisions == [
        ("2023-02-01", "accepted", "held", True),
        ("2023-02-01", "withdrawn", "loaded", True),
    ]
    with pytest.raises(DecisionError, match="is withdrawn: only a held delivery can be accepted"):
        accept_delivery(conn, "xz", "2023-02-01")


def test_a_folder_removed_from_the_landing_area_stays_current_and_says_how_to_withdraw(world):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(5)))
    load()
    (landing / "xz" / "2023-01-01" / "patients.csv").unlink()
    (landing / "xz" / "2023-01-01" / "infusions.csv").unlink()
    (landing / "xz" / "2023-01-01").rmdir()
    after = load()
    assert after.current_delivery == "2023-01-01"
    assert after.current_folder_gone_warning() == (
        "xz: the current delivery 2023-01-01 is no longer in the landing area but stays "
        "current; to stop using it: `cartwh deliveries withdraw xz 2023-01-01`"
    )


def test_an_unchanged_delivery_is_not_read_again(world, monkeypatch):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(5)))
    folder = write_delivery(landing, "xz", "2023-02-01", {"patients.csv": "a,b\n1,2\n"})
    load()
    ledger_before = table_digest(conn, "select * from raw.deliveries")
    hashed: list[Path] = []
    real = discovery.sha256_file
    monkeypatch.setattr(discovery, "sha256_file", lambda path: hashed.append(path) or real(path))
    again = load()
    assert [r.status for r in again.results] == ["unchanged", "rejected"]
    assert hashed == []
    assert table_digest(conn, "select * from raw.deliveries") == ledger_before
    (folder / "patients.csv").write_text("a,b\n1,3\n")  # same size, new content and mtime
    assert load().results[1].status == "rejected"
    assert folder / "patients.csv" in hashed


def test_links_are_not_followed(world, tmp_path):
    landing, conn, load, _ = world
    elsewhere = tmp_path / "elsewhere"
    write_delivery(elsewhere, "xz", "2023-01-01", _patients(_ids(5)))
    (landing / "xz").mkdir()
    (landing / "xz" / "2023-01-01").symlink_to(elsewhere / "xz" / "2023-01-01")
    loaded = load()
    assert loaded.results == [] and loaded.current_delivery is None
    assert [(f.label, f.reason) for f in loaded.skipped] == [
        ("xz/2023-01-01", "symbolic link, not followed: copy the files into the folder")
    ]
    assert conn.execute(
        "select status, source_file, sha256, bytes from raw.deliveries"
    ).fetchall() == [("skipped", "", None, None)]


GB_MAPPING = CentreMapping.model_validate(
    {
        "centre_code": "gb",
        "defaults": {"encoding": "gb18030", "separator": ";"},
        "entities": {"patients": {"file": "p.csv", "columns": {"centre_patient_id": "编号"}}},
    }
)


def test_a_rejected_non_utf8_delivery_leaves_no_copy_anywhere(tmp_path):
    folder = write_delivery(
        tmp_path / "landing",
        "gb",
        "2023-03-01",
        {"p.csv": "编号;性别\nz1;男\n".encode("gb18030") * 1000 + b"z2;\xff\xfe\n"},
    )
    private_tmp = tmp_path / "work" / "tmp"
    shared_before = set(os.listdir(tempfile.gettempdir()))
    result = load_delivery(
        duckdb.connect(),
        DeliveryFolder("gb", "2023-03-01", folder),
        GB_MAPPING,
        private_tmp=private_tmp,
    )
    assert result.status == "rejected" and "not valid gb18030" in result.message
    assert list(private_tmp.iterdir()) == []
    assert oct(private_tmp.stat().st_mode & 0o777) == "0o700"
    assert set(os.listdir(tempfile.gettempdir())) - shared_before == set()


KILLED_LOAD = """
import sys
from pathlib import Path
import duckdb
from cartwh.ingest import load_delivery
from cartwh.ingest.discovery import DeliveryFolder
from tests.test_acceptance_gate import GB_MAPPING
folder, private_tmp = Path(sys.argv[1]), Path(sys.argv[2])
load_delivery(duckdb.connect(), DeliveryFolder("gb", "2023-03-01", folder), GB_MAPPING,
              private_tmp=private_tmp)
"""


def test_a_load_killed_while_transcoding_leaves_a_leftover_the_next_load_removes(tmp_path):
    big = "编号;性别\n".encode("gb18030") + "z1;男\n".encode("gb18030") * 8_000_000
    folder = write_delivery(tmp_path / "landing", "gb", "2023-03-01", {"p.csv": big})
    private_tmp = tmp_path / "work" / "tmp"
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(KILLED_LOAD), str(folder), str(private_tmp)],
        cwd=Path(__file__).parent.parent,
    )
    copy = private_tmp / str(child.pid) / "p.csv.utf8"
    deadline = time.monotonic() + 60
    while not copy.exists() and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert copy.exists(), "the copy did not appear before the load ended"
    (tmp_path / "landing" / "gb" / "2023-04-01").mkdir()
    (tmp_path / "landing" / "gb" / "2023-04-01" / "p.csv").write_bytes(b"\xe7\xbc\x96")
    load_delivery(
        duckdb.connect(),
        DeliveryFolder("gb", "2023-04-01", tmp_path / "landing" / "gb" / "2023-04-01"),
        GB_MAPPING,
        private_tmp=private_tmp,
    )
    assert list(private_tmp.iterdir()) == []


def test_the_deliveries_commands(world, tmp_path, monkeypatch, capsys):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(20)))
    write_delivery(landing, "xz", "2023-02-01", _patients(_ids(10)))
    write_delivery(landing, "xz", "2023-03-01", {"patient.csv": "x\n"})
    load()
    conn.close()
    monkeypatch.setenv("CARTWH_WAREHOUSE", str(tmp_path / "w.duckdb"))
    assert main(["deliveries", "list", "--centre", "xz"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "xz:"
    assert out[1].startswith("  * 2023-01-01  loaded     2 files, 40 rows, 20 patients")
    assert out[2].startswith(
        "    2023-02-01  held       2 files, 20 rows, 10 patients (+0 -10 vs 2023-01-01)  - "
        "delivery xz/2023-02-01 is held: it drops 10 of the 20 patients"
    )
    assert out[3].startswith("    2023-03-01  rejected   1 files, 0 rows  - delivery xz/2023-03-01")
    assert main(["deliveries", "accept", "xz", "2023-03-01"]) == 2
    assert capsys.readouterr().err.strip() == (
        "cartwh: delivery xz/2023-03-01 is rejected: only a held delivery can be accepted; a "
        "rejected delivery never loads: the centre sends a corrected one"
    )
    assert main(["deliveries", "accept", "qq", "2023-03-01"]) == 2
    assert "centre qq: no delivery of it in the ledger" in capsys.readouterr().err
    assert main(["deliveries", "withdraw", "xz", "2024-01-01"]) == 2
    assert (
        "delivery xz/2024-01-01: not in the ledger (deliveries of xz: 2023-01-01, 2023-02-01, "
        "2023-03-01)" in capsys.readouterr().err
    )
    assert main(["deliveries", "accept", "xz", "2023-02-01"]) == 0
    assert "xz/2023-02-01 is now loaded" in capsys.readouterr().out
    assert main(["deliveries", "list"]) == 0
    assert "  * 2023-02-01  loaded" in capsys.readouterr().out
    assert main(["deliveries", "withdraw", "xz", "2023-02-01"]) == 0
    assert main(["deliveries", "list"]) == 0
    assert "  * 2023-01-01  loaded" in capsys.readouterr().out


def test_an_invalid_mapping_fails_only_its_centres_check_and_loads_nothing(tmp_path):
    from dagster import materialize

    from orchestration.assets.raw import build_raw_centre_asset
    from orchestration.resources import Landing, Warehouse

    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "zz.yml").write_text("centre_code: zz\nentities:\n  patient:\n    file: p.csv\n")
    write_delivery(tmp_path / "landing", "zz", "2023-03-01", _patients(_ids(3)))
    result = materialize(
        [build_raw_centre_asset("zz")],
        resources={
            "warehouse": Warehouse(database=str(tmp_path / "w.duckdb")),
            "landing": Landing(
                landing=str(tmp_path / "landing"),
                mappings=str(mappings),
                private_tmp=str(tmp_path / "w_work" / "tmp"),
            ),
        },
        raise_on_error=False,
    )
    assert result.success
    checks = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    failed = {name: check.description for name, check in checks.items() if not check.passed}
    assert failed == {
        "mapping_valid": f"zz: nothing loaded: mapping file {mappings / 'zz.yml'}: "
        "unknown entity 'patient'; known: ['car_t_kinetics', 'daily_observations', "
        "'follow_up_events', 'infusions', 'labs', 'patients', 'response_assessments', "
        "'treatments']; fix the mapping file (check it with `cartwh mapping check <file> "
        "--delivery <folder>`), then refresh"
    }
    assert checks["mapping_valid"].severity.value == "WARN"
    assert not (tmp_path / "w.duckdb").exists()


def test_a_ledger_without_file_times_is_migrated_and_hashes_once_more(world, monkeypatch):
    landing, conn, load, _ = world
    write_delivery(landing, "xz", "2023-01-01", _patients(_ids(5)))
    load()
    conn.execute("alter table raw.deliveries drop column mapping_digest")
    conn.execute("alter table raw.deliveries drop column mtime_ns")  # as written before
    hashed: list[Path] = []
    real = discovery.sha256_file
    monkeypatch.setattr(discovery, "sha256_file", lambda path: hashed.append(path) or real(path))
    assert [r.status for r in load().results] == ["unchanged"]
    assert len(hashed) == 2  # once, to recognise the content and record the times
    assert conn.execute(
        "select count(*) from raw.deliveries where sha256 is not null and mtime_ns is null"
    ).fetchall() == [(0,)]
    assert [r.status for r in load().results] == ["unchanged"] and len(hashed) == 2


def test_a_centre_folder_that_is_a_link_is_skipped(world, tmp_path):
    from cartwh.ingest.registry import CentreRegistry

    landing, conn, load, _ = world
    elsewhere = tmp_path / "elsewhere"
    write_delivery(elsewhere, "xz", "2023-01-01", _patients(_ids(5)))
    (landing / "xz").symlink_to(elsewhere / "xz", target_is_directory=True)
    (landing / "qq").symlink_to(elsewhere / "xz", target_is_directory=True)
    loaded = load()
    assert loaded.results == [] and loaded.current_delivery is None
    assert [(f.label, f.reason) for f in loaded.skipped] == [
        ("xz", "symbolic link, not followed: copy the files into the folder")
    ]
    registry = CentreRegistry(tmp_path, ("xz",), ())
    assert [(f.label, f.reason) for f in registry.unregistered_folders(landing)] == [
        ("qq", "symbolic link, not followed: copy the files into the folder; not loaded")
    ]
