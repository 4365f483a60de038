"""The study's parameters, read from their one declaration: the vars of ``dbt_project.yml``.

dbt models use them as ``var(name)``; Python (figures, contracts, expectations, the demo
generator) reads the same values through :class:`StudyParameters`. Only the cut-off is
overridden at run time (``CARTWH_CUTOFF``, passed to dbt as ``--vars``).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import yaml

from cartwh.project import DBT_PROJECT_DIR


@dataclass(frozen=True)
class StudyParameters:
    cutoff: date
    toxicity_window_days: int
    response_window_first_day: int
    response_window_last_day: int
    steroid_min_daily_dex_mg: float
    steroid_max_daily_dex_mg: float
    biomarker_window_days: int
    car_auc_last_day: int

    def with_cutoff(self, cutoff: date) -> StudyParameters:
        return dataclasses.replace(self, cutoff=cutoff)

    def dbt_vars(self) -> str:
        """``--vars`` for dbt: the values that can differ from ``dbt_project.yml`` (the cut-off)."""
        return json.dumps({"cutoff": self.cutoff.isoformat()})


@lru_cache(maxsize=1)
def study_parameters() -> StudyParameters:
    """The declared parameters (default cut-off included), as typed values."""
    with open(DBT_PROJECT_DIR / "dbt_project.yml", encoding="utf-8") as handle:
        declared = yaml.safe_load(handle)["vars"]
    fields = {f.name: f.type for f in dataclasses.fields(StudyParameters)}
    missing = sorted(set(fields) - set(declared))
    if missing:
        raise RuntimeError(f"dbt_project.yml declares no var {missing}")
    values = {name: declared[name] for name in fields}
    values["cutoff"] = date.fromisoformat(str(values["cutoff"]))
    for name in (
        "toxicity_window_days",
        "response_window_first_day",
        "response_window_last_day",
        "biomarker_window_days",
        "car_auc_last_day",
    ):
        values[name] = int(values[name])
    for name in ("steroid_min_daily_dex_mg", "steroid_max_daily_dex_mg"):
        values[name] = float(values[name])
    return StudyParameters(**values)
