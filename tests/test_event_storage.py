"""The pooled SQLite event log (orchestration/event_storage.py): a run with an asset and an asset
check stored through it reads back the same through Dagster's own storage on the same files,
and its cached table lookup answers as Dagster's does."""

from __future__ import annotations

from dagster import AssetCheckResult, Definitions, asset, asset_check, define_asset_job
from dagster._core.storage.event_log import SqliteEventLogStorage

from cartwh.settings import read_settings
from orchestration.event_storage import PooledSqliteEventLogStorage
from orchestration.refresh import dagster_instance


@asset
def numbers() -> int:
    return 3


@asset_check(asset=numbers)
def numbers_positive() -> AssetCheckResult:
    return AssetCheckResult(passed=True, metadata={"checked": 1})


def test_a_run_stored_through_the_pool_reads_back_through_dagsters_storage(tmp_path):
    settings = read_settings({"CARTWH_DATA": str(tmp_path)})
    definitions = Definitions(
        assets=[numbers], asset_checks=[numbers_positive], jobs=[define_asset_job("all")]
    )
    with dagster_instance(settings) as instance:
        assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
        result = definitions.resolve_job_def("all").execute_in_process(instance=instance)
        assert result.success
        run_id = result.run_id
        ours = [entry.dagster_event_type for entry in instance.all_logs(run_id)]
    plain = SqliteEventLogStorage(str(settings.dagster_home / "history" / "runs"))
    try:
        theirs = [e.dagster_event_type for e in plain.get_logs_for_run(run_id)]
        assert theirs == ours and len(ours) > 10
        [check] = plain.get_asset_check_execution_history(numbers_positive.check_key, limit=5)
        assert check.run_id == run_id and check.status.value == "SUCCEEDED"
        for table in ("asset_check_executions", "event_logs", "no_such_table"):
            pooled = PooledSqliteEventLogStorage(str(settings.dagster_home / "history" / "runs"))
            assert pooled.has_table(table) == plain.has_table(table) == (table != "no_such_table")
            assert pooled.has_table(table) == plain.has_table(table)  # cached the second time
            pooled.dispose()
    finally:
        plain.dispose()
