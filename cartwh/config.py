"""Settings from environment variables, with defaults under ``data/``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

DEFAULT_CUTOFF = "2023-03-01"
DEFAULT_SECRET = "cartwh-demo-secret-change-me"


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
    def dbt_generated(self) -> str:
        """Folder of this warehouse's generated dbt staging, relative to dbt_project/.

        Relative because dbt writes compiled tests under target/<original_file_path>.
        """
        import hashlib

        digest = hashlib.sha256(str(self.warehouse).encode()).hexdigest()[:12]
        return f"generated/{self.warehouse.stem}-{digest}"

    @property
    def lock_file(self) -> Path:
        return self.warehouse.with_name(self.warehouse.name + ".lock")


def _path(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default.resolve()


def get_settings() -> Settings:
    """Read the settings now (not at import), so that tests can change the environment."""
    data = Path(os.environ.get("CARTWH_DATA", "data"))
    from cartwh.mapping import DEFAULT_MAPPINGS_DIR

    cutoff_text = os.environ.get("CARTWH_CUTOFF", DEFAULT_CUTOFF)
    try:
        cutoff = date.fromisoformat(cutoff_text)
    except ValueError as exc:
        raise ValueError(f"CARTWH_CUTOFF={cutoff_text!r} is not an ISO date (YYYY-MM-DD)") from exc
    warehouse = _path("CARTWH_WAREHOUSE", data / "warehouse.duckdb")
    return Settings(
        landing=_path("CARTWH_LANDING", data / "landing"),
        warehouse=warehouse,
        output=_path("CARTWH_OUTPUT", data / "output"),
        cutoff=cutoff,
        secret=os.environ.get("CARTWH_SECRET", DEFAULT_SECRET),
        mappings=_path("CARTWH_MAPPINGS", DEFAULT_MAPPINGS_DIR),
        dagster_home=_path("DAGSTER_HOME", data / "dagster_home"),
        dbt_work=_path("CARTWH_DBT_WORK", warehouse.with_name(warehouse.stem + "_dbt")),
    )
