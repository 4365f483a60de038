"""The consortium extract format, version 1 (``shared/spec/extract-format.md``).

One definition of every canonical entity and column: the loader, the mapping
validator, the generator and (later) the pandera contracts are built from it.
PHI flags live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXTRACT_FORMAT_VERSION = "1"

YES_NO = ("yes", "no")


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str  # text | date | integer | decimal | code
    required: bool = False
    phi: bool = False
    codes: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    unit: str | None = None
    notes: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...] = field(default_factory=tuple)

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


def _c(name, dtype, req=False, **kw) -> Column:
    return Column(name=name, dtype=dtype, required=req, **kw)


PATIENT_ID = _c("centre_patient_id", "text", True)

ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity("patients", (
            PATIENT_ID,
            _c("mrn", "text", True, phi=True),
            _c("full_name", "text", True, phi=True),
            _c("date_of_birth", "date", True, phi=True),
            _c("sex", "code", True, codes=("m", "f")),
            _c("diagnosis_date", "date"),
            _c("ph_status", "code", True, codes=("positive", "negative", "unknown")),
            _c("prior_therapy_lines", "integer", True, minimum=0),
            _c("relapse_count", "integer", True, minimum=0),
            _c("disease_status", "code", True, codes=("relapsed", "refractory")),
            _c("prior_hsct", "code", True, codes=YES_NO),
            _c("bm_blasts_pct_pre", "decimal", True, minimum=0, maximum=100),
            _c("extramedullary_pre", "code", codes=YES_NO),
            _c("weight_kg", "decimal", minimum=0, unit="kg"),
            _c("reported_crs_grade", "integer", minimum=0, maximum=5),
            _c("reported_icans_grade", "integer", minimum=0, maximum=5),
            _c("reported_grading_system", "code",
               codes=("astct2019", "lee2014", "ctcae5", "penn", "cartox")),
        )),
        Entity("infusions", (
            PATIENT_ID,
            _c("infusion_number", "integer", True, minimum=1),
            _c("infusion_date", "date", True),
            _c("cell_dose_per_kg", "decimal", True, minimum=0),
            _c("product_name", "text"),
            _c("costimulatory_domain", "code", codes=("4-1bb", "cd28", "other")),
            _c("lymphodepletion", "code", codes=("flu_cy", "other", "none")),
        )),
        Entity("daily_observations", (
            PATIENT_ID,
            _c("obs_date", "date", True),
            _c("tmax_c", "decimal", minimum=30, maximum=45, unit="degC"),
            _c("fever_other_cause", "code", codes=YES_NO),
            _c("hypotension", "code", codes=YES_NO),
            _c("vasopressor_count", "integer", minimum=0),
            _c("vasopressin", "code", codes=YES_NO),
            _c("oxygen_device", "code", codes=(
                "none", "nasal_cannula", "blow_by", "high_flow_nasal_cannula",
                "facemask", "non_rebreather", "venturi", "cpap", "bipap",
                "mechanical_ventilation")),
            _c("oxygen_flow_l_min", "decimal", minimum=0, unit="l/min"),
            _c("ice_score", "integer", minimum=0, maximum=10),
            _c("capd_score", "integer", minimum=0, maximum=32),
            _c("consciousness", "code", codes=(
                "alert", "awakens_spontaneously", "awakens_to_voice",
                "awakens_to_tactile", "unarousable")),
            _c("seizure", "code", codes=("none", "resolved_rapidly", "prolonged_or_repetitive")),
            _c("motor_weakness", "code", codes=YES_NO),
            _c("cerebral_edema", "code", codes=("none", "focal", "diffuse")),
            _c("raised_icp_signs", "code", codes=YES_NO),
            _c("neuro_other_cause", "code", codes=YES_NO),
        )),
        Entity("labs", (
            PATIENT_ID,
            _c("sample_date", "date", True),
            _c("analyte", "code", True, codes=("il6", "ferritin", "crp")),
            _c("value", "decimal", True, minimum=0),
            _c("unit", "code", True,
               codes=("pg/ml", "ng/l", "ng/ml", "ug/l", "mg/l", "mg/dl")),
        )),
        Entity("car_t_kinetics", (
            PATIENT_ID,
            _c("sample_date", "date", True),
            _c("specimen", "code", True, codes=("peripheral_blood", "bone_marrow")),
            _c("copies_per_ug_gdna", "decimal", True, minimum=0),
        )),
        Entity("treatments", (
            PATIENT_ID,
            _c("admin_date", "date", True),
            _c("drug", "code", True, codes=(
                "tocilizumab", "dexamethasone", "methylprednisolone", "prednisone",
                "prednisolone", "hydrocortisone", "siltuximab", "anakinra")),
            _c("dose", "decimal", True, minimum=0),
            _c("dose_unit", "code", True, codes=("mg", "mg_per_kg")),
            _c("indication", "code", codes=("crs", "icans", "other")),
        )),
        Entity("response_assessments", (
            PATIENT_ID,
            _c("assessment_date", "date", True),
            _c("bm_blasts_pct", "decimal", minimum=0, maximum=100),
            _c("circulating_blasts", "code", codes=YES_NO),
            _c("extramedullary_disease", "code", codes=("yes", "no", "not_assessed")),
            _c("mrd_pct", "decimal", minimum=0, maximum=100),
        )),
        Entity("follow_up_events", (
            PATIENT_ID,
            _c("event_date", "date", True),
            _c("event_type", "code", True, codes=("relapse", "death", "last_contact", "allo_hsct")),
            _c("relapse_site", "code", codes=("bone_marrow", "extramedullary", "cns", "combined")),
            _c("cd19_status", "code", codes=("positive", "negative", "unknown")),
            _c("death_cause", "code", codes=(
                "disease", "crs", "icans", "infection", "transplant", "other", "unknown")),
        )),
    )
}

PHI_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in e.columns if c.phi) for name, e in ENTITIES.items()
}
