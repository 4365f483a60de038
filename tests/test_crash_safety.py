"""Crash safety: a refresh killed (SIGKILL, at the crash points of ``cartwh/faults.py``, not by
a timer) during raw load, dbt, analysis, report writing and publication leaves no partial
delivery visible as loaded and no report beside other tables; the next refresh completes, and
the warehouse and its outputs equal those of a refresh that was never interrupted.

One small consortium (one centre, 20 patients), refreshed once uninterrupted (``reference``) and,
in a warehouse of its own on the same landing, killed at each point in turn (``crashed``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cartwh.faults import CRASH_POINTS, CRASH_VARIABLE
from cartwh.history import recorded_digest
from cartwh.publish import CURRENT, PUBLISHED, RELEASES, REPORT, complete_interrupted_publication
from tests.conftest import TEST_SECRET, inherited_environment
from tests.content_hash import content_hashes

#: the points a refresh is killed at, in the order it reaches them (each run reaches its own)
KILLED_AT = ("raw_load", "dbt", "analysis", "report", "publish_tables")
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _env(root: Path, landing: Path, mappings: Path) -> dict[str, str]:
    return {
        **inherited_environment(),
        "CARTWH_DATA": str(root),
        "CARTWH_LANDING": str(landing),
        "CARTWH_MAPPINGS": str(mappings),
        "CARTWH_SECRET": TEST_SECRET,
        "CARTWH_CUTOFF": "2023-03-01",
        "PYTHONUNBUFFERED": "1",
    }


def _refresh(env: dict[str, str], crash_at: str | None = None) -> subprocess.CompletedProcess:
    """`cartwh refresh`, leading a process group of its own (a crash point kills the group:
    dbt with it, as a power cut would)."""
    if crash_at:
        env = {**env, CRASH_VARIABLE: crash_at}
    return subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "refresh", "--accept-data-warnings"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        start_new_session=True,
    )


def _loaded(warehouse: Path) -> dict:
    """What the warehouse shows as loaded: ledger rows and raw rows per delivery."""
    if not warehouse.exists():
        return {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        tables = {
            t
            for (t,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'raw'"
            ).fetchall()
        }
        ledger = (
            conn.execute(
                "select delivery_id, status, count(*) from raw.deliveries group by all order by all"
            ).fetchall()
            if "deliveries" in tables
            else []
        )
        rows = {
            t: conn.execute(f'select count(*) from raw."{t}"').fetchall()[0][0]
            for t in sorted(tables)
            if t.startswith("xz__")
        }
    return {"ledger": ledger, "raw_rows": rows}


def _published_run_ids(output: Path) -> set[str]:
    """The run ids that the published report, provenance.json and provenance.csv name."""
    if not (output / REPORT).exists():
        return set()
    report = (output / REPORT).read_text(encoding="utf-8")
    named = {re.search(rf"run id.*?({UUID})", report, flags=re.S).group(1)}
    named.add(json.loads((output / "provenance.json").read_text())["run_id"])
    named |= set(re.findall(UUID, (output / "tables" / "provenance.csv").read_text()))
    return named


class Crashed:
    def __init__(self, root: Path):
        self.root = root
        self.warehouse = root / "warehouse.duckdb"
        self.output = root / "output"
        self.work = root / "warehouse_work"
        self.runs: dict[str, subprocess.CompletedProcess] = {}
        self.loaded: dict[str, dict] = {}
        self.published: dict[str, set[str]] = {}
        self.statuses: dict[str, dict] = {}


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, Path]:
    from cartwh.demo import generate_consortium

    root = tmp_path_factory.mktemp("crash_landing")
    mappings = root / "mappings"
    mappings.mkdir()
    (mappings / "canonical-centres.yml").write_text("centres: [xz]\n")
    generate_consortium(root / "landing", patients=20, centres=1, deliveries=1, clean=True)
    return root / "landing", mappings


@pytest.fixture(scope="module")
def reference(landing, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("uninterrupted")
    result = _refresh(_env(root, *landing))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root


@pytest.fixture(scope="module")
def crashed(landing, tmp_path_factory) -> Crashed:
    built = Crashed(tmp_path_factory.mktemp("crashed"))
    env = _env(built.root, *landing)
    for point in KILLED_AT:
        built.runs[point] = _refresh(env, crash_at=point)
        built.loaded[point] = _loaded(built.warehouse)
        built.published[point] = _published_run_ids(built.output)
        built.statuses[point] = json.loads((built.work / "refresh-status.json").read_text())
    built.runs["after"] = _refresh(env)
    return built


def test_every_killed_refresh_died_at_its_point(crashed):
    for point in KILLED_AT:
        run = crashed.runs[point]
        assert run.returncode == -9, (point, run.stdout[-2000:] + run.stderr[-2000:])
        assert crashed.statuses[point]["state"] == "started", point  # as a crash leaves it
    assert set(KILLED_AT) <= set(CRASH_POINTS)


def test_a_delivery_killed_while_loading_is_not_visible_as_loaded(crashed):
    killed = crashed.loaded["raw_load"]
    assert not any(status == "loaded" for _, status, _ in killed.get("ledger", []))
    assert not any(killed.get("raw_rows", {}).values()), killed
    assert any(status == "loaded" for _, status, _ in crashed.loaded["dbt"]["ledger"])


def test_a_killed_refresh_never_leaves_a_report_beside_other_tables(crashed):
    # nothing was published before the refresh killed after publishing its tables
    for point in ("raw_load", "dbt", "analysis", "report"):
        assert crashed.published[point] == set(), point
    # killed after the analysis schema was committed: the files are still the previous
    # release's (none), never a mix
    assert crashed.published["publish_tables"] == set()
    # the next refresh completed that publication before it planned (and said so): the
    # landing had not changed since, so it had nothing else to do
    killed_run = crashed.statuses["publish_tables"]["run_id"]
    after = crashed.runs["after"]
    assert after.returncode == 0, after.stdout[-3000:] + after.stderr[-3000:]
    assert f"completed the publication of the refresh {killed_run}" in after.stderr
    assert "nothing new since the refresh of" in after.stdout
    status = json.loads((crashed.work / "refresh-status.json").read_text())
    assert status["state"] == "finished" and status["published_run_id"] == killed_run
    assert _published_run_ids(crashed.output) == {killed_run}
    with duckdb.connect(str(crashed.warehouse), read_only=True) as conn:
        assert conn.execute("select distinct run_id from analysis.provenance").fetchall() == [
            (killed_run,)
        ]


def _recorded(warehouse: Path) -> str:
    """The content digest that the published refresh of ``warehouse`` recorded."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        [(run_id,)] = conn.execute("select distinct run_id from analysis.provenance").fetchall()
        return recorded_digest(conn, run_id)


