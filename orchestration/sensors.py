"""The landing sensor and the daily schedule: refreshes as centres add data, unattended.

Both decide from files alone (:mod:`cartwh.refresh_plan`): the warehouse is held by a running
refresh, so they never open it. Their runs queue one at a time (the Dagster home's run
coordinator, :data:`orchestration.refresh.INSTANCE_CONFIG`).
"""

from __future__ import annotations

import json
import time

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SkipReason,
    schedule,
    sensor,
)

from cartwh.ingest.landing_state import write_plan
from cartwh.ingest.registry import load_registry
from cartwh.refresh_plan import RefreshPlan, plan_refresh, run_tags, sensor_decision
from cartwh.settings import Settings
from cartwh.transform.codegen import LEDGER_TABLES
from cartwh.warehouse import writer_active
from models.extract_format import ENTITIES
from orchestration.assets.raw import LANDING_SCAN, raw_asset_key

SENSOR_INTERVAL_SECONDS = 60


def plan_keys(plan: RefreshPlan) -> list[AssetKey]:
    """The assets a plan starts from (everything downstream of them is refreshed too)."""
    keys = [raw_asset_key(centre, entity) for centre in plan.centres for entity in ENTITIES]
    return [*keys, LANDING_SCAN] if plan.landing_folders else keys


def planned_selection(asset_graph, plan: RefreshPlan) -> list[AssetKey] | None:
    """None for a whole refresh; else the plan's assets and everything downstream of them.

    Every centre's load also writes the ledger (raw.current_deliveries, ...), so the tables built
    from it are rebuilt too; the staging models that read it are views, which read it when
    queried: another centre's staging is not rebuilt."""
    if plan.mode == "full":
        return None
    ledger = AssetSelection.assets(*(AssetKey(["raw", table]) for table in LEDGER_TABLES))
    ledger_tables = ledger.downstream(depth=1) - ledger - AssetSelection.groups("staging")
    start = AssetSelection.assets(*plan_keys(plan)) | ledger_tables
    return sorted((start.downstream() - ledger).resolve(asset_graph))


def build_sensor(settings: Settings, job_name: str):
    @sensor(
        name="new_deliveries",
        job_name=job_name,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=DefaultSensorStatus.RUNNING,
        description="Looks at the landing area every minute and launches one run for the "
        "centres with a new or changed delivery (and everything downstream), once the "
        "delivery is complete and has stopped changing; a look with nothing new launches "
        "nothing. Never opens the warehouse.",
    )
    def new_deliveries(context: SensorEvaluationContext):
        if writer_active(settings.warehouse):
            return SkipReason("a refresh is writing the warehouse: looking again after it")
        cursor = json.loads(context.cursor) if context.cursor else {}
        decision = sensor_decision(
            settings, load_registry(settings.mappings), cursor, time.time_ns()
        )
        context.update_cursor(json.dumps(decision.cursor, sort_keys=True))
        if decision.plan is None:
            return SkipReason(decision.skip_reason)
        for line in decision.waiting:
            context.log.info(f"not yet: {line}")
        plan_id = write_plan(settings.work, decision.plan.state.digests())
        return RunRequest(
            run_key=plan_id,
            asset_selection=planned_selection(context.repository_def.asset_graph, decision.plan),
            tags=run_tags(settings, decision.plan.state, plan_id, decision.plan.summary),
        )

    return new_deliveries


def build_schedule(settings: Settings, job_name: str):
    @schedule(
        name="daily_refresh",
        job_name=job_name,
        cron_schedule=settings.daily_refresh,
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Refreshes everything once a day (endpoints censored at the cut-off or at "
        "today change with time even without new data), at CARTWH_DAILY_REFRESH (UTC).",
    )
    def daily_refresh(context: ScheduleEvaluationContext):
        plan = plan_refresh(settings, load_registry(settings.mappings), full=True)
        plan_id = write_plan(settings.work, plan.state.digests())
        return RunRequest(tags=run_tags(settings, plan.state, plan_id, "daily: everything"))

    return daily_refresh
