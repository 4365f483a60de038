"""The ground floor: where the project's own files are and the fixed facts read from them.

Every module may import this one; it imports nothing of the project. (The entities, their
columns, codes and date columns are the contracts' facts: :mod:`models.extract_format`.)
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


@lru_cache(maxsize=1)
def unit_conversions() -> dict[tuple[str, str], tuple[float, float]]:
    """(canonical column, delivered unit) -> (scale, shift), from dbt's seed unit_conversions."""
    with open(DBT_PROJECT_DIR / "seeds" / "unit_conversions.csv", encoding="utf-8") as handle:
        return {
            (r["quantity"], r["from_unit"]): (float(r["scale"]), float(r["shift"]))
            for r in csv.DictReader(handle)
        }
