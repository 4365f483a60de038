"""How the study names its variables: a human label, a unit and level labels for every mart
column the tables, figures and sentences show. Data only, beside the analysis plan
(:mod:`analysis_assets.study`); the report, the tables and the figures all read it, so a label
is written once (``peak_il6_pg_ml`` -> "Peak IL-6, pg/mL").

A column's values can be shown on a scale (``cell_dose_per_kg`` in 10⁶ cells/kg): ``scale``
divides the stored value and ``unit`` names the scaled unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis_assets.study import COMPARISONS, TOXICITY_GROUP_CODES

__all__ = [
    "Variable",
    "VARIABLES",
    "YES_NO",
    "variable",
    "label",
    "level_label",
    "field_label",
]


@dataclass(frozen=True)
class Variable:
    """A mart column as people read it."""

    label: str
    unit: str = ""
    #: stored code -> label, in display order (booleans: True/False)
    levels: dict = field(default_factory=dict)
    #: stored value / scale = the value in ``unit``
    scale: float = 1.0

    def with_unit(self) -> str:
        """``Peak IL-6, pg/mL`` (the label alone when there is no unit)."""
        return f"{self.label}, {self.unit}" if self.unit else self.label


YES_NO = {True: "Yes", False: "No"}

VARIABLES: dict[str, Variable] = {
    # cohort
    "centre_code": Variable("Centre"),
    "infusion_year": Variable("Year of infusion"),
    "age_at_infusion": Variable("Age at infusion", "years"),
    "sex": Variable("Sex", levels={"m": "Male", "f": "Female"}),
    "ph_status": Variable(
        "Philadelphia chromosome", levels={"positive": "Ph-positive", "negative": "Ph-negative"}
    ),
    "prior_therapy_lines": Variable("Prior therapy lines"),
    "relapse_count": Variable("Relapses before CAR-T"),
    "disease_status": Variable(
        "Disease status", levels={"relapsed": "Relapsed", "refractory": "Refractory"}
    ),
    "prior_hsct": Variable("Allogeneic HSCT before CAR-T", levels=YES_NO),
    "bm_blasts_pct_pre": Variable("BM blasts before lymphodepletion", "%"),
    "bm_blasts_ge_20": Variable(
        "BM blasts ≥ 20%", levels={True: "BM blasts ≥ 20%", False: "BM blasts < 20%"}
    ),
    "extramedullary_pre": Variable("Extramedullary disease before CAR-T", levels=YES_NO),
    "weight_kg": Variable("Weight", "kg"),
    "cell_dose_per_kg": Variable("CAR-T cell dose", "× 10⁶ cells/kg", scale=1e6),
    # toxicity (crs and icans: the comparisons of Table 1, by CRS / ICANS of any grade)
    "crs": Variable("CRS"),
    "icans": Variable("ICANS"),
    "crs_max_grade": Variable("Maximum CRS grade (ASTCT)"),
    "icans_max_grade": Variable("Maximum ICANS grade (ASTCT)"),
    "crs_onset_day": Variable("CRS onset", "day"),
    "icans_onset_day": Variable("ICANS onset", "day"),
    "severe_crs_onset_day": Variable("Severe CRS onset", "day"),
    "severe_icans_onset_day": Variable("Severe ICANS onset", "day"),
    "crs_duration_days": Variable("CRS duration", "days"),
    "icans_duration_days": Variable("ICANS duration", "days"),
    "concurrent_crs_icans": Variable("CRS and ICANS", levels=YES_NO),
    "toxicity_group": Variable(
        "Toxicity group",
        levels=dict(zip(TOXICITY_GROUP_CODES, COMPARISONS["toxicity_group"].groups)),
    ),
    "received_tocilizumab": Variable("Received tocilizumab", levels=YES_NO),
    "tocilizumab_total_mg": Variable("Cumulative tocilizumab", "mg"),
    "tocilizumab_first_day": Variable("First tocilizumab", "day"),
    "tocilizumab_duration_days": Variable("Tocilizumab duration", "days"),
    "received_steroids": Variable("Received corticosteroids", levels=YES_NO),
    "steroid_dex_equiv_mg": Variable("Cumulative corticosteroids", "mg dexamethasone equivalent"),
    "steroid_first_day": Variable("First corticosteroid", "day"),
    "steroid_duration_days": Variable("Corticosteroid duration", "days"),
    # biomarkers
    "peak_il6_pg_ml": Variable("Peak IL-6", "pg/mL"),
    "peak_ferritin_ng_ml": Variable("Peak ferritin", "ng/mL"),
    "peak_car_copies": Variable("Peak CAR copies", "copies/µg gDNA"),
    # response and survival
    "cr_day30": Variable("CR at day 30", levels=YES_NO),
    "mrd_negative_cr": Variable("MRD-negative CR", levels=YES_NO),
    "os_months": Variable("Overall survival", "months"),
    "lfs_months": Variable("Leukaemia-free survival", "months"),
}


def variable(column: str) -> Variable:
    """The registry entry of ``column``; an unknown column gets its name as its label."""
    return VARIABLES.get(column) or Variable(column)


def label(column: str, unit: bool = True) -> str:
    """``Peak IL-6, pg/mL`` (or ``Peak IL-6`` with ``unit=False``)."""
    v = variable(column)
    return v.with_unit() if unit else v.label


def level_label(column: str, code) -> str:
    """The label of one stored value of ``column`` (its text when the registry has none)."""
    levels = variable(column).levels
    if code in levels:
        return levels[code]
    if isinstance(code, str) and code.lower() in ("true", "false", "yes", "no"):
        return levels.get(code.lower() in ("true", "yes"), code)
    return str(code)


#: units of the extract format (``models/extract_format.py``) as printed
_FIELD_UNITS = {"degC": "°C", "l/min": "L/min"}


def field_label(entity: str, column: str) -> str:
    """A delivered field of the extract format as people read it (``daily_observations``,
    ``tmax_c`` -> "Highest temperature that day, °C"): the study's label when the registry
    has the column, else the field's notes up to their first ``:`` or ``;`` with its unit, so
    the label is written once, in the extract format."""
    import re

    from models.extract_format import ENTITIES

    if column in VARIABLES:
        return label(column)
    columns = {c.name: c for c in ENTITIES[entity].columns} if entity in ENTITIES else {}
    field_ = columns.get(column)
    if field_ is None or not field_.notes:
        return column.replace("_", " ")
    words = re.split(r"[:;]", field_.notes)[0].strip()
    words = words[0].upper() + words[1:]
    unit = _FIELD_UNITS.get(field_.unit or "", field_.unit)
    return f"{words}, {unit}" if unit else words
