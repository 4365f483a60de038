"""Running the refresh job in-process: what ``cartwh refresh`` calls."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

from dagster import DagsterInstance, LoggerDefinition

from cartwh.analyst import publish_package
from cartwh.housekeeping import prune_dagster_runs, prune_dbt_targets
from cartwh.ingest.landing_state import write_plan
from cartwh.ingest.registry import load_registry
from cartwh.publish import REPORT, complete_interrupted_publication, discard_staging, mark_report
from cartwh.refresh_plan import RefreshPlan, plan_refresh, run_tags
from cartwh.refresh_status import read_status, record_failed, stale_notice, unfinished
from cartwh.runlog import disk_full_line
from cartwh.settings import Settings
from cartwh.warehouse import WarehouseBusy, connect_for_writing, write_lock
from orchestration.sensors import planned_selection

#: warning checks of the intake that a data manager must act on: a refresh that completes
#: with one of them failed ends with a distinct exit status unless they are accepted
DATA_WARNING_CHECKS = (
    "every_landing_folder_registered",
    "delivery_folders_valid",
    "latest_delivery_accepted",
    "has_current_delivery",
    "mapping_valid",
    "no_delivery_held",
    "current_delivery_in_landing",
)


#: the dagster.yaml of a warehouse's Dagster home (cartwh owns the file): no telemetry, no
#: sign-up modal in the UI, and runs launched by the sensor, the schedule or the UI queue one at a
#: time, since DuckDB takes one writer (``cartwh refresh`` holds the warehouse's file lock instead)
INSTANCE_CONFIG = """\
telemetry:
  enabled: false
nux:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 1
event_log_storage:
  module: orchestration.event_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {history}
"""


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    severity: str
    description: str | None = None
    blocking: bool = False


@dataclass(frozen=True)
class RefreshResult:
    success: bool
    failed_checks: list[FailedCheck] = field(default_factory=list)
    #: the step that failed, when the run failed
    failed_step: str | None = None
    #: why the refresh could not start: the warehouse stayed locked (one line)
    busy: str | None = None
    run_id: str | None = None
    #: the first line of the failed step's error
    failure: str | None = None
    #: one line when the refresh failed because the disk was full (or a file size limit hit)
    disk_full: str | None = None

    @property
    def blocking_failures(self) -> list[FailedCheck]:
        return [check for check in self.failed_checks if check.blocking]

    @property
    def data_warning_checks(self) -> list[FailedCheck]:
        return [check for check in self.failed_checks if check.check in DATA_WARNING_CHECKS]

    @property
    def data_warnings(self) -> list[str]:
        """The intake problems of this refresh, each naming the folder and the fix."""
        return [
            line
            for check in self.failed_checks
            if check.check in DATA_WARNING_CHECKS
            for line in (check.description or f"{check.asset}: {check.check} failed").splitlines()
        ]


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The persistent Dagster instance of this warehouse (run history under DAGSTER_HOME)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    text = INSTANCE_CONFIG.format(history=json.dumps(str(home / "history" / "runs")))
    if not config.exists() or config.read_text(encoding="utf-8") != text:
        config.write_text(text, encoding="utf-8")
    return DagsterInstance.from_config(str(home))


def run_refresh(
    settings: Settings,
    log_level: str = "INFO",
    plan: RefreshPlan | None = None,
    logger_def: LoggerDefinition | None = None,
    say: Callable[[str], None] | None = None,
) -> RefreshResult:
    """Materialise the assets of the plan (default: every asset), in this process, and
    summarise the outcome.

    The writers' lock is held for the whole refresh, so cartwh's readers wait for its end
    instead of seeing it half done. A failed refresh is recorded with its failed step and
    named at the top of the published report (the results of the last good refresh); the
    runs and dbt artefacts of all but the last ``keep_runs`` refreshes are deleted.

    ``logger_def`` replaces Dagster's console logger (``cartwh refresh`` writes the run's log
    file and its stage lines with it); ``say`` hears the wait for the lock (default: stderr)."""
    if plan is None:
        plan = plan_refresh(settings, load_registry(settings.mappings), full=True)
    plan_id = write_plan(settings.work, plan.state.digests())
    tags = run_tags(settings, plan.state, plan_id, plan.summary)
    run = Run(log_level, lambda graph: planned_selection(graph, plan), tags, logger_def)
    return _execute(settings, run, say)


def run_requested(settings: Settings, request, log_level: str = "INFO") -> RefreshResult:
    """Execute a run that the sensor or the schedule requested (a ``RunRequest``) in this
    process, as the daemon's run launcher would: the same job, asset selection and tags."""
    run = Run(log_level, lambda graph: request.asset_selection, request.tags)
    return _execute(settings, run)


@dataclass(frozen=True)
class Run:
    log_level: str
    selection: Callable  # asset graph -> the asset keys to materialise (None: all)
    tags: dict
    logger_def: LoggerDefinition | None = None


