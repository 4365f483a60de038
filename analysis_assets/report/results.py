"""The results in words: one function per results section, each a function of the tables (by
bare name) returning plain-text sentences; every number is computed from the tables.

Denominator policy (stated in the report): a percentage is over the patients with a known
value, its denominator is stated ("75 of 92 gradable patients (81.5%)"), and the patients
with an unknown value are counted and named as such. The response rates keep the study's
primary denominator, every infused patient (a patient without an evaluable assessment counts
as a non-responder), and also give the rate over the evaluable patients.
"""

from __future__ import annotations

import pandas as pd

from analysis_assets.formatting import (
    comparison_label,
    count_of,
    format_date,
    format_estimate_ci,
    format_number,
    format_p,
    is_missing,
    median_range,
    term_label,
    test_label,
)
from analysis_assets.labels import variable
from analysis_assets.report.common import Tables, flag, patients, significant_by
from analysis_assets.study import COVARIATES, ENDPOINTS, MAIN_BASIS, OVERALL, RESPONSES

__all__ = [
    "DENOMINATOR_POLICY",
    "cohort_sentences",
    "toxicity_sentences",
    "response_sentences",
    "biomarker_sentences",
    "survival_sentences",
    "multivariate_sentences",
]

DENOMINATOR_POLICY = (
    "Percentages are over the patients with a known value, with the denominator stated; "
    "patients with an unknown value are counted and named as such."
)


