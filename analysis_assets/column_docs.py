"""What each column of the ``analysis`` tables means: the one place these are written (the
mart's and quality's columns are documented in their dbt ymls). The analyst package's codebook
reads them (:mod:`cartwh.analyst.codebook`); a published column without a meaning fails it.

A meaning is looked up as ``(table, column)``, then ``column``, then the patterns of the
printed tables' headers (Table 1: ``"<comparison>: <group>, N = n"``).
"""

from __future__ import annotations

import re

#: column -> meaning, for every analysis table that has it
COMMON: dict[str, str] = {
    "endpoint": "Endpoint: OS (overall survival) or LFS (leukaemia-free survival).",
    "comparison": "The grouping compared (overall, toxicity_group, crs, icans, ...).",
    "comparison_label": "The comparison in words.",
    "group": "Group of the comparison the row describes.",
    "variable": "The mart column (patient_outcomes) the row is about.",
    "n": "Patients in the row's group or population.",
    "events": "Patients with the endpoint's event.",
    "test": "Statistical test used.",
    "test_detail": "The test in words, as the report names it.",
    "p_value": "Two-sided p-value of the test.",
    "ci_lower": "Lower limit of the 95% confidence interval.",
    "ci_upper": "Upper limit of the 95% confidence interval.",
    "description": "The row in words.",
    "model": "Cox model: univariate or multivariate.",
    "covariates": "The model's covariates (mart columns), joined by +.",
    "term": "Model term (a covariate, or a level of it).",
    "hazard_ratio": "Hazard ratio of the term (Efron ties).",
    "wald_chi_square": "Wald chi-squared of the term's group (multi-level covariates).",
    "wald_df": "Degrees of freedom of the Wald test.",
    "estimable": "Whether the hazard ratio could be estimated (events in every level).",
    "note": "Why a term is not estimable (empty otherwise).",
    "chi_square": "Chi-squared statistic of the test.",
    "df": "Degrees of freedom of the test.",
    "method": "Method used, in words.",
    "centre_code": "Centre, or 'all' for the whole consortium.",
    "step_order": "Order of the cohort-flow step (1-5).",
    "step": "Cohort-flow step in words.",
    "parent_step_order": "The step this one is a subset of (null for step 1).",
    "analysis_population": "The analyses whose population this step is.",
    "excluded_n": "Patients of the parent step not in this one.",
    "excluded_reason": "Why the excluded patients are left out.",
    "denominator": "Patients with a known value: the denominator of the percentage.",
    "pct_of_delivered": "n as a percentage of the centre's delivered patients.",
    "Characteristic": "Row label of the printed table.",
    "row_type": "What the row is: heading, label, level, missing (unknown) or footnote.",
    "p-value": "p-value as printed.",
    "HR (95% CI)": "Hazard ratio with its 95% confidence interval, as printed.",
}

