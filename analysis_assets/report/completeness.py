"""The data completeness paragraph: what intake set to missing or held back, and whom each
analysis leaves out and why (every number computed from the tables)."""

from __future__ import annotations

import re

import pandas as pd

from analysis_assets.formatting import column_label
from analysis_assets.labels import VARIABLES, field_label, variable
from analysis_assets.report.common import Tables, patients
from analysis_assets.study import COVARIATES, ENDPOINTS, TABLE1_CATEGORICAL, TABLE1_CONTINUOUS

__all__ = ["completeness_sentences"]


def _nulled_sentence(nulled: pd.DataFrame) -> str:
    total = int(nulled["values"].sum()) if len(nulled) else 0
    if not total:
        return "At intake, no delivered value was set to missing."
    parts = "; ".join(
        f"{field_label(r.entity, r.column_name)} ({r.entity.replace('_', ' ')}): {int(r.values)}"
        for r in nulled.itertuples()
    )
    return (
        f"At intake, {total} delivered values that broke the extract format were set to "
        f"missing and queried back to the centres, the rest of their rows kept ({parts})."
    )


def _held_sentence(held: pd.DataFrame) -> str:
    parts = ", ".join(f"{str(r.rule).replace('_', ' ')} {int(r.rows)}" for r in held.itertuples())
    return (
        "Delivered rows held back whole at intake (a bad key field, or rows sharing a key with "
        f"different content), by reason (a row may have several): {parts}."
    )


def _table1_sentence(po: pd.DataFrame) -> str:
    n = len(po)
    columns = [c for c in (*TABLE1_CONTINUOUS, *TABLE1_CATEGORICAL) if c in po]
    missing = [(c, int(po[c].isna().sum())) for c in columns]
    missing = [(c, k) for c, k in missing if k]
    if not missing:
        return f"Table 1: every characteristic is known for all {n} patients."
    parts = "; ".join(f"{variable(c).label} on {n - k} of {n} ({k} unknown)" for c, k in missing)
    return (
        "Table 1 summarises each characteristic over the patients with a known value, counts "
        f"the unknown in a row of their own and leaves them out of its tests: {parts}."
    )


def _ungradable_sentence(po: pd.DataFrame) -> list[str]:
    if not {"crs_max_grade", "icans_max_grade"} <= set(po.columns):
        return []
    n = len(po)
    crs, icans = int(po["crs_max_grade"].isna().sum()), int(po["icans_max_grade"].isna().sum())
    either = int((po["crs_max_grade"].isna() | po["icans_max_grade"].isna()).sum())
    if not either:
        return []
    return [
        f"{either} of {n} patients could not be graded for CRS or ICANS (ungradable: {crs} for "
        f"CRS, {icans} for ICANS); each toxicity comparison leaves out the patients it cannot "
        "place, and its denominators are the gradable patients."
    ]


def _lfs_sentence(po: pd.DataFrame) -> list[str]:
    spec = ENDPOINTS.get("LFS")
    if spec is None or spec.months not in po or spec.event not in po:
        return []
    population = int((po[spec.months].notna() & po[spec.event].notna()).sum())
    in_cr = int(po["cr_day30"].fillna(False).astype(bool).sum()) if "cr_day30" in po else None
    if in_cr is not None and in_cr != population:
        return [
            f"LFS is defined for the {spec.population} only ({in_cr} of {len(po)} infused "
            f"patients), of whom {population} have an LFS time; the others are not in the LFS "
            "analyses."
        ]
    return [
        f"LFS is defined for the {spec.population} only: {population} of {len(po)} infused "
        "patients; the others are not in the LFS analyses."
    ]


_QUERIED = re.compile(r"\s*\(queried to the centre\)")
#: how the sentence names an endpoint of mart.cohort_exclusions.dated_before_clock_endpoint
#: (the others by their code: OS, LFS)
_ENDPOINT_NAMES = {"response": "the day-30 response"}