def _execute(settings: Settings, run: Run, say=None) -> RefreshResult:
    from orchestration.assets.dbt import stop_running_dbt

    try:
        with write_lock(settings.warehouse, log=say or _to_stderr):
            try:
                return _refresh_holding_the_lock(settings, run)
            finally:
                stop_running_dbt()  # never a dbt left writing once the lock is released
    except WarehouseBusy as busy:  # the lock of the whole refresh; steps fail inside the run
        return RefreshResult(False, busy=str(busy).splitlines()[0])


def _refresh_holding_the_lock(settings: Settings, run: Run) -> RefreshResult:
    from orchestration.definitions import REFRESH_JOB, build_definitions

    definitions = build_definitions(settings)
    job = definitions.resolve_job_def(REFRESH_JOB)
    loggers = {"console": {"config": {"log_level": run.log_level}}}
    if run.logger_def is not None:
        job = job.with_logger_defs({"cartwh_refresh": run.logger_def})
        loggers = {"cartwh_refresh": {}}
    with dagster_instance(settings) as instance:
        _close_unfinished_run(instance, settings)
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            asset_selection=run.selection(definitions.resolve_asset_graph()),
            tags=run.tags,
            run_config={"loggers": loggers},
        )
        failed = [
            FailedCheck(
                event.event_specific_data.asset_key.to_user_string(),
                event.event_specific_data.check_name,
                event.event_specific_data.severity.value,
                event.event_specific_data.description,
                bool(event.event_specific_data.blocking),
            )
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
            and not event.event_specific_data.passed
        ]
        failed_step = None if result.success else _failed_step(result.all_events)
        if failed_step:
            record_failure(settings, result.run_id, failed_step)
        elif not _published(settings, result.run_id):
            record_failure(settings, result.run_id, "analysis/published (skipped)")
        prune_dagster_runs(instance, settings.keep_runs)
    prune_dbt_targets(settings.dbt_work / "target", settings.keep_runs)
    failure, busy = _failure(result)
    return RefreshResult(
        result.success,
        failed,
        failed_step,
        busy,
        run_id=result.run_id,
        failure=failure,
        disk_full=None if result.success else _disk_full(result.all_events, settings),
    )


def _disk_full(events, settings: Settings) -> str | None:
    """The disk-full line of the first failure (a step's or the run's) that ran out of space."""
    for event in events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            line = disk_full_line(f"{error.cls_name}: {error.message}", settings)
            if line:
                return line
            error = error.cause or error.context
    return None


def record_failure(settings: Settings, run_id: str, step: str) -> None:
    """Record the failed refresh and name it at the top of the published report."""
    record_failed(settings.work, run_id, step)
    discard_staging(settings.output)
    mark_report(settings.output / REPORT, stale_notice(read_status(settings.work), running=False))


def _published(settings: Settings, run_id: str) -> bool:
    status = read_status(settings.work)
    return status is not None and status.run_id == run_id and status.state == "finished"


def recover_killed_refresh(settings: Settings) -> None:
    """Close a refresh that was killed, under the writers' lock, before the next one plans:
    its publication completed (so the plan compares with what users really see) or its
    Dagster run marked failed."""
    with write_lock(settings.warehouse, log=_to_stderr):
        with dagster_instance(settings) as instance:
            _close_unfinished_run(instance, settings)


def _close_unfinished_run(instance: DagsterInstance, settings: Settings) -> None:
    """A refresh that was killed stays "started": complete its publication if it was killed
    while publishing, otherwise mark its Dagster run failed (so that the UI says so and pruning
    may delete it)."""
    status = read_status(settings.work)
    if not unfinished(status, writer_active=False):
        return
    message = "the process running this refresh ended early"
    if settings.warehouse.exists():
        with closing(connect_for_writing(settings.warehouse, log=_to_stderr)) as conn:
            completed = complete_interrupted_publication(conn, settings.output, settings.work)
            if completed:
                publish_package(conn, settings.analyst)
        if completed:
            message += " while publishing; the next refresh completed the publication"
            _to_stderr(
                f"completed the publication of the refresh {completed} (killed while publishing)"
            )
    run = instance.get_run_by_id(status.run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message)


def _failed_step(events) -> str:
    failures = [e.step_key for e in events if e.event_type_value == "STEP_FAILURE" and e.step_key]
    return failures[0] if failures else "an unknown step (see the log)"


def _failure(result) -> tuple[str | None, str | None]:
    """The first line of the first failed step's deepest error, and that line again when it
    is :class:`WarehouseBusy` (the step gave up waiting for the warehouse)."""
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        if event.event_type_value == "STEP_FAILURE" and error is not None:
            while error.cause is not None and error.cls_name != "WarehouseBusy":
                error = error.cause
            line = (error.message.strip().splitlines() or [""])[0]
            line = line.removeprefix("cartwh.warehouse.WarehouseBusy: ")
            return line, line if error.cls_name == "WarehouseBusy" else None
    return None, None


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)
