"""The consortium extract format, version 1 (``shared/spec/extract-format.md``), as data contracts.

One pandera ``DataFrameModel`` per canonical entity describes a *staged* row of that
entity (canonical names, codes and types): required columns are not nullable, codes are
``isin`` lists, ranges are ``ge``/``le``, and ``Config.unique`` is the per-patient key whose
repetition is a duplicate. Everything else is derived from these classes: the loader's and
staging's column lists (:data:`ENTITIES`), the rules that the generated dbt staging
applies set-wise (a bad value is set to missing, a bad key field quarantines the row), the
check registry, the generator, the column descriptions and code lists of the intermediate
dbt models (kept equal by ``tests/test_contracts.py``) and the
tests. PHI flags live here and nowhere else; so does each entity's row date (``anchor``:
:attr:`Entity.date_column`).
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
    anchor: bool = False,
    **checks,
):
    """A canonical column. ``notes``: what the value is (documentation, dbt descriptions);
    ``anchor``: the date that places the entity's row in time (its :attr:`Entity.date_column`:
    last known alive, records after the cut-off, the day of a wide layout's cell)."""
    return pa.Field(
        nullable=not required,
        coerce=True,
        **checks,
        metadata={
            "kind": kind,
            "required": required,
            "phi": phi,
            "unit": unit,
            "notes": notes,
            "anchor": anchor,
        },
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

    centre_patient_id: Series[str] = text(
        required=True, notes="unique within the centre, stable across deliveries"
    )
    mrn: Series[str] = text(required=True, phi=True, notes="hospital medical record number")
    full_name: Series[str] = text(required=True, phi=True, notes="the patient's name")
    date_of_birth: Series[pa.DateTime] = date(
        required=True, phi=True, notes="used only to derive age at infusion"
    )
    sex: Series[str] = code(["m", "f"], required=True, notes="sex")
    diagnosis_date: Series[pa.DateTime] = date(notes="date of diagnosis")
    ph_status: Series[str] = code(
        ["positive", "negative", "unknown"], required=True, notes="Philadelphia chromosome"
    )
    prior_therapy_lines: Series[pd.Int64Dtype] = integer(
        required=True, ge=0, notes="lines of therapy before CAR-T"
    )
    relapse_count: Series[pd.Int64Dtype] = integer(
        required=True, ge=0, notes="relapses before CAR-T"
    )
    disease_status: Series[str] = code(
        ["relapsed", "refractory"], required=True, notes="disease status before CAR-T"
    )
    prior_hsct: Series[str] = code(
        YES_NO, required=True, notes="allogeneic transplant before CAR-T"
    )
    bm_blasts_pct_pre: Series[float] = decimal(
        required=True, ge=0, le=100, notes="marrow blasts before lymphodepletion, %"
    )
    extramedullary_pre: Series[str] = code(YES_NO, notes="extramedullary disease before CAR-T")
    weight_kg: Series[float] = decimal(
        gt=0, unit="kg", notes="body weight, used to convert mg/kg doses"
    )
    reported_crs_grade: Series[pd.Int64Dtype] = integer(
        ge=0, le=5, notes="the centre's own recorded maximum CRS grade"
    )
    reported_icans_grade: Series[pd.Int64Dtype] = integer(
        ge=0, le=5, notes="the centre's own recorded maximum ICANS grade"
    )
    reported_grading_system: Series[str] = code(
        ["astct2019", "lee2014", "ctcae5", "penn", "cartox"],
        notes="system behind the two reported grades",
    )

    class Config:
        unique = ["centre_patient_id"]


class Infusions(pa.DataFrameModel):
    """infusions.csv - one row per CAR-T infusion."""

    centre_patient_id: Series[str] = text(required=True, notes="the centre's patient id")
    infusion_number: Series[pd.Int64Dtype] = integer(
        required=True, ge=1, notes="1 = the index infusion, day 0 of every clock"
    )
    infusion_date: Series[pa.DateTime] = date(
        required=True, anchor=True, notes="date of the infusion"
    )
    cell_dose_per_kg: Series[float] = decimal(required=True, gt=0, notes="CAR-T cells per kg")
    product_name: Series[str] = text(notes="CAR-T product")
    costimulatory_domain: Series[str] = code(
        ["4-1bb", "cd28", "other"], notes="costimulatory domain of the construct"
    )
    lymphodepletion: Series[str] = code(
        ["flu_cy", "other", "none"], notes="lymphodepleting regimen"
    )

    class Config:
        unique = ["centre_patient_id", "infusion_number"]


class DailyObservations(pa.DataFrameModel):
    """daily_observations.csv - one row per patient per calendar day."""

    centre_patient_id: Series[str] = text(required=True, notes="the centre's patient id")
    obs_date: Series[pa.DateTime] = date(
        required=True, anchor=True, notes="the calendar day observed"
    )
    tmax_c: Series[float] = decimal(ge=30, le=45, unit="degC", notes="highest temperature that day")
    fever_other_cause: Series[str] = code(
        YES_NO, notes="fever attributed to another cause (e.g. documented infection)"
    )
    hypotension: Series[str] = code(YES_NO, notes="hypotension: SBP < 90 mmHg or below age norm")
    vasopressor_count: Series[pd.Int64Dtype] = integer(
        ge=0, notes="vasopressors other than vasopressin in use that day"
    )
    vasopressin: Series[str] = code(YES_NO, notes="vasopressin in use that day")
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
        ],
        notes="most intensive oxygen device that day",
    )
    oxygen_flow_l_min: Series[float] = decimal(
        ge=0, unit="l/min", notes="oxygen flow; a nasal_cannula above 6 L/min counts as high flow"
    )
    ice_score: Series[pd.Int64Dtype] = integer(
        ge=0, le=10, notes="ICE encephalopathy score, worst that day"
    )
    capd_score: Series[pd.Int64Dtype] = integer(
        ge=0, le=32, notes="CAPD score for children under 12, worst that day"
    )
    consciousness: Series[str] = code(
        ["alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile", "unarousable"],
        notes="worst level of consciousness that day",
    )
    seizure: Series[str] = code(
        ["none", "resolved_rapidly", "prolonged_or_repetitive"], notes="seizures that day"
    )
    motor_weakness: Series[str] = code(
        YES_NO, notes="deep focal motor weakness (hemiparesis, paraparesis)"
    )
    cerebral_edema: Series[str] = code(
        ["none", "focal", "diffuse"], notes="cerebral oedema on neuroimaging"
    )
    raised_icp_signs: Series[str] = code(
        YES_NO,
        notes="signs of raised intracranial pressure: posturing, CN VI palsy, papilledema or "
        "Cushing's triad",
    )
    neuro_other_cause: Series[str] = code(
        YES_NO, notes="neurological findings attributed to another cause"
    )

    class Config:
        unique = ["centre_patient_id", "obs_date"]


