"""The study's analysis plan, as data (paper-cohort.md): what is compared, by which endpoints,
covariates and tests, and how the tables and figures are titled.

Data only: this module imports no compute code (the compute modules and the Dagster assets
import it). Adding a comparison or an analysis table is one entry here plus the function that
computes it. Clinical parameters (cut-off, toxicity window, ...) are not here: they are
declared once as dbt vars and read through :func:`cartwh.parameters.study_parameters`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------- statistical methods


@dataclass(frozen=True)
class StatisticalMethods:
    """How every statistic of the study is computed: the settings the analysis code reads at
    call time and the report's Methods section prints (change one here, both follow).

    The named choices (``km_conf_type``, ``cox_ties``, ``ph_transform``, ...) are the only
    ones the implementation offers; the compute code refuses any other value rather than
    silently computing something else.
    """

    #: two-sided significance level: a test "differs significantly" when p is below it
    significance_level: float = 0.05
    #: confidence level of every interval, in percent (95 -> alpha = 0.05 exactly)
    confidence_percent: int = 95
    #: chi-squared (Pearson, no Yates) unless an expected count is below this: then Fisher
    fisher_min_expected: float = 5.0
    #: r x c Fisher: largest number of tables with the observed margins enumerated exactly
    fisher_max_tables: int = 2_000_000
    #: r x c Fisher beyond that limit: Monte Carlo resamples and their seed
    fisher_resamples: int = 100_000
    fisher_seed: int = 20240501
    #: Mann-Whitney U: normal approximation with tie and continuity correction
    mann_whitney_continuity: bool = True
    #: Kaplan-Meier confidence intervals (lifelines computes log-log only) and variance
    km_conf_type: str = "log-log"
    km_variance: str = "Greenwood"
    #: median follow-up (death censors, censoring is the event)
    follow_up_method: str = "reverse Kaplan-Meier"
    #: Cox model ties (Efron is the one implemented: analysis_assets.efron) and its PH test
    cox_ties: str = "efron"
    ph_test: str = "scaled Schoenfeld residuals (Grambsch-Therneau, survival < 3.0 cox.zph)"
    #: time transform of the PH test: 1 - KM(t-) (R's "km")
    ph_transform: str = "km"

    @property
    def confidence_level(self) -> float:
        """0.95 for 95%."""
        return self.confidence_percent / 100

    @property
    def alpha(self) -> float:
        """1 - confidence level (0.05 for 95%), computed exactly from the percentage."""
        return (100 - self.confidence_percent) / 100


#: the study's statistical methods (read as ``study.METHODS`` at call time, so a test may
#: replace it)
METHODS = StatisticalMethods()


@dataclass(frozen=True)
class RParity:
    """A statistic, the R call it equals and the largest difference the tests allow."""

    statistic: str
    r_call: str
    tolerance: float
    #: "absolute", "relative" or "Monte Carlo SE" (multiples of the Monte Carlo standard error)
    scale: str = "absolute"


#: statistic -> its R equivalent; ``tests/test_statistics.py`` (R's data sets) and
#: ``tests/test_analysis.py`` (the demo mart) read their tolerances here, and the report's
#: Methods print them
R_PARITY: dict[str, RParity] = {
    "kaplan_meier": RParity(
        "Kaplan-Meier estimate and its log-log CI",
        'survfit(Surv(time, status) ~ 1, conf.type = "log-log")',
        1e-10,
    ),
    "km_median": RParity(
        "median survival and its CI", "quantile(survfit(...), probs = 0.5)", 1e-12
    ),
    "follow_up": RParity(
        "median follow-up (reverse Kaplan-Meier)",
        'quantile(survfit(Surv(time, status == 0) ~ 1, conf.type = "log-log"), 0.5)',
        1e-12,
    ),
    "logrank": RParity("log-rank test", "survdiff(Surv(time, status) ~ group)", 1e-10),
    "chi_squared": RParity("Pearson chi-squared test", "chisq.test(table, correct = FALSE)", 1e-10),
    "fisher": RParity("Fisher's exact test (2x2 and r x c)", "fisher.test(table)", 1e-10),
    "fisher_odds_ratio": RParity(
        "conditional odds ratio and its exact CI (2x2)",
        "fisher.test(table)$estimate, $conf.int",
        2.5e-4,
    ),
    "fisher_monte_carlo": RParity(
        "Fisher's test by Monte Carlo", "fisher.test(table) (exact p)", 3, "Monte Carlo SE"
    ),
    "mann_whitney": RParity(
        "Mann-Whitney U test",
        "wilcox.test(x, y, exact = FALSE, correct = TRUE)",
        1e-10,
    ),
    "kruskal_wallis": RParity("Kruskal-Wallis test", "kruskal.test(groups)", 1e-10),
    "cox_coefficients": RParity(
        "Cox coefficients, SEs and Wald p", 'coxph(Surv(time, status) ~ ..., ties = "efron")', 1e-6
    ),
    "cox_hazard_ratio": RParity(
        "hazard ratios and their 95% Wald CI",
        'summary(coxph(..., ties = "efron"))',
        1e-6,
        "relative",
    ),
    "cox_wald": RParity(
        "multi-df Wald test of a categorical covariate",
        "t(b) %*% solve(vcov(fit)[i, i]) %*% b on coef(fit)[i]",
        1e-6,
    ),
    "ph_test": RParity(
        "proportional-hazards test",
        'cox.zph(fit, transform = "km") of survival < 3.0',
        1e-8,
    ),
}

#: the robustness estimators (competing risks, time-dependent Cox) -> their R equivalent;
#: ``tests/test_competing_risks.py`` and ``tests/test_time_dependent.py`` read their
#: tolerances here.  Kept apart from :data:`R_PARITY` until the report prints them.
ROBUSTNESS_R_PARITY: dict[str, RParity] = {
    "cumulative_incidence": RParity(
        "cumulative incidence (Aalen-Johansen) and its variance",
        "cmprsk::cuminc(ftime, fstatus, group, cencode = 0)",
        1e-10,
    ),
    "gray_test": RParity("Gray's test of cumulative incidence", "cmprsk::cuminc(...)$Tests", 1e-10),
    "fine_gray": RParity(
        "Fine-Gray coefficients, sandwich SEs and p",
        "cmprsk::crr(ftime, fstatus, cov1, failcode = 1, cencode = 0)",
        1e-8,
    ),
    "fine_gray_hazard_ratio": RParity(
        "subdistribution hazard ratios and their 95% CI",
        "exp(crr(...)$coef +/- qnorm(0.975) * sqrt(diag(crr(...)$var)))",
        1e-8,
        "relative",
    ),
    "time_dependent_cox": RParity(
        "time-dependent Cox coefficients, SEs and Wald p",
        'coxph(Surv(tstart, tstop, event) ~ exposed + ..., ties = "efron") on tmerge data',
        1e-8,
    ),
    "time_dependent_hazard_ratio": RParity(
        "time-dependent Cox hazard ratios and their 95% Wald CI",
        'summary(coxph(Surv(tstart, tstop, event) ~ ..., ties = "efron"))',
        1e-8,
        "relative",
    ),
}

# --------------------------------------------------------------------------- disclosure control

#: outputs that leave the consortium (``cartwh report --external``) print counts from 1 to
#: this minus one as ``<5`` (0 is shown), with complementary suppression
#: (:mod:`analysis_assets.disclosure`); ``--threshold`` overrides it for one report
SMALL_CELL_THRESHOLD = 5

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
    "crs_grade": Comparison("CRS grade", ("no CRS", "grade 1–2 CRS", "grade ≥ 3 CRS")),
    "icans_grade": Comparison("ICANS grade", ("no ICANS", "grade 1–2 ICANS", "grade ≥ 3 ICANS")),
    "toxicity_group": Comparison(
        "three-level toxicity group",
        ("no CRS/ICANS", "grade 1–2 CRS and/or ICANS", "grade ≥ 3 CRS or ICANS"),
    ),
    "tocilizumab": Comparison("tocilizumab vs none", ("no tocilizumab", "tocilizumab")),
    "steroids": Comparison("corticosteroids vs none", ("no steroids", "steroids")),
}
#: groupings used by one analysis only (biomarkers), not by the every-comparison tables;
#: grouping -> group labels in display order
OTHER_GROUPINGS: dict[str, tuple[str, ...]] = {
    "bm_blasts_ge_20": ("BM blasts < 20%", "BM blasts ≥ 20%"),
}
#: codes of mart.patient_outcomes.toxicity_group, in the order of its comparison's groups
TOXICITY_GROUP_CODES = ("none", "other", "grade_3_plus")
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
#: Kaplan-Meier time axes: a tick (and a number at risk) every this many months, up to the
#: longest follow-up
TIME_TICK_MONTHS = 12

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
    "cell_dose_1e6_per_kg": Covariate("CAR-T cell dose, per 10⁶ cells/kg"),
    "bm_blasts_ge_20": Covariate("BM blasts ≥ 20% vs < 20%"),
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

#: Table 1: continuous characteristics, median (range), rank tests; labels and units in
#: :mod:`analysis_assets.labels`
TABLE1_CONTINUOUS: tuple[str, ...] = (
    "age_at_infusion",
    "prior_therapy_lines",
    "relapse_count",
    "bm_blasts_pct_pre",
    "cell_dose_per_kg",
    "peak_il6_pg_ml",
    "peak_ferritin_ng_ml",
)
#: Table 1: categorical characteristics, n (%), chi-squared or Fisher
TABLE1_CATEGORICAL: tuple[str, ...] = (
    "sex",
    "ph_status",
    "disease_status",
    "prior_hsct",
    "bm_blasts_ge_20",
    "extramedullary_pre",
)
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
#: (endpoint, comparison) of the single Kaplan-Meier figures (``km_{endpoint}_{comparison}``),
#: for slides and the Dagster UI's thumbnails: the two main contrasts only, since every panel
#: is also in a multi-panel figure (SURVIVAL_FIGURES) and each figure costs ~1 s in 3 formats
KM_PANELS: tuple[tuple[str, str], ...] = tuple(
    (endpoint, comparison) for endpoint in ("OS", "LFS") for comparison in ("crs", "toxicity_group")
)
#: the multi-panel survival figures: stem -> panels A, B, ... as (endpoint, comparison), in
#: reading order (two panels per row: OS of all patients, LFS of CR patients)
SURVIVAL_FIGURES: dict[str, tuple[tuple[str, str], ...]] = {
    "figure2_survival_by_toxicity": (
        ("OS", "crs"),
        ("LFS", "crs"),
        ("OS", "icans"),
        ("LFS", "icans"),
        ("OS", "crs_and_icans"),
        ("LFS", "crs_and_icans"),
    ),
    "figure3_survival_by_grade": (
        ("OS", "crs_grade"),
        ("LFS", "crs_grade"),
        ("OS", "icans_grade"),
        ("LFS", "icans_grade"),
        ("OS", "toxicity_group"),
        ("LFS", "toxicity_group"),
    ),
    "figure_s1_survival_by_treatment": (
        ("OS", "tocilizumab"),
        ("LFS", "tocilizumab"),
        ("OS", "steroids"),
        ("LFS", "steroids"),
    ),
}
#: caption of every figure of the study, in the order the report shows them
FIGURE_CAPTIONS: dict[str, str] = {
    "figure1_cr_day30": "Figure 1A. CR at day 30 by toxicity and treatment (all infused patients).",
    "figure1_mrd_negative_cr": "Figure 1B. MRD-negative CR at day 30 by toxicity and treatment "
    "(all infused patients).",
    "figure2_survival_by_toxicity": "Figure 2. OS of all patients and LFS of CR patients with "
    "or without CRS (A, B), with or without ICANS (C, D), and with concurrent CRS and ICANS or "
    "not (E, F). Kaplan–Meier estimates with censoring marks, log-rank p and the number at "
    "risk.",
    "figure3_survival_by_grade": "Figure 3. OS of all patients and LFS of CR patients by CRS "
    "grade (A, B), ICANS grade (C, D) and the three-level toxicity group (E, F). "
    "Kaplan–Meier estimates with censoring marks, log-rank p and the number at risk.",
    "figure4_car_copies": "Figure 4. Peak CAR copies in peripheral blood by CRS (A), ICANS (B), "
    "the three-level toxicity group (C), concurrent CRS and ICANS (D), tocilizumab (E) and "
    "corticosteroids (F), with the rank test of each panel.",
    "table2_forest": "Figure 5. Table 2 as a forest plot: hazard ratios with 95% CI (log "
    "scale), reference levels marked.",
    "figure_s1_survival_by_treatment": "Figure S1. OS of all patients and LFS of CR patients "
    "by tocilizumab (A, B) and corticosteroids (C, D).",
    "cohort_flow": "Figure S2. Cohort flow: patients delivered, infused, gradable, evaluable "
    "and in CR, with the reason for each exclusion.",
    "swimmer_toxicity_and_response": "Figure S3. CRS and ICANS grades day by day over the toxicity "
    "window, with the day of CR within the response window.",
    "robustness_forest": "Figure R1. The same contrast, exposed vs not exposed, for each "
    "toxicity and treatment by three methods: naive (time-fixed from day 0, as published), "
    "landmark at day 30 (OS) and time-dependent Cox; hazard ratios with 95% CI (log scale).",
    "cumulative_incidence_by_toxicity": "Figure R2. Cumulative incidence of relapse (A) and of "
    "non-relapse mortality (B) from the CR by the three-level toxicity group (Aalen–Johansen, "
    "competing risks), with Gray's test and the number at risk.",
}
#: caption of every ``km_{endpoint}_{comparison}`` figure
KM_CAPTION = (
    "Kaplan–Meier estimate of {endpoint} by {comparison}, with log-rank p and the number at risk."
)

# --------------------------------------------------------------------------- robustness


@dataclass(frozen=True)
class Exposure:
    """A toxicity or treatment that starts after day 0: its description; its name is the
    column prefix of ``mart.patient_exposures`` (flag, onset day: defined in dbt) and the
    column of ``mart.exposure_intervals`` that switches it on at its onset day."""

    description: str
    #: the study's comparison whose second group is "exposed" (None: grade >= 3, from
    #: toxicity_group)
    comparison: str | None


#: exposures of the robustness analyses (naive vs landmark vs time-dependent), in display order
ROBUSTNESS_EXPOSURES: dict[str, Exposure] = {
    "crs": Exposure("CRS (any grade)", "crs"),
    "icans": Exposure("ICANS (any grade)", "icans"),
    "grade_3_plus": Exposure("grade ≥ 3 CRS or ICANS", None),
    "steroids": Exposure("corticosteroids", "steroids"),
    "tocilizumab": Exposure("tocilizumab", "tocilizumab"),
}
#: landmark day of the main landmark analysis (the end of the toxicity window) and the
#: sensitivity landmarks
LANDMARK_DAY = 30
LANDMARK_SENSITIVITY_DAYS: tuple[int, ...] = (14, 21)
#: the methods of the naive-vs-corrected table, in display order -> description
ROBUSTNESS_METHODS: dict[str, str] = {
    "naive": "time-fixed from the origin, as published (exposed = ever exposed)",
    "landmark": "landmark: patients alive and followed beyond the landmark day, exposure as "
    "known at the landmark, times from the landmark",
    "time_dependent": "time-dependent Cox: exposure switching on at its onset day "
    "(counting-process data of mart.exposure_intervals)",
}
#: endpoints of the time-dependent Cox models (paramcd of mart.exposure_intervals): the main
#: ones and the sensitivity analyses censored at allogeneic HSCT
TIME_DEPENDENT_ENDPOINTS: tuple[str, ...] = ("OS", "LFS", "OS_HSCT_CENSORED", "LFS_HSCT_CENSORED")
#: competing risks of LFS (patients in CR, time from the CR): status code -> cause
COMPETING_CAUSES: dict[int, str] = {1: "relapse", 2: "non-relapse mortality"}
#: groupings compared by Gray's test and Fine-Gray models (keys of COMPARISONS)
COMPETING_RISKS_COMPARISONS: tuple[str, ...] = (
    "toxicity_group",
    "crs",
    "icans",
    "steroids",
    "tocilizumab",
)
#: the grouping of the cumulative incidence figure
CIF_FIGURE_COMPARISON = "toxicity_group"

# --------------------------------------------------------------------------- analysis tables


@dataclass(frozen=True)
class Analysis:
    """An analysis asset: the mart tables it reads, the analysis tables it writes (described),
    and the tables of other analyses it reads (as this refresh computed them)."""

    inputs: tuple[str, ...]
    tables: dict[str, str]
    analysis_inputs: tuple[str, ...] = ()


#: analysis asset -> its inputs and tables; the tables are computed by the function of the same
#: name in :mod:`analysis_assets.analyses`
ANALYSES: dict[str, Analysis] = {
    "descriptive_analysis": Analysis(
        ("patient_outcomes", "cohort_flow"),
        {
            "cohort_flow": "CONSORT-style cohort flow, overall and by centre, with percentages.",
            "characteristics": "Characteristics overall and by toxicity group, CRS and ICANS, "
            "long format (one row per comparison, characteristic, level and group): n, "
            "denominator, %, median (range), the test used and p. The data of Table 1.",
            "table1": "Table 1 as printed (also tables/table1.docx): one row per "
            "characteristic and level, Unknown rows, Overall and per comparison its groups "
            "(N in the headers) and p, footnotes.",
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
            "cox_multivariate": "Multivariate Cox for OS and LFS with the group's "
            "Wald test (the estimates of Table 2).",
            "table2": "Table 2 as printed (also tables/table2.docx): per endpoint N and "
            "events, HR (95% CI) and p per covariate, reference rows, the group's Wald p.",
            "ph_assumption": "Proportional-hazards test of each multivariate model.",
        },
    ),
    "robustness_analysis": Analysis(
        ("patient_outcomes", "patient_exposures", "time_to_event", "exposure_intervals"),
        {
            "robustness_estimates": "The same contrast (exposed vs not) for CRS, ICANS, "
            "grade >= 3 CRS or ICANS, corticosteroids and tocilizumab by three methods: naive "
            "(time-fixed from day 0, as published), landmark (days 30, 14, 21; OS) and "
            "time-dependent Cox (OS, LFS and both censored at allogeneic HSCT): n, exposed, "
            "events, HR, 95% CI, p.",
            "robustness_sensitivity": "Sensitivity analyses of the naive and time-dependent "
            "estimates of robustness_estimates (OS, LFS): Cox stratified by centre, each centre "
            "left out in turn, and CRS, ICANS and grade >= 3 from the reported grades (ASTCT "
            "2019) where they exist (naive only).",
            "cumulative_incidence": "Cumulative incidence (Aalen-Johansen, cmprsk) of relapse "
            "and of non-relapse mortality from the CR, by group, at each event time of the "
            "cause, with its standard error.",
            "cumulative_incidence_at_ticks": "Risk table of the cumulative incidence figure: "
            "per group and tick, patients at risk, cumulative relapses, non-relapse deaths and "
            "censored, and the cumulative incidence of each cause.",
            "competing_risks_tests": "Gray's test and Fine-Gray subdistribution hazard ratios "
            "of relapse and non-relapse mortality by toxicity group, CRS, ICANS, "
            "corticosteroids and tocilizumab.",
            "km_at_ticks": "Risk table of the Kaplan-Meier figures as data: per endpoint, "
            "comparison, group and tick, patients at risk, cumulative events and censored.",
            "centre_outcomes": "CR at day 30 and survival per centre: patients, responders and "
            "rate, and per endpoint patients, events and the Kaplan-Meier median (95% CI).",
        },
    ),
    "audit_analysis": Analysis(
        (),
        {
            "number_audit": "Printed numbers audited: the study's (with the quote each comes "
            "from) and this project's tables as the report prints them; each percentage "
            "recomputed from its count and denominator, each hazard ratio checked against its "
            "95% CI and p on the log scale, within what the printed rounding allows.",
        },
        analysis_inputs=(
            "table1",
            "characteristics",
            "toxicity_summary",
            "response_rates",
            "table2",
            "cox_univariate",
            "cox_multivariate",
        ),
    ),
}
#: mart tables the report reads besides the analysis tables: they feed the text and the
#: figures (the exclusions by reason: the cohort flow's boxes) and are not printed as tables
REPORT_MART_TABLES: tuple[str, ...] = ("patient_outcomes", "daily_toxicity", "cohort_exclusions")
TABLE_TITLES: dict[str, str] = {
    "cohort_flow": "Cohort flow (patients remaining at each step, by centre)",
    "characteristics": "Patient characteristics by group, long format (the data of Table 1)",
    "table1": "Table 1. Patient characteristics, overall and by toxicity group, CRS and ICANS",
    "toxicity_summary": "Toxicity and its treatment: incidence, onset, duration, doses",
    "response_rates": "Response rates at day 30 (responders / n per group)",
    "biomarker_tests": "Biomarkers by group (IL-6, cell dose, peak CAR copies)",
    "follow_up": "Follow-up",
    "survival_medians": "Median OS / LFS and survival at 12, 24, 36 months",
    "logrank_tests": "Log-rank tests",
    "km_estimates": "Kaplan-Meier estimates",
    "cox_univariate": "Univariate Cox screening",
    "cox_multivariate": "Multivariate Cox models: every term (the estimates of Table 2)",
    "table2": "Table 2. Multivariate Cox models of OS (all infused patients) and LFS "
    "(patients in CR at day 30)",
    "ph_assumption": "Proportional-hazards checks (multivariate models)",
    "robustness_estimates": "Naive, landmark and time-dependent estimates of each toxicity "
    "and treatment exposure",
    "robustness_sensitivity": "Sensitivity analyses: stratified by centre, leave one centre "
    "out, reported grades",
    "cumulative_incidence": "Cumulative incidence of relapse and non-relapse mortality",
    "cumulative_incidence_at_ticks": "Cumulative incidence: number at risk, cumulative events "
    "and censored at each tick",
    "competing_risks_tests": "Competing risks: Gray's test and Fine–Gray models",
    "km_at_ticks": "Kaplan–Meier figures: number at risk, cumulative events and censored at "
    "each tick",
    "number_audit": "Printed numbers audited: the study's and this report's",
    "centre_outcomes": "CR at day 30 and OS / LFS medians per centre",
    "intake_nulled_values": "Values set to missing at intake (their rows kept), by column",
    "intake_rows_held_back": "Delivered rows held back at intake, by reason "
    "(a row may have several)",
}
