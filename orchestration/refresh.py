"""Running the refresh job in-process: what ``cartwh refresh`` calls."""

from __future__ import annotations

from dataclasses import dataclass, field

from dagster import DagsterInstance

from cartwh.ingest.registry import load_registry
from cartwh.settings import Settings


@dataclass(frozen=True)
class FailedCheck:
    asset: str
    check: str
    severity: str


@dataclass(frozen=True)
class RefreshResult:
    success: bool
    failed_checks: list[FailedCheck] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The persistent Dagster instance of this warehouse (run history under DAGSTER_HOME)."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    return DagsterInstance.from_config(str(home))


def landing_warnings(settings: Settings) -> list[str]:
    """Landing folders that will not be loaded because no registered centre owns them."""
    return load_registry(settings.mappings).unregistered_folders(settings.landing)


def run_refresh(settings: Settings, log_level: str = "INFO") -> RefreshResult:
    """Materialise every asset of the warehouse, in this process, and summarise the outcome."""
    from orchestration.definitions import REFRESH_JOB, build_definitions

    warnings = landing_warnings(settings)
    job = build_definitions(settings).resolve_job_def(REFRESH_JOB)
    with dagster_instance(settings) as instance:
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
        failed = [
            FailedCheck(
                event.event_specific_data.asset_key.to_user_string(),
                event.event_specific_data.check_name,
                event.event_specific_data.severity.value,
            )
            for event in result.all_events
            if event.event_type_value == "ASSET_CHECK_EVALUATION"
            and not event.event_specific_data.passed
        ]
    return RefreshResult(result.success, failed, warnings)
