"""What every report section shares: its inputs, html escaping and the patient table."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis_assets import study
from analysis_assets.formatting import comparison_label
from analysis_assets.provenance import Provenance

Tables = dict[str, pd.DataFrame]

__all__ = ["ReportInputs", "Tables", "escape", "patients", "flag", "significant_by"]


@dataclass(frozen=True)
class ReportInputs:
    """What the report sections read: tables by bare name, figure files by stem, provenance."""

    tables: Tables
    figures: dict[str, list[Path]]
    provenance: Provenance | None


def escape(value) -> str:
    """``value`` as html text (None -> empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def patients(t: Tables) -> pd.DataFrame | None:
    """``patient_outcomes`` when present and not empty."""
    po = t.get("patient_outcomes")
    return po if po is not None and len(po) else None


def flag(po: pd.DataFrame, column: str) -> pd.Series:
    """A yes/no column as booleans, missing as False."""
    return po[column].astype("boolean").fillna(False).astype(bool)


def significant_by(tests: pd.DataFrame) -> str:
    """``did not differ significantly by any comparison`` or ``differed significantly by ...``
    (p below ``METHODS.significance_level``)."""
    alpha = study.METHODS.significance_level
    significant = tests[pd.to_numeric(tests["p_value"], errors="coerce") < alpha]
    if not len(significant):
        return f"did not differ significantly by any comparison (α = {alpha:g})"
    names = ", ".join(comparison_label(c) for c in significant["comparison"])
    return f"differed significantly (α = {alpha:g}) by {names}"
