"""Settings from ``CARTWH_*`` environment variables, read once per process.

Every entry point (the CLI, the Dagster code location, the dbt plugin) calls
:func:`read_settings` once and passes the :class:`Settings` on as an argument.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cartwh.parameters import StudyParameters, study_parameters
from cartwh.project import DEFAULT_MAPPINGS_DIR

DEMO_SECRET = "cartwh-demo-secret-change-me"

#: every environment variable the code reads -> (default, meaning); the README's table
VARIABLES: dict[str, tuple[str, str]] = {
    "CARTWH_DATA": ("data", "folder of the defaults below"),
    "CARTWH_LANDING": ("$CARTWH_DATA/landing", "landing folder"),
    "CARTWH_WAREHOUSE": ("$CARTWH_DATA/warehouse.duckdb", "DuckDB warehouse file"),
    "CARTWH_OUTPUT": ("$CARTWH_DATA/output", "reports, figures, exported tables"),
    "CARTWH_CUTOFF": ("`cutoff` of dbt_project.yml (2023-03-01)", "data cut-off date"),
    "CARTWH_SECRET": ("a demo key", "pseudonymisation key (HMAC-SHA256)"),
    "CARTWH_MAPPINGS": ("mappings/", "centre registry and mapping files"),
    "CARTWH_DBT_WORK": ("<warehouse>_dbt/ beside the warehouse", "dbt's target and logs"),
    "DAGSTER_HOME": ("$CARTWH_DATA/dagster_home", "Dagster run history (refresh and ui)"),
    "CARTWH_DBT_GENERATED": ("set by cartwh", "for dbt: this warehouse's generated staging"),
}


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable and the fix."""


@dataclass(frozen=True)
class Settings:
    landing: Path
    warehouse: Path
    output: Path
    cutoff: date
    secret: str
    mappings: Path
    dagster_home: Path
    dbt_work: Path

    @property
    def study(self) -> StudyParameters:
        """The study's parameters with this run's cut-off."""
        return study_parameters().with_cutoff(self.cutoff)

    @property
    def dbt_generated(self) -> str:
        """Folder of this warehouse's generated dbt staging, relative to dbt_project/.

        Relative because dbt writes compiled tests under target/<original_file_path>.
        """
        digest = hashlib.sha256(str(self.warehouse).encode()).hexdigest()[:12]
        return f"generated/{self.warehouse.stem}-{digest}"


def read_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``environ`` (default: this process's environment)."""
    env = os.environ if environ is None else environ

    def path(name: str, default: Path) -> Path:
        value = env.get(name)
        return Path(value).expanduser().resolve() if value else default.resolve()

    data = Path(env.get("CARTWH_DATA") or "data")
    cutoff_text = env.get("CARTWH_CUTOFF")
    try:
        cutoff = date.fromisoformat(cutoff_text) if cutoff_text else study_parameters().cutoff
    except ValueError:
        raise SettingsError(
            f"CARTWH_CUTOFF={cutoff_text!r} is not a date: write it as YYYY-MM-DD"
        ) from None
    warehouse = path("CARTWH_WAREHOUSE", data / "warehouse.duckdb")
    return Settings(
        landing=path("CARTWH_LANDING", data / "landing"),
        warehouse=warehouse,
        output=path("CARTWH_OUTPUT", data / "output"),
        cutoff=cutoff,
        secret=env.get("CARTWH_SECRET") or DEMO_SECRET,
        mappings=path("CARTWH_MAPPINGS", DEFAULT_MAPPINGS_DIR),
        dagster_home=path("DAGSTER_HOME", data / "dagster_home"),
        dbt_work=path("CARTWH_DBT_WORK", warehouse.with_name(warehouse.stem + "_dbt")),
    )
