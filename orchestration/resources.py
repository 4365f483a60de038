"""Resources, configured from the :class:`cartwh.settings.Settings` of the process."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from cartwh.ingest.registry import CentreRegistry, load_registry
from cartwh.parameters import StudyParameters, study_parameters
from cartwh.settings import Settings
from cartwh.warehouse import write_lock


class Warehouse(DuckDBResource):
    """The DuckDB warehouse; writers hold the OS file lock beside it."""

    @contextmanager
    def write_lock(self):
        with write_lock(Path(self.database)):
            yield

    @contextmanager
    def write_connection(self):
        with write_lock(Path(self.database)):
            with self.get_connection() as conn:
                yield conn


class Landing(ConfigurableResource):
    """Where centres drop deliveries, the centre registry with its mapping files, the private
    folder for temporary copies of delivered data, and the acceptance gate's patient share."""

    landing: str
    mappings: str
    private_tmp: str
    max_patient_drop: float = 0.10

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def private_tmp_path(self) -> Path:
        return Path(self.private_tmp)

    def registry(self) -> CentreRegistry:
        return load_registry(Path(self.mappings))


class Study(ConfigurableResource):
    """Study-wide settings: the data cut-off (dbt var) and where outputs go."""

    cutoff: str
    output: str

    @property
    def parameters(self) -> StudyParameters:
        return study_parameters().with_cutoff(date.fromisoformat(self.cutoff))

    @property
    def dbt_vars(self) -> str:
        return self.parameters.dbt_vars()


def build_resources(settings: Settings, dbt_project) -> dict:
    from dagster_dbt import DbtCliResource

    return {
        "dbt": DbtCliResource(
            project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))
        ),
        "warehouse": Warehouse(database=str(settings.warehouse)),
        "landing": Landing(
            landing=str(settings.landing),
            mappings=str(settings.mappings),
            private_tmp=str(settings.private_tmp),
            max_patient_drop=settings.max_patient_drop,
        ),
        "study": Study(cutoff=settings.cutoff.isoformat(), output=str(settings.output)),
    }