#: (table, column) -> meaning, where a column means something particular in that table
SPECIFIC: dict[tuple[str, str], str] = {
    ("characteristics", "characteristic"): "The characteristic as labelled in Table 1.",
    ("characteristics", "level"): "Stored level, or the statistic shown (median (range), missing).",
    ("characteristics", "level_label"): "The level as labelled in Table 1.",
    ("characteristics", "pct"): "n / denominator, percent.",
    ("characteristics", "median"): "Median of a continuous characteristic.",
    ("characteristics", "minimum"): "Minimum of a continuous characteristic.",
    ("characteristics", "maximum"): "Maximum of a continuous characteristic.",
    ("characteristics", "value"): "The cell as printed: n (%) or median (range).",
    ("characteristics", "test_note"): "The test as the table's footnote names it.",
    ("biomarker_tests", "median"): "Median of the biomarker in the group.",
    ("biomarker_tests", "min"): "Minimum of the biomarker in the group.",
    ("biomarker_tests", "max"): "Maximum of the biomarker in the group.",
    ("biomarker_tests", "statistic"): "Test statistic (U or H).",
    ("follow_up", "median_months"): "Median follow-up, months (reverse Kaplan-Meier).",
    ("follow_up", "n"): "Patients followed.",
    ("km_estimates", "time_months"): "Time since the index infusion, months.",
    ("km_estimates", "n_risk"): "Patients at risk just before the time.",
    ("km_estimates", "n_event"): "Events at the time.",
    ("km_estimates", "n_censor"): "Patients censored at the time.",
    ("km_estimates", "survival"): "Kaplan-Meier survival estimate.",
    ("km_estimates", "ci_lower"): "Lower limit of the 95% CI (log-log).",
    ("km_estimates", "ci_upper"): "Upper limit of the 95% CI (log-log).",
    ("logrank_tests", "groups"): "Number of groups compared.",
    ("survival_medians", "median_months"): "Median survival, months (NaN: not reached).",
    ("survival_medians", "median_ci_lower"): "Lower limit of the median's 95% CI, months.",
    ("survival_medians", "median_ci_upper"): "Upper limit of the median's 95% CI, months.",
    ("provenance", "run_id"): "Dagster run id of the refresh that built the results.",
    ("provenance", "generated_at"): "When the refresh built the results (UTC).",
    ("provenance", "code_version"): "cartwh version and git commit of the code.",
    ("provenance", "cutoff"): "Data cut-off of the study.",
    ("provenance", "delivery_id"): "The centre's delivery used (its date and suffix).",
    ("provenance", "sha256"): "Fingerprint (sha256) of the delivery's files.",
    ("provenance", "files"): "Files of the delivery.",
    ("provenance", "rows"): "Rows read from the delivery.",
    ("response_rates", "response"): "Response: cr_day30 (CR at day 30) or mrd_negative_cr.",
    ("response_rates", "basis"): "Population: all_infused or the evaluable patients.",
    ("response_rates", "responders"): "Patients with the response.",
    ("response_rates", "rate_pct"): "responders / n, percent.",
    ("toxicity_summary", "measure"): "The toxicity or treatment counted.",
    ("toxicity_summary", "n"): "Patients with it.",
    ("toxicity_summary", "pct"): "n / denominator, percent.",
    ("toxicity_summary", "first_day_median_range"): "First day (since the index infusion), "
    "median (range).",
    ("toxicity_summary", "duration_days_median_range"): "Duration in days, median (range).",
    ("toxicity_summary", "cumulative_dose_mg_median_range"): "Cumulative dose in mg, "
    "median (range).",
    ("toxicity_summary", "dose_known"): "Patients whose cumulative dose is known.",
    ("table1", "variable"): "The mart column of the row (empty for footnotes).",
    ("number_audit", "source"): "Where the number is printed: publication (the study's paper) "
    "or the name of this project's analysis table.",
    ("number_audit", "location"): "The paper's verbatim quote, or the table and row.",
    ("number_audit", "quantity"): "What the number counts or compares.",
    ("number_audit", "check"): "The check: a percentage from its count and denominator, an HR "
    "at the centre of its CI, or a p from the HR and CI.",
    ("number_audit", "printed"): "The number as printed.",
    ("number_audit", "recomputed"): "The number recomputed from the others, printed alike.",
    ("number_audit", "verdict"): "match or mismatch, within what the printed rounding allows.",
    ("number_audit", "reason"): "The recomputation in words: exact value and the range allowed.",
    ("table2", "variable"): "The covariate of the row (mart column).",
    ("robustness_estimates", "endpoint"): "Endpoint (mart.time_to_event.paramcd): OS, LFS, "
    "or either censored at allogeneic HSCT (OS_HSCT_CENSORED, LFS_HSCT_CENSORED).",
    ("robustness_estimates", "exposure"): "The exposure compared (exposed vs not): crs, icans, "
    "grade_3_plus, steroids or tocilizumab (defined in mart.patient_exposures, a column of "
    "mart.exposure_intervals).",
    ("robustness_estimates", "exposure_label"): "The exposure in words.",
    ("robustness_estimates", "method"): "naive (time-fixed from the origin, as published), "
    "landmark (from the landmark day, exposure as known then) or time_dependent (Cox with the "
    "exposure switching on at its onset day).",
    ("robustness_estimates", "landmark_day"): "Landmark day of a landmark row (days since the "
    "infusion); empty for the other methods.",
    ("robustness_estimates", "sensitivity"): "True for a sensitivity analysis (landmark other "
    "than the main one, endpoint censored at allogeneic HSCT).",
    ("robustness_estimates", "n"): "Patients in the model.",
    ("robustness_estimates", "n_exposed"): "Patients of the model exposed (naive: ever; "
    "landmark: by the landmark day; time-dependent: before the end of their follow-up).",
    ("robustness_estimates", "events"): "Events of the endpoint in the model.",
    ("robustness_estimates", "hazard_ratio"): "Hazard ratio exposed vs not (Cox, Efron ties).",
    ("robustness_estimates", "logrank_p_value"): "Log-rank p-value from the landmark (landmark "
    "rows only).",
    ("robustness_sensitivity", "analysis"): "stratified_by_centre (Cox with a baseline hazard "
    "per centre), leave_one_centre_out (without left_out_centre) or reported_grades (CRS, "
    "ICANS and grade >= 3 from the centre's reported ASTCT 2019 grades where they exist).",
    ("robustness_sensitivity", "left_out_centre"): "The centre left out (leave_one_centre_out "
    "rows; empty otherwise).",
    ("robustness_sensitivity", "endpoint"): "Endpoint: OS or LFS.",
    ("robustness_sensitivity", "exposure"): "The exposure compared (exposed vs not), as in "
    "robustness_estimates.",
    ("robustness_sensitivity", "exposure_label"): "The exposure in words.",
    ("robustness_sensitivity", "method"): "naive (time-fixed from the origin) or "
    "time_dependent (exposure switching on at its onset day).",
    ("robustness_sensitivity", "n"): "Patients in the model.",
    ("robustness_sensitivity", "n_exposed"): "Patients of the model exposed.",
    ("robustness_sensitivity", "events"): "Events of the endpoint in the model.",
    ("robustness_sensitivity", "hazard_ratio"): "Hazard ratio exposed vs not (Cox, Efron ties).",
    ("centre_outcomes", "patients"): "Infused patients of the centre.",
    ("centre_outcomes", "responders"): "Patients of the centre in CR at day 30 (every infused "
    "patient the denominator).",
    ("centre_outcomes", "response_rate_pct"): "CR at day 30 in percent of the centre's infused "
    "patients (half-up, one decimal).",
    ("centre_outcomes", "median_months"): "Kaplan-Meier median of the endpoint in months "
    "(R quantile(survfit(...), 0.5)); missing when not reached.",
    ("centre_outcomes", "median_ci_lower"): "Lower 95% limit of the median (log-log CI); "
    "missing when not reached.",
    ("centre_outcomes", "median_ci_upper"): "Upper 95% limit of the median (log-log CI); "
    "missing when not reached.",
    ("km_at_ticks", "time_months"): "Tick of the Kaplan-Meier figures: months since the "
    "endpoint's origin (infusion for OS, CR for LFS).",
    ("km_at_ticks", "n_risk"): "Patients at risk at the tick (followed at least this long "
    "without the event): the number under the figure.",
    ("km_at_ticks", "cumulative_events"): "Events of the endpoint up to the tick.",
    ("km_at_ticks", "cumulative_censored"): "Patients censored up to the tick.",
    ("cumulative_incidence", "cause"): "The cause: relapse or non-relapse mortality (death "
    "without relapse), competing with each other, from the CR.",
    ("cumulative_incidence", "time_months"): "Months since the CR at which the cause occurs.",
    ("cumulative_incidence", "estimate"): "Cumulative incidence of the cause just after the "
    "time (Aalen-Johansen, R cmprsk::cuminc).",
    ("cumulative_incidence", "std_error"): "Standard error of the estimate (cmprsk's variance).",
    ("cumulative_incidence_at_ticks", "time_months"): "Tick of the figure: months since the CR.",
    ("cumulative_incidence_at_ticks", "n_risk"): "Patients at risk at the tick (followed at "
    "least this long without relapse or death).",
    ("cumulative_incidence_at_ticks", "cumulative_relapses"): "Relapses up to the tick.",
    ("cumulative_incidence_at_ticks", "cumulative_non_relapse_deaths"): "Deaths without "
    "relapse up to the tick.",
    ("cumulative_incidence_at_ticks", "cumulative_censored"): "Patients censored up to the tick.",
    ("cumulative_incidence_at_ticks", "cif_relapse"): "Cumulative incidence of relapse at the "
    "tick (R cmprsk::timepoints; empty past the group's last follow-up).",
    ("cumulative_incidence_at_ticks", "cif_non_relapse_mortality"): "Cumulative incidence of "
    "non-relapse mortality at the tick (R cmprsk::timepoints; empty past the group's last "
    "follow-up).",
    ("competing_risks_tests", "cause"): "The cause compared: relapse or non-relapse mortality.",
    ("competing_risks_tests", "events"): "Patients with the cause among the patients compared.",
    ("competing_risks_tests", "test"): "Gray's test (cumulative incidence curves equal) or "
    "Fine-Gray (subdistribution hazard ratio of a group vs the reference group).",
    ("competing_risks_tests", "term"): "Fine-Gray: the group vs the reference group (empty for "
    "Gray's test).",
    ("competing_risks_tests", "hazard_ratio"): "Subdistribution hazard ratio (Fine-Gray, R "
    "cmprsk::crr).",
    ("competing_risks_tests", "estimable"): "Whether the test or model could be computed.",
    ("competing_risks_tests", "note"): "Why it could not be computed (empty otherwise).",
}

