"""The ground floor: where the project's own files are and the fixed facts read from them.

Every module may import this one; it imports nothing of the project but the contracts.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_MAPPINGS_DIR = PROJECT_ROOT / "mappings"
VENDOR_DIR = PROJECT_ROOT / "vendor"
WORKSPACE_FILE = PROJECT_ROOT / "workspace.yaml"

#: entity -> its date column, the one a wide layout's study days are counted from
DATE_COLUMN = {
    "daily_observations": "obs_date",
    "labs": "sample_date",
    "car_t_kinetics": "sample_date",
    "treatments": "admin_date",
    "response_assessments": "assessment_date",
    "follow_up_events": "event_date",
    "infusions": "infusion_date",
}


@lru_cache(maxsize=1)
def unit_conversions() -> dict[tuple[str, str], tuple[float, float]]:
    """(canonical column, delivered unit) -> (scale, shift), from dbt's seed unit_conversions."""
    with open(DBT_PROJECT_DIR / "seeds" / "unit_conversions.csv", encoding="utf-8") as handle:
        return {
            (r["quantity"], r["from_unit"]): (float(r["scale"]), float(r["shift"]))
            for r in csv.DictReader(handle)
        }
