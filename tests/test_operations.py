"""Refreshing as centres add data: the landing sensor, an incremental refresh of one centre, and a
refresh with nothing new.

A copy of the session's demo warehouse (its landing area, warehouse, work folder with the
Dagster home, outputs) is the starting point; centre xz then sends a new delivery, first half
copied. The sensor waits for it, launches one run for xz and what depends on it; the result must
equal a whole refresh of the same deliveries.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from tests.content_hash import content_hashes

NEW_DELIVERY = "2023-03-15"
#: a patient alive at the cut-off in the demo, who now has a death reported
DEATH_ROW = "{patient},2023-02-20,death,,,disease\n"


def _age(folder: Path, seconds: float) -> None:
    """Make every file look copied ``seconds`` ago."""
    then = time.time() - seconds
    for path in folder.rglob("*"):
        os.utime(path, (then, then))


def _rewrite_manifest(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["delivery_id"] = folder.name
    manifest["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
        for name in manifest["files"]
        if (folder / name).exists()
    }
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture(scope="module")
def ops(demo, tmp_path_factory):
    """A copy of the demo, with the environment of the CLI pointed at it."""
    with demo.copy(tmp_path_factory.mktemp("ops")).as_environment() as copy:
        yield copy


@pytest.fixture(scope="module")
def definitions(ops):
    from orchestration.definitions import build_definitions

    return build_definitions(ops.settings())


def _tick(definitions, instance, cursor):
    from dagster import build_sensor_context

    context = build_sensor_context(
        instance=instance, cursor=cursor, definitions=definitions, sensor_name="new_deliveries"
    )
    data = definitions.get_sensor_def("new_deliveries").evaluate_tick(context)
    return data.run_requests, data.skip_message, data.cursor


def _runs(instance) -> int:
    return len(instance.get_run_records())


def test_a_refresh_with_nothing_new_starts_no_run(ops, capsys):
    from cartwh.cli import main
    from orchestration.refresh import dagster_instance

    with dagster_instance(ops.settings()) as instance:
        runs = _runs(instance)
    before = ops.warehouse.stat().st_mtime_ns
    assert main(["refresh"]) == 0
    out = capsys.readouterr().out
    assert "nothing new since the refresh of" in out
    assert "4 centres, 8 deliveries unchanged" in out
    assert len(out.splitlines()) < 40
    assert ops.warehouse.stat().st_mtime_ns == before
    with dagster_instance(ops.settings()) as instance:
        assert _runs(instance) == runs


def test_the_daily_schedule_asks_for_a_whole_refresh_with_its_tags(ops, definitions):
    from dagster import build_schedule_context

    from orchestration.refresh import dagster_instance

    schedule = definitions.get_schedule_def("daily_refresh")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"
    with dagster_instance(ops.settings()) as instance:
        data = schedule.evaluate_tick(build_schedule_context(instance=instance))
    [request] = data.run_requests
    assert request.asset_selection is None  # everything
    tags = request.tags
    assert tags["cartwh/refreshes"] == "daily: everything"
    assert tags["cartwh/warehouse"] == str(ops.warehouse)
    assert tags["cartwh/cutoff"] == "2023-03-01"
    assert (
        tags["cartwh/newest_deliveries"]
        == "tj:2023-03-01 xz:2023-03-01 zj:2023-03-01 zz:2023-03-01"
    )
    plan = json.loads(
        (ops.root / "warehouse_work" / "plans" / f"{tags['cartwh/plan']}.json").read_text()
    )
    assert sorted(plan["centres"]) == ["tj", "xz", "zj", "zz"]


def _state(ops) -> dict:
    return {
        "xz_deliveries": ops.query("select distinct _delivery_id from raw.xz__patients order by 1"),
        "deaths": ops.query("select count(*) from mart.patient_outcomes where os_event = 1")[0][0],
        "report": (ops.output / "report.html").read_text(encoding="utf-8"),
    }


def test_the_sensor_waits_for_a_delivery_then_refreshes_that_centre_only(ops, definitions):
    from dagster import DagsterEventType

    from orchestration.refresh import dagster_instance, run_requested

    settings = ops.settings()
    before = _state(ops)
    with dagster_instance(settings) as instance:
        requests, skipped, cursor = _tick(definitions, instance, None)
        assert requests == [] and "nothing new" in skipped  # the demo's refresh is published

        current = ops.landing / "xz" / "2023-03-01"
        new = ops.landing / "xz" / NEW_DELIVERY
        shutil.copytree(current, new)
        alive = ops.query(
            "select c.centre_patient_id from mart.patient_outcomes o join "
            "restricted.patient_crosswalk c using (patient_key) "
            "where c.centre_code = 'xz' and o.os_event = 0 order by 1 limit 1"
        )[0][0]
        with open(new / "follow_up_events.csv", "a", encoding="utf-8") as events:
            events.write(DEATH_ROW.format(patient=alive))
        infusions = (new / "infusions.csv").read_bytes()
        (new / "infusions.csv").unlink()  # still being copied: a required file missing
        _rewrite_manifest(new)
        _age(new, 120)

        requests, skipped, cursor = _tick(definitions, instance, cursor)
        assert requests == [] and f"xz/{NEW_DELIVERY} is new or changed" in skipped
        requests, skipped, cursor = _tick(definitions, instance, cursor)
        assert requests == [] and "no file matching 'infusions.csv'" in skipped

        (new / "infusions.csv").write_bytes(infusions)
        _rewrite_manifest(new)
        requests, skipped, cursor = _tick(definitions, instance, cursor)
        assert requests == [] and "is new or changed since the last look" in skipped
        _age(new, 5)
        requests, skipped, cursor = _tick(definitions, instance, cursor)
        assert requests == [] and "s ago (waiting 60 s)" in skipped
        _age(new, 120)
        requests, skipped, cursor = _tick(definitions, instance, cursor)
        assert len(requests) == 1, skipped
        request = requests[0]
        selected = {key.to_user_string() for key in request.asset_selection}
        assert "raw/xz__patients" in selected and "raw/tj__patients" not in selected
        assert any(key.startswith("staging/stg_xz__") for key in selected), selected
        assert not any(key.startswith("staging/stg_tj__") for key in selected)
        assert {"mart/patient_outcomes", "analysis/report", "analysis/published"} <= selected
        assert request.tags["cartwh/newest_deliveries"].startswith(
            f"tj:2023-03-01 xz:{NEW_DELIVERY}"
        )

        runs = _runs(instance)
    result = run_requested(settings, request, "WARNING")
    assert result.success
    with dagster_instance(settings) as instance:
        assert _runs(instance) == runs + 1
        run = instance.get_run_records(limit=1)[0].dagster_run
        materialised = {
            record.event_log_entry.dagster_event.asset_key.to_user_string()
            for record in instance.get_records_for_run(
                run.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION
            ).records
        }
        requests, skipped, cursor = _tick(definitions, instance, cursor)
        assert requests == [] and "nothing new" in skipped  # a second look launches nothing
    assert any(key.startswith("staging/stg_xz__") for key in materialised)
    assert not any(key.startswith(("staging/stg_tj__", "raw/tj__")) for key in materialised)
    after = _state(ops)
    assert after["xz_deliveries"] == [*before["xz_deliveries"], (NEW_DELIVERY,)]
    assert after["deaths"] == before["deaths"] + 1
    assert run.run_id in after["report"] and run.run_id not in before["report"]
    assert NEW_DELIVERY in after["report"]
    assert ops.query("select distinct run_id from analysis.provenance") == [(run.run_id,)]
    assert ("xz", NEW_DELIVERY, True) in ops.query(
        "select centre_code, delivery_id, became_current from history.refresh_deliveries "
        "where run_id = ?",
        [run.run_id],
    )
    ops.incremental = content_hashes(ops.warehouse)


def test_an_incremental_refresh_equals_a_whole_one(ops):
    from cartwh.cli import main

    incremental = getattr(ops, "incremental", None)
    if incremental is None:
        pytest.skip("needs the sensor test's incremental refresh")
    raw_before = content_hashes(ops.warehouse, schemas=("raw",))
    assert main(["refresh", "--full", "--accept-data-warnings"]) == 0
    whole = content_hashes(ops.warehouse)
    differing = sorted(t for t in whole if whole[t] != incremental.get(t))
    assert not differing and set(whole) == set(incremental)
    # a whole refresh of deliveries already loaded reloads nothing: raw and its ledger unchanged
    assert content_hashes(ops.warehouse, schemas=("raw",)) == raw_before
