"""Resources, configured from the :class:`cartwh.settings.Settings` of the process."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from dagster import AssetKey, ConfigurableResource, InitResourceContext
from dagster_duckdb import DuckDBResource

from cartwh.ingest.registry import CentreRegistry, load_registry
from cartwh.parameters import StudyParameters, study_parameters
from cartwh.refresh_plan import PLAN_TAG
from cartwh.refresh_status import record_started
from cartwh.settings import DEFAULT_MAX_PATIENT_DROP, Settings
from cartwh.warehouse import connect_for_writing, wait_until_writable, write_lock

#: the last step of a refresh: what users see changes only there
PUBLISHED = AssetKey(["analysis", "published"])


class Warehouse(DuckDBResource):
    """The DuckDB warehouse. Every connection of a step holds the writers' lock beside it and
    waits for readers that do not take that lock (:mod:`cartwh.warehouse`); a run that will
    publish the analysis records that it started (:mod:`cartwh.refresh_status`)."""

    work: str = ""
    lock_timeout_s: float = 600.0
    reader_timeout_s: float = 300.0

    def setup_for_execution(self, context: InitResourceContext) -> None:
        run = context.run
        if self.work and run is not None and _publishes(run):
            record_started(Path(self.work), run.run_id, run.tags.get(PLAN_TAG))

    @contextmanager
    def write_lock(self, log=None):
        with write_lock(Path(self.database), self.lock_timeout_s, log):
            yield

    def wait_for_readers(self, log=None) -> None:
        """Before a writer that connects by itself (dbt) starts."""
        wait_until_writable(Path(self.database), self.reader_timeout_s, log)

    @contextmanager
    def get_connection(self, log=None):
        with write_lock(Path(self.database), self.lock_timeout_s, log):
            conn = connect_for_writing(
                Path(self.database),
                self.reader_timeout_s,
                log,
                {"custom_user_agent": "dagster", **self.connection_config},
            )
            try:
                yield conn
            finally:
                conn.close()

    @contextmanager
    def write_connection(self, log=None):
        with self.get_connection(log) as conn:
            yield conn


def _publishes(run) -> bool:
    """Whether the run materialises the publish step (a whole refresh, not a few assets)."""
    return not run.asset_selection or PUBLISHED in run.asset_selection


class Landing(ConfigurableResource):
    """Where centres drop deliveries, the centre registry with its mapping files, the private
    folder for temporary copies of delivered data, and the acceptance gate's patient share."""

    landing: str
    mappings: str
    private_tmp: str
    max_patient_drop: float = DEFAULT_MAX_PATIENT_DROP

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def private_tmp_path(self) -> Path:
        return Path(self.private_tmp)

    def registry(self) -> CentreRegistry:
        return load_registry(Path(self.mappings))


class Study(ConfigurableResource):
    """Study-wide settings: the data cut-off (dbt var) and where outputs and the analyst
    package go."""

    cutoff: str
    output: str
    analyst: str

    @property
    def parameters(self) -> StudyParameters:
        return study_parameters().with_cutoff(date.fromisoformat(self.cutoff))

    @property
    def dbt_vars(self) -> str:
        return self.parameters.dbt_vars()


def dbt_resource(dbt_project):
    """dagster-dbt's dbt resource for the ``dbt`` beside this Python.

    dagster-dbt asks that executable for its version (``dbt --version``, a subprocess that
    costs each refresh about 2 s) to choose between dbt Core and dbt Fusion; the executable
    beside this Python is the dbt Core of this environment, whose version dagster-dbt has
    already read from the installed package (tests/test_pipeline.py holds them equal).
    """
    from functools import cached_property

    from dagster_dbt import DbtCliResource
    from dagster_dbt.compat import DBT_PYTHON_VERSION

    class EnvironmentDbtCliResource(DbtCliResource):
        @cached_property
        def _cli_version(self):
            return DBT_PYTHON_VERSION

    return EnvironmentDbtCliResource(
        project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))
    )


def build_resources(settings: Settings, dbt_project) -> dict:
    return {
        "dbt": dbt_resource(dbt_project),
        "warehouse": Warehouse(database=str(settings.warehouse), work=str(settings.work)),
        "landing": Landing(
            landing=str(settings.landing),
            mappings=str(settings.mappings),
            private_tmp=str(settings.private_tmp),
            max_patient_drop=settings.max_patient_drop,
        ),
        "study": Study(
            cutoff=settings.cutoff.isoformat(),
            output=str(settings.output),
            analyst=str(settings.analyst),
        ),
    }
