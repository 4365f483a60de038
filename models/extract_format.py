"""The consortium extract format, version 1 (``shared/spec/extract-format.md``), as data contracts.

One pandera ``DataFrameModel`` per canonical entity describes a *staged* row of that
entity (canonical names, codes and types): required columns are not nullable, codes are
``isin`` lists, ranges are ``ge``/``le``, and ``Config.unique`` is the per-patient key whose
repetition is a duplicate. Everything else is derived from these classes: the loader's and
staging's column lists (:data:`ENTITIES`), the row-level quarantine rules that the generated
dbt staging applies set-wise, the check registry, the generator and the tests. PHI flags
live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

EXTRACT_FORMAT_VERSION = "1"

YES_NO = ["yes", "no"]


def _field(
    kind: str,
    *,
    required: bool = False,
    phi: bool = False,
    unit: str | None = None,
    notes: str = "",
    **checks,
):
    return pa.Field(
        nullable=not required,
        coerce=True,
        **checks,
        metadata={"kind": kind, "required": required, "phi": phi, "unit": unit, "notes": notes},
    )


def text(**kw):
    return _field("text", **kw)


def code(values: list[str], **kw):
    return _field("code", isin=values, **kw)


def date(**kw):
    return _field("date", **kw)


def integer(**kw):
    return _field("integer", **kw)


def decimal(**kw):
    return _field("decimal", **kw)


class Patients(pa.DataFrameModel):
    """patients.csv - one row per patient."""

    centre_patient_id: Series[str] = text(required=True, notes="unique within the centre")
    mrn: Series[str] = text(required=True, phi=True, notes="hospital medical record number")
    full_name: Series[str] = text(required=True, phi=True)
    date_of_birth: Series[pa.DateTime] = date(
        required=True, phi=True, notes="used only to derive age at infusion"
    )
    sex: Series[str] = code(["m", "f"], required=True)
    diagnosis_date: Series[pa.DateTime] = date()
    ph_status: Series[str] = code(["positive", "negative", "unknown"], required=True)
    prior_therapy_lines: Series[pd.Int64Dtype] = integer(required=True, ge=0)
    relapse_count: Series[pd.Int64Dtype] = integer(
        required=True, ge=0, notes="relapses before CAR-T"
    )
    disease_status: Series[str] = code(["relapsed", "refractory"], required=True)
    prior_hsct: Series[str] = code(
        YES_NO, required=True, notes="allogeneic transplant before CAR-T"
    )
    bm_blasts_pct_pre: Series[float] = decimal(
        required=True, ge=0, le=100, notes="marrow blasts before lymphodepletion, %"
    )
    extramedullary_pre: Series[str] = code(YES_NO)
    weight_kg: Series[float] = decimal(gt=0, unit="kg")
    reported_crs_grade: Series[pd.Int64Dtype] = integer(ge=0, le=5)
    reported_icans_grade: Series[pd.Int64Dtype] = integer(ge=0, le=5)
    reported_grading_system: Series[str] = code(
        ["astct2019", "lee2014", "ctcae5", "penn", "cartox"]
    )

    class Config:
        unique = ["centre_patient_id"]


class Infusions(pa.DataFrameModel):
    """infusions.csv - one row per CAR-T infusion."""

    centre_patient_id: Series[str] = text(required=True)
    infusion_number: Series[pd.Int64Dtype] = integer(
        required=True, ge=1, notes="1 = the index infusion, day 0"
    )
    infusion_date: Series[pa.DateTime] = date(required=True)
    cell_dose_per_kg: Series[float] = decimal(required=True, gt=0, notes="CAR-T cells per kg")
    product_name: Series[str] = text()
    costimulatory_domain: Series[str] = code(["4-1bb", "cd28", "other"])
    lymphodepletion: Series[str] = code(["flu_cy", "other", "none"])

    class Config:
        unique = ["centre_patient_id", "infusion_number"]


class DailyObservations(pa.DataFrameModel):
    """daily_observations.csv - one row per patient per calendar day."""

    centre_patient_id: Series[str] = text(required=True)
    obs_date: Series[pa.DateTime] = date(required=True)
    tmax_c: Series[float] = decimal(ge=30, le=45, unit="degC")
    fever_other_cause: Series[str] = code(YES_NO)
    hypotension: Series[str] = code(YES_NO)
    vasopressor_count: Series[pd.Int64Dtype] = integer(ge=0)
    vasopressin: Series[str] = code(YES_NO)
    oxygen_device: Series[str] = code(
        [
            "none",
            "nasal_cannula",
            "blow_by",
            "high_flow_nasal_cannula",
            "facemask",
            "non_rebreather",
            "venturi",
            "cpap",
            "bipap",
            "mechanical_ventilation",
        ]
    )
    oxygen_flow_l_min: Series[float] = decimal(ge=0, unit="l/min")
    ice_score: Series[pd.Int64Dtype] = integer(ge=0, le=10)
    capd_score: Series[pd.Int64Dtype] = integer(ge=0, le=32)
    consciousness: Series[str] = code(
        ["alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile", "unarousable"]
    )
    seizure: Series[str] = code(["none", "resolved_rapidly", "prolonged_or_repetitive"])
    motor_weakness: Series[str] = code(YES_NO)
    cerebral_edema: Series[str] = code(["none", "focal", "diffuse"])
    raised_icp_signs: Series[str] = code(YES_NO)
    neuro_other_cause: Series[str] = code(YES_NO)

    class Config:
        unique = ["centre_patient_id", "obs_date"]


class Labs(pa.DataFrameModel):
    """labs.csv - long format."""

    centre_patient_id: Series[str] = text(required=True)
    sample_date: Series[pa.DateTime] = date(required=True)
    analyte: Series[str] = code(["il6", "ferritin", "crp"], required=True)
    value: Series[float] = decimal(required=True, ge=0)
    unit: Series[str] = code(["pg/ml", "ng/l", "ng/ml", "ug/l", "mg/l", "mg/dl"], required=True)

    class Config:
        unique = ["centre_patient_id", "sample_date", "analyte"]


class CarTKinetics(pa.DataFrameModel):
    """car_t_kinetics.csv - CAR transgene by qPCR."""

    centre_patient_id: Series[str] = text(required=True)
    sample_date: Series[pa.DateTime] = date(required=True)
    specimen: Series[str] = code(["peripheral_blood", "bone_marrow"], required=True)
    copies_per_ug_gdna: Series[float] = decimal(required=True, ge=0, notes="0 = below detection")

    class Config:
        unique = ["centre_patient_id", "sample_date", "specimen"]


class Treatments(pa.DataFrameModel):
    """treatments.csv - toxicity management."""

    centre_patient_id: Series[str] = text(required=True)
    admin_date: Series[pa.DateTime] = date(required=True)
    drug: Series[str] = code(
        [
            "tocilizumab",
            "dexamethasone",
            "methylprednisolone",
            "prednisone",
            "prednisolone",
            "hydrocortisone",
            "siltuximab",
            "anakinra",
        ],
        required=True,
    )
    dose: Series[float] = decimal(required=True, gt=0, notes="total given that day")
    dose_unit: Series[str] = code(["mg", "mg_per_kg"], required=True)
    indication: Series[str] = code(["crs", "icans", "other"])

    class Config:
        unique = ["centre_patient_id", "admin_date", "drug"]


class ResponseAssessments(pa.DataFrameModel):
    """response_assessments.csv."""

    centre_patient_id: Series[str] = text(required=True)
    assessment_date: Series[pa.DateTime] = date(required=True)
    bm_blasts_pct: Series[float] = decimal(ge=0, le=100)
    circulating_blasts: Series[str] = code(YES_NO)
    extramedullary_disease: Series[str] = code(["yes", "no", "not_assessed"])
    mrd_pct: Series[float] = decimal(ge=0, le=100)

    class Config:
        unique = ["centre_patient_id", "assessment_date"]


class FollowUpEvents(pa.DataFrameModel):
    """follow_up_events.csv."""

    centre_patient_id: Series[str] = text(required=True)
    event_date: Series[pa.DateTime] = date(required=True)
    event_type: Series[str] = code(["relapse", "death", "last_contact", "allo_hsct"], required=True)
    relapse_site: Series[str] = code(["bone_marrow", "extramedullary", "cns", "combined"])
    cd19_status: Series[str] = code(["positive", "negative", "unknown"])
    death_cause: Series[str] = code(
        ["disease", "crs", "icans", "infection", "transplant", "other", "unknown"]
    )

    class Config:
        unique = ["centre_patient_id", "event_date", "event_type"]


CONTRACTS: dict[str, type[pa.DataFrameModel]] = {
    "patients": Patients,
    "infusions": Infusions,
    "daily_observations": DailyObservations,
    "labs": Labs,
    "car_t_kinetics": CarTKinetics,
    "treatments": Treatments,
    "response_assessments": ResponseAssessments,
    "follow_up_events": FollowUpEvents,
}


@dataclass(frozen=True)
class Column:
    """One canonical column, read off its pandera field."""

    name: str
    dtype: str  # text | date | integer | decimal | code
    required: bool = False
    phi: bool = False
    codes: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    minimum_exclusive: bool = False
    unit: str | None = None
    notes: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...] = field(default_factory=tuple)
    key: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


def _column(name: str, schema_column) -> Column:
    meta = schema_column.metadata or {}
    stats: dict = {}
    exclusive = False
    for check in schema_column.checks:
        stats.update(check.statistics)
        exclusive |= check.name == "greater_than"
    return Column(
        name=name,
        dtype=meta["kind"],
        required=meta["required"],
        phi=meta["phi"],
        codes=tuple(stats.get("allowed_values", ())),
        minimum=stats.get("min_value"),
        maximum=stats.get("max_value"),
        minimum_exclusive=exclusive,
        unit=meta.get("unit"),
        notes=meta.get("notes", ""),
    )


def _entity(name: str, model: type[pa.DataFrameModel]) -> Entity:
    schema = model.to_schema()
    return Entity(
        name=name,
        columns=tuple(_column(n, c) for n, c in schema.columns.items()),
        key=tuple(schema.unique or ()),
    )


ENTITIES: dict[str, Entity] = {name: _entity(name, model) for name, model in CONTRACTS.items()}

PHI_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in e.columns if c.phi) for name, e in ENTITIES.items()
}