def _dated_before_clock_sentence(exclusions: pd.DataFrame | None) -> list[str]:
    """Whom an event dated before its clock starts (the index infusion, or the CR date for
    LFS) takes out of an endpoint, by reason (the reasons and their endpoints:
    ``mart.cohort_exclusions.dated_before_clock_endpoint``, from dbt); those events are queried
    back to the centres."""
    if exclusions is None or "dated_before_clock_endpoint" not in exclusions:
        return []
    overall = exclusions[exclusions["centre_code"] == "all"]
    rows = overall[overall["dated_before_clock_endpoint"].notna()]
    if not len(rows):
        return []
    found = rows[rows["n"] > 0].sort_values(["step_order", "reason_order"])
    if not len(found):
        return [
            "No death, relapse or CR was dated before its clock starts (the index infusion, "
            "or the CR date for LFS): no endpoint was excluded for it."
        ]
    parts = "; ".join(
        f"{_ENDPOINT_NAMES.get(r.dated_before_clock_endpoint, r.dated_before_clock_endpoint)} "
        f"of {int(r.n)} patient{'s' if int(r.n) != 1 else ''} "
        f"({_QUERIED.sub('', str(r.reason))})"
        for r in found.itertuples()
    )
    return [
        "An event dated before its clock starts would give a negative time: it is queried "
        "back to the centre and that endpoint of the patient is left out of its analyses "
        f"(cohort flow): {parts}."
    ]


def _model_covariates(rows: pd.DataFrame) -> list[str]:
    if "covariates" in rows and rows["covariates"].notna().any():
        text = str(rows["covariates"].dropna().iloc[0])
        return [c.strip() for c in text.split("+")]
    return [str(t).split("[")[0].split(" (")[0] for t in rows["term"]]


def _covariate_label(column: str) -> str:
    if column in VARIABLES:
        return variable(column).label
    return COVARIATES[column].description if column in COVARIATES else column_label(column)


def _univariate_sentence(po: pd.DataFrame, name: str, rows: pd.DataFrame) -> str | None:
    endpoint = ENDPOINTS[name]
    if endpoint.months not in po or endpoint.event not in po or not len(rows):
        return None
    population = int((po[endpoint.months].notna() & po[endpoint.event].notna()).sum())
    models = rows.drop_duplicates("covariates")
    short = [
        f"{_covariate_label(r.covariates)} (n = {int(r.n)})"
        for r in models.itertuples()
        if int(r.n) < population
    ]
    if not short:
        return f"Every univariate Cox model of {name} used all {population} patients."
    return (
        f"The univariate Cox models of {name} used all {population} patients except, for a "
        f"missing covariate: {', '.join(short)}."
    )


def _cox_sentence(po: pd.DataFrame, name: str, rows: pd.DataFrame) -> str | None:
    endpoint = ENDPOINTS[name]
    if endpoint.months not in po or endpoint.event not in po:
        return None
    members = po[po[endpoint.months].notna() & po[endpoint.event].notna()]
    used, population = int(rows["n"].iloc[0]), len(members)
    s = (
        f"The multivariate Cox model of {name} used {used} of the {population} patients of its "
        f"population ({endpoint.population})"
    )
    if used >= population:
        return s + "."
    missing = [(c, int(members[c].isna().sum())) for c in _model_covariates(rows) if c in members]
    named = ", ".join(f"{_covariate_label(c)} unknown for {k}" for c, k in missing if k)
    return s + f"; {population - used} left out for a missing covariate ({named})."


def completeness_sentences(t: Tables) -> list[str]:
    """What intake set to missing or held back, and whom each analysis leaves out."""
    lines = []
    if t.get("intake_nulled_values") is not None:
        lines.append(_nulled_sentence(t["intake_nulled_values"]))
    held = t.get("intake_rows_held_back")
    if held is not None and len(held):
        lines.append(_held_sentence(held))
    po = patients(t)
    if po is None:
        return lines
    lines.append(_table1_sentence(po))
    lines += _ungradable_sentence(po)
    lines += _lfs_sentence(po)
    lines += _dated_before_clock_sentence(t.get("cohort_exclusions"))
    lines += _cox_lines(po, t.get("cox_univariate"), t.get("cox_multivariate"))
    return lines


def _cox_lines(po: pd.DataFrame, univariate, multivariate) -> list[str]:
    lines = []
    for name in ENDPOINTS:
        if univariate is not None and "covariates" in univariate:
            lines.append(_univariate_sentence(po, name, univariate[univariate["endpoint"] == name]))
        rows = multivariate[multivariate["endpoint"] == name] if multivariate is not None else []
        lines.append(_cox_sentence(po, name, rows) if len(rows) else None)
    return [line for line in lines if line]