_SURVIVAL_AT = re.compile(r"^survival_(\d+)m(?:_ci_(lower|upper))?$")
#: a group's column header of table1, its N printed with thousands commas ("N = 10,000")
_TABLE1_GROUP = re.compile(r"^(?:(?P<span>[^:]+): )?(?P<group>.+), N = (?P<n>\d{1,3}(?:,\d{3})*)$")
_TABLE1_P = re.compile(r"^(?P<span>[^:]+): p-value$")


def column_meaning(table: str, column: str) -> str | None:
    """The meaning of ``analysis.<table>.<column>``, or None when it is not documented."""
    if (table, column) in SPECIFIC:
        return SPECIFIC[(table, column)]
    if column in COMMON:
        return COMMON[column]
    if found := _SURVIVAL_AT.match(column):
        months, limit = found.groups()
        what = f"Survival at {months} months (Kaplan-Meier)"
        return f"{limit.capitalize()} limit of the 95% CI of: {what}." if limit else what + "."
    if table == "table1" and (found := _TABLE1_GROUP.match(column)):
        span = found["span"] or "all patients"
        return (
            f"Cell as printed for group '{found['group']}' ({found['n']} patients) of "
            f"{span}: n (%) or median (range)."
        )
    if table == "table1" and (found := _TABLE1_P.match(column)):
        return f"p-value as printed for the comparison {found['span']} (footnote: the test)."
    return None
