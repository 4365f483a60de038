"""Resources, configured from the ``CARTWH_*`` environment variables."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path

from dagster import ConfigurableResource
from dagster_duckdb import DuckDBResource

from cartwh.config import Settings
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
    """Where centres drop deliveries, and where the mapping files live."""

    landing: str
    mappings: str

    @property
    def landing_path(self) -> Path:
        return Path(self.landing)

    @property
    def mappings_path(self) -> Path:
        return Path(self.mappings)


class Study(ConfigurableResource):
    """Study-wide settings: the data cut-off and where outputs go."""

    cutoff: str
    output: str

    @property
    def dbt_vars(self) -> str:
        import json

        return json.dumps({"cutoff": self.cutoff})


def build_resources(settings: Settings, dbt_project) -> dict:
    from dagster_dbt import DbtCliResource

    return {
        "dbt": DbtCliResource(
            project_dir=dbt_project, dbt_executable=str(Path(sys.executable).with_name("dbt"))
        ),
        "warehouse": Warehouse(database=str(settings.warehouse)),
        "landing": Landing(landing=str(settings.landing), mappings=str(settings.mappings)),
        "study": Study(cutoff=settings.cutoff.isoformat(), output=str(settings.output)),
    }
