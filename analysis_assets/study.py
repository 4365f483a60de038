"""The study's analysis plan, as data (paper-cohort.md): what is compared, by which endpoints,
covariates and tests, and how the tables and figures are titled.

Data only: this module imports no compute code (the compute modules and the Dagster assets
import it). Adding a comparison or an analysis table is one entry here plus the function that
computes it. Clinical parameters (cut-off, toxicity window, ...) are not here: they are
declared once as dbt vars and read through :func:`cartwh.parameters.study_parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------- comparisons


@dataclass(frozen=True)
class Comparison:
    """A grouping of the patients: its description and its group labels in display order."""

    description: str
    groups: tuple[str, ...]


#: the study's comparisons; response rates and OS/LFS are analysed by every one of them
COMPARISONS: dict[str, Comparison] = {
    "crs": Comparison("CRS (any grade) vs none", ("no CRS", "CRS")),
    "icans": Comparison("ICANS (any grade) vs none", ("no ICANS", "ICANS")),
    "crs_and_icans": Comparison("CRS and ICANS vs others", ("others", "CRS and ICANS")),
    "crs_grade": Comparison("CRS grade", ("none", "grade 1-2", "grade >=3")),
    "icans_grade": Comparison("ICANS grade", ("none", "grade 1-2", "grade >=3")),
    "toxicity_group": Comparison(
        "three-level toxicity group", ("no CRS/ICANS", "other", "grade >=3 CRS or ICANS")
    ),
    "tocilizumab": Comparison("tocilizumab vs none", ("no tocilizumab", "tocilizumab")),
    "steroids": Comparison("corticosteroids vs none", ("no steroids", "steroids")),
}
#: groupings used by one analysis only (biomarkers), not by the every-comparison tables;
#: grouping -> group labels in display order
OTHER_GROUPINGS: dict[str, tuple[str, ...]] = {
    "bm_blasts_ge_20": ("BM blasts <20%", "BM blasts >=20%"),
}
#: codes of mart.patient_outcomes.toxicity_group, in the order of its comparison's groups
TOXICITY_GROUP_CODES = ("none", "other", "grade_3_plus")
#: a test "differs significantly" in the report's sentences when p is below this
SIGNIFICANCE_LEVEL = 0.05
#: the comparison and group of "all patients together" (Table 1, survival)
OVERALL = "overall"
OVERALL_GROUP = "all patients"

# --------------------------------------------------------------------------- responses


@dataclass(frozen=True)
class Response:
    label: str
    description: str


RESPONSES: dict[str, Response] = {
    "cr_day30": Response("CR at day 30", "complete response at day 30"),
    "mrd_negative_cr": Response("MRD-negative CR", "MRD-negative complete response at day 30"),
}
#: basis -> who is in the denominator of a response rate
BASES: dict[str, str] = {
    "all_infused": "every infused patient (a patient without an evaluable assessment "
    "counts as a non-responder)",
    "evaluable": "patients evaluable for response only",
}
#: the basis the report's sentences and Figure 1 show
MAIN_BASIS = "all_infused"

# --------------------------------------------------------------------------- survival


@dataclass(frozen=True)
class Endpoint:
    months: str
    event: str
    population: str
    label: str
    time_axis: str


ENDPOINTS: dict[str, Endpoint] = {
    "OS": Endpoint(
        "os_months",
        "os_event",
        "all infused patients",
        label="overall survival",
        time_axis="months since infusion",
    ),
    "LFS": Endpoint(
        "lfs_months",
        "lfs_event",
        "patients in CR at day 30",
        label="leukaemia-free survival",
        time_axis="months since complete response",
    ),
}
#: months of the landmark survival estimates
LANDMARK_MONTHS: tuple[int, ...] = (12, 24, 36)
#: months at which the number at risk is shown under the Kaplan-Meier curves
RISK_TIMES: tuple[int, ...] = (0, 12, 24, 36, 48, 60)

# --------------------------------------------------------------------------- Cox models


@dataclass(frozen=True)
class Covariate:
    """A model covariate; a categorical one has a reference level and labels for its levels."""

    description: str
    reference: str | None = None
    level_labels: dict[str, str] = field(default_factory=dict)


COVARIATES: dict[str, Covariate] = {
    "age_at_infusion": Covariate("age at infusion, per year"),
    "male": Covariate("male sex"),
    "prior_therapy_lines": Covariate("prior therapy lines, per line"),
    "cell_dose_1e6_per_kg": Covariate("CAR-T cell dose, per 10^6 cells/kg"),
    "bm_blasts_ge_20": Covariate("BM blasts >= 20%"),
    "received_steroids": Covariate("received corticosteroids"),
    "received_tocilizumab": Covariate("received tocilizumab"),
    "toxicity_group": Covariate(
        "three-level toxicity group",
        reference="none",
        level_labels=dict(zip(TOXICITY_GROUP_CODES, COMPARISONS["toxicity_group"].groups)),
    ),
}
#: Table 2: the multivariate model, for OS and LFS
MULTIVARIATE: tuple[str, ...] = (
    "bm_blasts_ge_20",
    "received_steroids",
    "received_tocilizumab",
    "toxicity_group",
)

# --------------------------------------------------------------------------- Table 1, biomarkers

#: Table 1: continuous characteristics (median (range), rank tests)
TABLE1_CONTINUOUS: dict[str, str] = {
    "age_at_infusion": "age at infusion, years",
    "prior_therapy_lines": "prior therapy lines",
    "relapse_count": "relapses before CAR-T",
    "bm_blasts_pct_pre": "BM blasts before lymphodepletion, %",
    "cell_dose_per_kg": "CAR-T cells per kg",
}
#: Table 1: categorical characteristics (n (%), chi-squared or Fisher)
TABLE1_CATEGORICAL: dict[str, str] = {
    "sex": "sex",
    "ph_status": "Philadelphia chromosome",
    "disease_status": "disease status",
    "prior_hsct": "allogeneic HSCT before CAR-T",
    "bm_blasts_ge_20": "BM blasts >= 20%",
    "extramedullary_pre": "extramedullary disease before CAR-T",
}
TABLE1_COMPARISONS: tuple[str, ...] = ("toxicity_group", "crs", "icans")

#: (variable, comparison) pairs of the biomarker analyses (study analysis 3 and Figure 4)
BIOMARKER_COMPARISONS: tuple[tuple[str, str], ...] = (
    ("peak_il6_pg_ml", "crs"),
    ("peak_il6_pg_ml", "icans"),
    ("peak_il6_pg_ml", "bm_blasts_ge_20"),
    ("cell_dose_per_kg", "crs"),
    ("peak_car_copies", "crs"),
    ("peak_car_copies", "icans"),
    ("peak_car_copies", "toxicity_group"),
    ("peak_car_copies", "crs_and_icans"),
    ("peak_car_copies", "tocilizumab"),
    ("peak_car_copies", "steroids"),
)

# --------------------------------------------------------------------------- figures

#: panels of Figure 1 (CR and MRD-negative CR rates)
FIGURE1_COMPARISONS: tuple[str, ...] = (
    "crs",
    "icans",
    "crs_and_icans",
    "crs_grade",
    "icans_grade",
    "toxicity_group",
    "tocilizumab",
    "steroids",
)
#: panels of Figure 4 (peak CAR copies)
FIGURE4_COMPARISONS: tuple[str, ...] = (
    "crs",
    "icans",
    "toxicity_group",
    "crs_and_icans",
    "tocilizumab",
    "steroids",
)
FIGURE4_VARIABLE = "peak_car_copies"
#: (endpoint, comparison) of Figures 2-3 and of the treatment curves
KM_PANELS: tuple[tuple[str, str], ...] = tuple(
    (endpoint, comparison) for endpoint in ("OS", "LFS") for comparison in FIGURE1_COMPARISONS
)
FIGURE_CAPTIONS: dict[str, str] = {
    "cohort_flow": "Cohort flow: patients delivered, infused, gradable, evaluable and in CR.",
    "figure1_cr_day30": "Figure 1a. CR at day 30 by toxicity and treatment (all infused patients).",
    "figure1_mrd_negative_cr": "Figure 1b. MRD-negative CR by toxicity and treatment "
    "(all infused patients).",
    "figure4_car_copies": "Figure 4. Peak CAR copies by toxicity and treatment.",
    "table2_forest": "Table 2 as a forest plot: hazard ratios with 95% CI (log scale).",
    "swimmer_first_30_days": "CRS and ICANS grades day by day over the first 30 days, "
    "with day of CR.",
}
#: caption of every ``km_{endpoint}_{comparison}`` figure
KM_CAPTION = (
    "Kaplan-Meier estimate of {endpoint} by {comparison}, with log-rank p and the number at risk."
)

# --------------------------------------------------------------------------- analysis tables


@dataclass(frozen=True)
class Analysis:
    """An analysis asset: the mart tables it reads, the analysis tables it writes (described)."""

    inputs: tuple[str, ...]
    tables: dict[str, str]


#: analysis asset -> its inputs and tables; the tables are computed by the function of the same
#: name in :mod:`analysis_assets.analyses`
ANALYSES: dict[str, Analysis] = {
    "descriptive_analysis": Analysis(
        ("patient_outcomes", "cohort_flow"),
        {
            "cohort_flow": "CONSORT-style cohort flow, overall and by centre, with percentages.",
            "table1": "Table 1: characteristics overall and by toxicity group, CRS and ICANS, "
            "with the test used and p.",
            "toxicity_summary": "Incidence, onset and duration of CRS/ICANS; tocilizumab and "
            "corticosteroid use and doses (dexamethasone equivalents).",
        },
    ),
    "survival_analysis": Analysis(
        ("patient_outcomes",),
        {
            "km_estimates": "Kaplan-Meier estimates (log-log 95% CI) of OS and LFS "
            "by every comparison.",
            "survival_medians": "Median OS/LFS with 95% CI (R's rules) and survival "
            "at 12/24/36 months.",
            "logrank_tests": "Log-rank tests of OS and LFS for every comparison of the study.",
            "follow_up": "Median follow-up by reverse Kaplan-Meier with 95% CI.",
        },
    ),
    "response_analysis": Analysis(
        ("patient_outcomes",),
        {
            "response_rates": "CR and MRD-negative CR at day 30 by every comparison (Figure 1): "
            "n, responders, rate, chi-squared or exact Fisher p.",
        },
    ),
    "biomarker_analysis": Analysis(
        ("patient_outcomes",),
        {
            "biomarker_tests": "Peak IL-6, cell dose and peak CAR copies by group: "
            "median (range), Mann-Whitney U or Kruskal-Wallis.",
        },
    ),
    "cox_analysis": Analysis(
        ("patient_outcomes",),
        {
            "cox_univariate": "Univariate Cox models (Efron) for OS and LFS: HR, 95% Wald CI, p.",
            "cox_multivariate": "Table 2: multivariate Cox for OS and LFS with the group's "
            "Wald test.",
            "ph_assumption": "Proportional-hazards test of each multivariate model.",
        },
    ),
}
#: patient-level mart tables the report reads besides the analysis tables: they feed the text
#: and the figures and are never printed row by row
PATIENT_LEVEL_TABLES: tuple[str, ...] = ("patient_outcomes", "daily_toxicity")
TABLE_TITLES: dict[str, str] = {
    "cohort_flow": "Cohort flow (patients remaining at each step, by centre)",
    "table1": "Table 1. Patient characteristics, overall and by toxicity group, CRS and ICANS",
    "toxicity_summary": "Toxicity and its treatment: incidence, onset, duration, doses",
    "response_rates": "Response rates at day 30 (responders / n per group)",
    "biomarker_tests": "Biomarkers by group (IL-6, cell dose, peak CAR copies)",
    "follow_up": "Follow-up",
    "survival_medians": "Median OS / LFS and survival at 12, 24, 36 months",
    "logrank_tests": "Log-rank tests",
    "km_estimates": "Kaplan-Meier estimates",
    "cox_univariate": "Univariate Cox screening",
    "cox_multivariate": "Table 2. Multivariate Cox models",
    "ph_assumption": "Proportional-hazards checks (multivariate models)",
    "intake_nulled_values": "Values set to missing at intake (their rows kept), by column",
    "intake_rows_held_back": "Delivered rows held back at intake, by reason "
    "(a row may have several)",
}