class Labs(pa.DataFrameModel):
    """labs.csv - long format."""

    centre_patient_id: Series[str] = text(required=True, notes="the centre's patient id")
    sample_date: Series[pa.DateTime] = date(required=True, anchor=True, notes="date of the sample")
    analyte: Series[str] = code(["il6", "ferritin", "crp"], required=True, notes="lab analyte")
    value: Series[float] = decimal(required=True, ge=0, notes="measured value, in unit")
    unit: Series[str] = code(
        ["pg/ml", "ng/l", "ng/ml", "ug/l", "mg/l", "mg/dl"],
        required=True,
        notes="unit of value: il6 pg/ml (= ng/l), ferritin ng/ml (= ug/l), crp mg/l (mg/dl x 10)",
    )

    class Config:
        unique = ["centre_patient_id", "sample_date", "analyte"]


class CarTKinetics(pa.DataFrameModel):
    """car_t_kinetics.csv - CAR transgene by qPCR."""

    centre_patient_id: Series[str] = text(required=True, notes="the centre's patient id")
    sample_date: Series[pa.DateTime] = date(required=True, anchor=True, notes="date of the sample")
    specimen: Series[str] = code(
        ["peripheral_blood", "bone_marrow"], required=True, notes="specimen sampled"
    )
    copies_per_ug_gdna: Series[float] = decimal(
        required=True, ge=0, notes="CAR transgene copies per ug genomic DNA; 0 = below detection"
    )

    class Config:
        unique = ["centre_patient_id", "sample_date", "specimen"]


class Treatments(pa.DataFrameModel):
    """treatments.csv - toxicity management."""

    centre_patient_id: Series[str] = text(required=True, notes="the centre's patient id")
    admin_date: Series[pa.DateTime] = date(
        required=True, anchor=True, notes="day of administration"
    )
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
        notes="toxicity-management drug",
    )
    dose: Series[float] = decimal(
        required=True, gt=0, notes="total given that day, in the dose unit"
    )
    dose_unit: Series[str] = code(
        ["mg", "mg_per_kg"],
        required=True,
        notes="unit of dose; mg/kg is converted with the patient's weight",
    )
    indication: Series[str] = code(["crs", "icans", "other"], notes="toxicity treated")

    class Config:
        unique = ["centre_patient_id", "admin_date", "drug"]