def test_after_the_crashes_the_warehouse_equals_an_uninterrupted_refresh(crashed, reference):
    assert content_hashes(crashed.warehouse) == content_hashes(reference / "warehouse.duckdb")
    assert _recorded(crashed.warehouse) == _recorded(reference / "warehouse.duckdb") is not None


def _without_provenance(text: str) -> str:
    """A published file's content without what names its run (run ids, times, code version)."""
    text = re.sub(UUID, "<run>", text)
    text = re.sub(
        r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(\+00:00|Z| UTC)?", "<t>", text
    )
    return text


def test_the_outputs_equal_those_of_an_uninterrupted_refresh(crashed, reference):
    ours, theirs = crashed.output, reference / "output"
    names = sorted(p.relative_to(theirs / "tables") for p in (theirs / "tables").rglob("*.csv"))
    assert names == sorted(p.relative_to(ours / "tables") for p in (ours / "tables").rglob("*.csv"))
    for name in names:
        if name.name == "provenance.csv":
            continue
        assert (ours / "tables" / name).read_bytes() == (theirs / "tables" / name).read_bytes(), (
            name
        )
    for figure in sorted((theirs / "figures").glob("*.svg")):
        assert _without_provenance((ours / "figures" / figure.name).read_text()) == (
            _without_provenance(figure.read_text())
        ), figure.name
    assert _without_provenance((ours / REPORT).read_text()) == _without_provenance(
        (theirs / REPORT).read_text()
    )


def test_what_users_open_are_links_into_one_release(crashed):
    output = crashed.output
    release = os.readlink(output / CURRENT)
    assert Path(release).parent == Path(RELEASES)
    for name in PUBLISHED:
        assert os.readlink(output / name) == str(Path(CURRENT) / name), name
    assert sorted(p.name for p in (output / RELEASES).iterdir()) == [Path(release).name]
    assert not list(output.glob(".next-*")) and not list(output.glob(".old-*"))


# --- the roll-forward, on its own --------------------------------------------------------------


def _killed_while_publishing(tmp_path: Path, run_id: str, tables_published: bool) -> Path:
    """A warehouse, output and status as a refresh killed during its publication leaves them."""
    from cartwh.history import ensure_history_schema
    from cartwh.refresh_status import record_started

    output, work = tmp_path / "output", tmp_path / "work"
    staged = output / f".next-{run_id}"
    (staged / "tables").mkdir(parents=True)
    (staged / "figures").mkdir()
    (staged / "tables" / "provenance.csv").write_text(f"run_id\n{run_id}\n")
    (staged / REPORT).write_text(f"<html><body>run id {run_id}</body></html>")
    (staged / "provenance.json").write_text(json.dumps({"run_id": run_id}))
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        ensure_history_schema(conn)
        conn.execute("create schema analysis")
        published = run_id if tables_published else "an-older-run"
        conn.execute(f"create table analysis.provenance as select '{published}' as run_id")
        conn.execute(
            "insert into history.refreshes values (?, now(), date '2023-03-01', 'test')", [run_id]
        )
    record_started(work, run_id)
    status = work / "refresh-status.json"
    status.write_text(status.read_text().replace(f'"pid": {os.getpid()}', '"pid": null'))
    return tmp_path


@pytest.mark.parametrize("tables_published", [True, False])
def test_the_next_refresh_rolls_a_killed_publication_forward_or_forgets_it(
    tmp_path, tables_published
):
    from cartwh.refresh_status import read_status

    run_id = "00000000-0000-0000-0000-000000000001"
    root = _killed_while_publishing(tmp_path, run_id, tables_published)
    with duckdb.connect(str(root / "w.duckdb")) as conn:
        completed = complete_interrupted_publication(conn, root / "output", root / "work")
        history = conn.execute("select count(*) from history.refreshes").fetchall()[0][0]
    if tables_published:
        assert completed == run_id and history == 1
        assert read_status(root / "work").state == "finished"
        assert _published_run_ids(root / "output") == {run_id}
        # killed after the files, before its status said finished: only the status is left
        status = root / "work" / "refresh-status.json"
        status.write_text(status.read_text().replace('"finished"', '"started"', 1))
        before = os.readlink(root / "output" / CURRENT)
        with duckdb.connect(str(root / "w.duckdb")) as conn:
            assert complete_interrupted_publication(conn, root / "output", root / "work")
        assert read_status(root / "work").state == "finished"
        assert os.readlink(root / "output" / CURRENT) == before
    else:
        assert completed is None and history == 0  # the unpublished refresh is not history
        assert read_status(root / "work").state == "started"
        assert not (root / "output" / REPORT).exists()