def _in_sentence(text: str) -> str:
    """A label inside a sentence: ``Peak IL-6`` -> ``peak IL-6`` (acronyms kept)."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _unit(column: str) -> str:
    return variable(column).unit


def _scaled(po: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(po[column], errors="coerce") / variable(column).scale


# --------------------------------------------------------------------------- cohort
def _sex_sentence(po: pd.DataFrame) -> str:
    known = po["sex"].notna()
    males = int((po["sex"] == "m").sum())
    s = f"{count_of(males, int(known.sum()), 'patients with a known sex')} were male"
    unknown = int((~known).sum())
    return s + (f"; sex was unknown for {unknown}." if unknown else ".")


def _median_sentence(po: pd.DataFrame, column: str, what: str) -> str:
    values = _scaled(po, column)
    known, n = int(values.notna().sum()), len(po)
    over = f" (known for {known} of {n} patients)" if known < n else ""
    return f"The median {what} was {median_range(values, _unit(column))}{over}."


def cohort_sentences(t: Tables) -> list[str]:
    """Patients, centres, infusion years, age, sex and cell dose."""
    po = patients(t)
    if po is None:
        return []
    years = (
        f" between {int(po['infusion_year'].min())} and {int(po['infusion_year'].max())}"
        if "infusion_year" in po and po["infusion_year"].notna().any()
        else ""
    )
    lines = [
        f"{len(po)} patients received an index CAR-T infusion at "
        f"{po['centre_code'].nunique()} centres{years}."
    ]
    if "age_at_infusion" in po:
        lines.append(_median_sentence(po, "age_at_infusion", "age at infusion"))
    if "sex" in po:
        lines.append(_sex_sentence(po))
    if "cell_dose_per_kg" in po:
        lines.append(_median_sentence(po, "cell_dose_per_kg", "CAR-T cell dose"))
    return lines


# --------------------------------------------------------------------------- toxicity
def _grade_sentence(po: pd.DataFrame, name: str, grade_column: str, onset: str) -> str:
    grade = pd.to_numeric(po[grade_column], errors="coerce")
    gradable, n = int(grade.notna().sum()), len(po)
    affected, severe = int((grade >= 1).sum()), int((grade >= 3).sum())
    s = (
        f"Of {n} infused patients, {gradable} could be graded for {name}: "
        f"{count_of(affected, gradable, 'gradable patients')} developed {name} and "
        f"{count_of(severe, gradable)} severe {name} (grade ≥ 3)"
    )
    if gradable < n:
        s += f"; {n - gradable} could not be graded (ungradable)"
    s += "."
    if affected and onset in po:
        s += f" Median onset was day {median_range(po.loc[grade >= 1, onset])}."
    return s


def _both_sentence(po: pd.DataFrame) -> str:
    crs = pd.to_numeric(po["crs_max_grade"], errors="coerce")
    icans = pd.to_numeric(po["icans_max_grade"], errors="coerce")
    gradable = int((crs.notna() & icans.notna()).sum())
    both = int(flag(po, "concurrent_crs_icans").sum())
    with_icans = int((icans >= 1).sum())
    s = f"{count_of(both, gradable, 'patients gradable for both')} had both CRS and ICANS"
    if with_icans:
        also = int(((icans >= 1) & (crs >= 1)).sum())
        s += f"; {count_of(also, with_icans, 'patients with ICANS')} also had CRS"
    return s + "."


TREATMENTS = (
    ("tocilizumab", "received_tocilizumab", "tocilizumab_total_mg", "tocilizumab_first_day"),
    ("corticosteroids", "received_steroids", "steroid_dex_equiv_mg", "steroid_first_day"),
)


def _treatment_sentence(po: pd.DataFrame, name: str, column: str, dose: str, first: str) -> str:
    known = po[column].notna()
    got = flag(po, column)
    s = f"{count_of(int(got.sum()), int(known.sum()), 'patients with known treatment')} "
    s += f"received {name}"
    if got.any() and dose in po:
        doses = pd.to_numeric(po.loc[got, dose], errors="coerce")
        known_dose = int(doses.notna().sum())
        over = f" (known for {known_dose} of {int(got.sum())})" if known_dose < got.sum() else ""
        s += f"; the median cumulative dose{over} was {median_range(doses, _unit(dose))}"
        if first in po:
            s += f", started at a median of day {median_range(po.loc[got, first])}"
    unknown = int((~known).sum())
    return s + (f"; treatment unknown for {unknown}." if unknown else ".")


def toxicity_sentences(t: Tables) -> list[str]:
    """CRS and ICANS incidence and onset, both together, tocilizumab and corticosteroid use."""
    po = patients(t)
    if po is None:
        return []
    lines = [
        _grade_sentence(po, "CRS", "crs_max_grade", "crs_onset_day"),
        _grade_sentence(po, "ICANS", "icans_max_grade", "icans_onset_day"),
    ]
    if "concurrent_crs_icans" in po:
        lines.append(_both_sentence(po))
    for name, column, dose, first in TREATMENTS:
        if column in po:
            lines.append(_treatment_sentence(po, name, column, dose, first))
    return lines


# --------------------------------------------------------------------------- response
def _response_count(po: pd.DataFrame, column: str, what: str) -> str:
    got, n = int(flag(po, column).sum()), len(po)
    s = f"At day 30, {count_of(got, n, 'infused patients')} {what}"
    unknown = int(po[column].isna().sum())
    if unknown:
        s += (
            f" ({unknown} not evaluable for response counted as non-responders; over the "
            f"{n - unknown} evaluable patients: {count_of(got, n - unknown)})"
        )
    return s + "."


def _groups_text(rows: pd.DataFrame) -> str:
    return ", ".join(
        f"{g} {count_of(int(k), int(n))}"
        for g, k, n in zip(rows["group"], rows["responders"], rows["n"])
    )


def _response_test_sentence(spec_label: str, comparison: str, rows: pd.DataFrame) -> str:
    first = rows.iloc[0]
    test = (
        f"{test_label(first['test'])}, {format_p(first['p_value'])}"
        if not is_missing(first["p_value"])
        else "not tested (one outcome only)"
    )
    return f"{spec_label} by {comparison_label(comparison)}: {_groups_text(rows)}; {test}."


def response_sentences(t: Tables) -> list[str]:
    """CR and MRD-negative CR at day 30, and their tests by every comparison."""
    lines = []
    po = patients(t)
    if po is not None:
        lines.append(_response_count(po, "cr_day30", "were in CR"))
        if "mrd_negative_cr" in po:
            lines.append(_response_count(po, "mrd_negative_cr", "reached an MRD-negative CR"))
    rr = t.get("response_rates")
    if rr is None or not len(rr):
        return lines
    sub = rr[rr["basis"] == MAIN_BASIS] if "basis" in rr else rr
    for response, spec in RESPONSES.items():
        rows = sub[sub["response"] == response]
        if rows.empty:
            continue
        tests = rows.drop_duplicates("comparison")
        lines.append(f"The rate of {spec.label} {significant_by(tests)}.")
        for comparison in pd.unique(rows["comparison"]):
            group_rows = rows[rows["comparison"] == comparison]
            lines.append(_response_test_sentence(spec.label, comparison, group_rows))
    return lines


# --------------------------------------------------------------------------- biomarkers
def _biomarker_sentence(bt: pd.DataFrame, name: str, comparison: str) -> str:
    rows = bt[(bt["variable"] == name) & (bt["comparison"] == comparison)]
    v = variable(name)
    scale = v.scale
    medians = ", ".join(
        f"{format_number(m / scale)} in {g} (n = {int(k)})"
        for g, m, k in zip(rows["group"], rows["median"], rows["n"])
    )
    first = rows.iloc[0]
    test = (
        f"{test_label(first['test'])}, {format_p(first['p_value'])}"
        if not is_missing(first["p_value"])
        else "not tested (one group)"
    )
    unit = f" ({v.unit})" if v.unit else ""
    return (
        f"Median {_in_sentence(v.label)}{unit} by {comparison_label(comparison)}: {medians}; "
        f"{test}."
    )


def biomarker_sentences(t: Tables) -> list[str]:
    """CAR copies availability; biomarker medians by group with their tests."""
    lines = []
    po = patients(t)
    if po is not None and "peak_car_copies" in po:
        car = int(pd.to_numeric(po["peak_car_copies"], errors="coerce").notna().sum())
        lines.append(
            f"{variable('peak_car_copies').label} were measured for "
            f"{count_of(car, len(po), 'infused patients')}."
        )
    bt = t.get("biomarker_tests")
    if bt is not None and len(bt):
        for r in bt.drop_duplicates(["variable", "comparison"]).itertuples():
            lines.append(_biomarker_sentence(bt, r.variable, r.comparison))
    return lines


# --------------------------------------------------------------------------- survival
def _cutoff(t: Tables):
    prov = t.get("provenance")
    if prov is None or not len(prov) or "cutoff" not in prov:
        return None
    value = prov["cutoff"].iloc[0]
    return None if is_missing(value) else pd.Timestamp(value).date()


def _follow_up_sentence(t: Tables) -> list[str]:
    fu = t.get("follow_up")
    if fu is None or not len(fu):
        return []
    r = fu.iloc[0]
    cutoff = _cutoff(t)
    at = f"At the cut-off date ({format_date(cutoff)}), the" if cutoff else "The"
    estimate = format_estimate_ci(r["median_months"], r["ci_lower"], r["ci_upper"], "months")
    return [f"{at} median follow-up ({r['method']}) was {estimate} for {int(r['n'])} patients."]


def _landmark(r, month: int, endpoint: str) -> str:
    value = getattr(r, f"survival_{month}m", None)
    if is_missing(value):
        return ""
    lower = getattr(r, f"survival_{month}m_ci_lower", None)
    upper = getattr(r, f"survival_{month}m_ci_upper", None)
    pct = [None if is_missing(x) else 100 * float(x) for x in (value, lower, upper)]
    estimate = format_estimate_ci(*pct)
    return f"; {endpoint} at {month} months was {estimate.replace(' (', '% (', 1)}"


def _median_sentence_survival(r) -> str:
    spec = ENDPOINTS[r.endpoint]
    estimate = format_estimate_ci(r.median_months, r.median_ci_lower, r.median_ci_upper, "months")
    return (
        f"Median {spec.label} ({r.endpoint}) in {spec.population} (n = {int(r.n)}, "
        f"{int(r.events)} events) was {estimate}{_landmark(r, 12, r.endpoint)}."
    )


def _logrank_sentences(lr: pd.DataFrame) -> list[str]:
    lines = []
    for endpoint in pd.unique(lr["endpoint"]):
        sub = lr[lr["endpoint"] == endpoint]
        lines.append(f"By the log-rank test, {endpoint} {significant_by(sub)}.")
        lines += [
            f"{endpoint} by {comparison_label(r.comparison)}: log-rank {format_p(r.p_value)} "
            f"({int(r.n)} patients in {int(r.groups)} groups)."
            for r in sub.itertuples()
        ]
    return lines


def survival_sentences(t: Tables) -> list[str]:
    """Follow-up at the cut-off, OS/LFS medians with 95% CI, log-rank tests per endpoint."""
    lines = _follow_up_sentence(t)
    sm = t.get("survival_medians")
    if sm is not None and len(sm):
        overall = sm[sm["comparison"] == OVERALL]
        lines += [
            _median_sentence_survival(r) for r in overall.itertuples() if r.endpoint in ENDPOINTS
        ]
    lr = t.get("logrank_tests")
    if lr is not None and len(lr):
        lines += _logrank_sentences(lr)
    return lines


# --------------------------------------------------------------------------- Cox
def _covariate_names(term: str) -> str:
    names = [c.strip() for c in str(term).split("+")]
    return ", ".join(COVARIATES[c].description if c in COVARIATES else c for c in names)


def _term_text(r) -> str:
    description = r.description if not is_missing(r.description) else _covariate_names(r.term)
    label = term_label(r.term, description)
    if is_missing(r.estimable) or not bool(r.estimable):
        return f"{label}: not estimable"
    if is_missing(r.hazard_ratio):
        return f"{label} {format_p(r.p_value)}"
    return (
        f"{label} HR {format_number(r.hazard_ratio, 2)} "
        f"(95% CI {format_number(r.ci_lower, 2)}–{format_number(r.ci_upper, 2)}), "
        f"{format_p(r.p_value)}"
    )


def multivariate_sentences(t: Tables) -> list[str]:
    """Table 2 in words: each multivariate model's hazard ratios and Wald tests."""
    cm = t.get("cox_multivariate")
    if cm is None or not len(cm):
        return []
    lines = []
    for endpoint in pd.unique(cm["endpoint"]):
        sub = cm[cm["endpoint"] == endpoint]
        first = sub.iloc[0]
        terms = "; ".join(_term_text(r) for r in sub.itertuples())
        lines.append(
            f"In the multivariate Cox model for {endpoint} (n = {int(first['n'])}, "
            f"{int(first['events'])} events): {terms}."
        )
    return lines