class ResponseAssessments(pa.DataFrameModel):
    """response_assessments.csv."""

    centre_patient_id: Series[str] = text(required=True, notes="the centre's patient id")
    assessment_date: Series[pa.DateTime] = date(
        required=True, anchor=True, notes="date of the assessment"
    )
    bm_blasts_pct: Series[float] = decimal(
        ge=0, le=100, notes="bone-marrow blasts by morphology, %"
    )
    circulating_blasts: Series[str] = code(YES_NO, notes="blasts in peripheral blood")
    extramedullary_disease: Series[str] = code(
        ["yes", "no", "not_assessed"], notes="extramedullary disease by CT or PET"
    )
    mrd_pct: Series[float] = decimal(
        ge=0, le=100, notes="multicolour flow MRD, % of nucleated cells"
    )

    class Config:
        unique = ["centre_patient_id", "assessment_date"]


class FollowUpEvents(pa.DataFrameModel):
    """follow_up_events.csv."""

    centre_patient_id: Series[str] = text(required=True, notes="the centre's patient id")
    event_date: Series[pa.DateTime] = date(required=True, anchor=True, notes="date of the event")
    event_type: Series[str] = code(
        ["relapse", "death", "last_contact", "allo_hsct"], required=True, notes="kind of event"
    )
    relapse_site: Series[str] = code(
        ["bone_marrow", "extramedullary", "cns", "combined"], notes="site of a relapse"
    )
    cd19_status: Series[str] = code(
        ["positive", "negative", "unknown"], notes="CD19 status at a relapse"
    )
    death_cause: Series[str] = code(
        ["disease", "crs", "icans", "infection", "transplant", "other", "unknown"],
        notes="cause of a death",
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

#: entities every delivery must hold a file for (the spec: "patients.csv and infusions.csv are
#: required in every delivery"); any other file may be omitted ("no records of that kind")
REQUIRED_ENTITIES = ("patients", "infusions")


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
    anchor: bool = False

    @property
    def description(self) -> str:
        """One sentence for documentation (the intermediate dbt ymls): the notes, then the
        type with its range, unit or codes, e.g. "Highest temperature that day (decimal 30 to
        45 degC)."."""
        detail = self.dtype
        if self.codes:
            detail += " " + " / ".join(self.codes)
        low = None if self.minimum is None else f"{self.minimum:g}"
        high = None if self.maximum is None else f"{self.maximum:g}"
        if low is not None and high is not None:
            detail += f" {low} to {high}"
        elif low is not None:
            detail += f" {'>' if self.minimum_exclusive else '>='} {low}"
        elif high is not None:
            detail += f" <= {high}"
        if self.unit:
            detail += f" {self.unit}"
        if self.required:
            detail += "; required"
        notes = self.notes[:1].upper() + self.notes[1:]
        return f"{notes} ({detail})." if notes else f"{detail[:1].upper()}{detail[1:]}."


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...] = field(default_factory=tuple)
    key: tuple[str, ...] = ()
    date_column: str | None = None
    """The date that places a row in time (the column marked ``anchor``); None for patients."""
    required: bool = False
    """Every delivery must hold a file of this entity (:data:`REQUIRED_ENTITIES`)."""

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
        anchor=meta.get("anchor", False),
    )


def _entity(name: str, model: type[pa.DataFrameModel]) -> Entity:
    schema = model.to_schema()
    columns = tuple(_column(n, c) for n, c in schema.columns.items())
    anchors = [c.name for c in columns if c.anchor]
    if len(anchors) > 1 or any(c.anchor and c.dtype != "date" for c in columns):
        raise ValueError(f"{name}: at most one anchor column, a date ({anchors})")
    return Entity(
        name=name,
        columns=columns,
        key=tuple(schema.unique or ()),
        date_column=anchors[0] if anchors else None,
        required=name in REQUIRED_ENTITIES,
    )


ENTITIES: dict[str, Entity] = {name: _entity(name, model) for name, model in CONTRACTS.items()}

PHI_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in e.columns if c.phi) for name, e in ENTITIES.items()
}
