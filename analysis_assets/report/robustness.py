"""The "Robustness" results section: whether the study's conclusion (no difference in OS or
LFS by CRS, ICANS, grade >= 3, corticosteroids or tocilizumab) survives the analyses that
remove immortal time (landmark, time-dependent Cox), the sensitivity analyses, and relapse and
non-relapse mortality as competing risks. Every number comes from the robustness tables."""

from __future__ import annotations

import pandas as pd

from analysis_assets import study
from analysis_assets.formatting import (
    comparison_label,
    format_estimate_ci,
    format_number,
    format_p,
    is_missing,
)
from analysis_assets.report.common import Tables

__all__ = ["robustness_sentences", "verdict"]

METHOD_NAMES = {
    "naive": "naive (from the origin, as published)",
    "landmark": f"landmark (day {study.LANDMARK_DAY})",
    "time_dependent": "time-dependent Cox",
}


def _significant(p) -> bool:
    return not is_missing(p) and float(p) < study.METHODS.significance_level


def _hr(r) -> str:
    if not bool(r.estimable) or is_missing(r.hazard_ratio):
        return f"not estimable ({r.note})"
    return (
        f"HR {format_number(r.hazard_ratio, 2)} (95% CI {format_number(r.ci_lower, 2)}–"
        f"{format_number(r.ci_upper, 2)}), {format_p(r.p_value)}"
    )


def verdict(rows: pd.DataFrame) -> tuple[str, bool]:
    """Whether the conclusion of no difference holds over the methods of ``rows`` (one
    exposure and endpoint), in words, and as a flag: it holds when no method, or only the
    naive one, finds a significant difference."""
    significant = [r.method for r in rows.itertuples() if _significant(r.p_value)]
    if not significant:
        return "no significant difference by any method: the conclusion holds", True
    if len(significant) == len(rows):
        return (
            "a significant difference by every method: the conclusion of no difference does "
            "not hold",
            False,
        )
    if significant == ["naive"]:
        return (
            "only the naive estimate differs significantly: the difference is not robust to "
            "immortal time, and the conclusion of no difference holds",
            True,
        )
    names = ", ".join(METHOD_NAMES[m] for m in significant)
    return (
        f"a significant difference by the {names} estimate only: the conclusion is uncertain",
        False,
    )


def _main(estimates: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    return estimates[(estimates["endpoint"] == endpoint) & ~estimates["sensitivity"].astype(bool)]


def _exposure_sentences(estimates: pd.DataFrame) -> tuple[list[str], dict[str, bool]]:
    lines, holds = [], {}
    for endpoint in ("OS", "LFS"):
        main = _main(estimates, endpoint)
        for exposure, spec in study.ROBUSTNESS_EXPOSURES.items():
            rows = main[main["exposure"] == exposure]
            if rows.empty:
                continue
            parts = [
                f"{METHOD_NAMES[r.method]} {_hr(r)} (n = {r.n}, {r.events} events)"
                for r in rows.itertuples()
            ]
            text, holds[f"{endpoint}|{exposure}"] = verdict(rows)
            lines.append(f"{endpoint} by {spec.description}: {'; '.join(parts)} — {text}.")
    return lines, holds


def _sensitivity_sentence(estimates: pd.DataFrame) -> list[str]:
    """Landmark days other than the main one, and the endpoints censored at HSCT: does any
    change the significance of the main analysis of the same method and exposure?"""
    sens = estimates[estimates["sensitivity"].astype(bool)]
    if sens.empty:
        return []
    changed = []
    for r in sens.itertuples():
        endpoint = r.endpoint.replace("_HSCT_CENSORED", "")
        main = estimates[
            (estimates["endpoint"] == endpoint)
            & (estimates["exposure"] == r.exposure)
            & (estimates["method"] == r.method)
            & ~estimates["sensitivity"].astype(bool)
        ]
        if len(main) and _significant(main["p_value"].iloc[0]) != _significant(r.p_value):
            where = (
                f"landmark day {int(r.landmark_day)}"
                if r.method == "landmark"
                else f"{endpoint} censored at allogeneic HSCT ({METHOD_NAMES[r.method]})"
            )
            changed.append(
                f"{study.ROBUSTNESS_EXPOSURES[r.exposure].description} ({where}: {_hr(r)})"
            )
    days = ", ".join(str(d) for d in study.LANDMARK_SENSITIVITY_DAYS)
    what = (
        f"In {len(sens)} sensitivity analyses (landmark days {days}; OS and LFS censored at "
        "allogeneic HSCT, naive and time-dependent)"
    )
    if not changed:
        return [f"{what}, no exposure changed from significant to not or back."]
    return [f"{what}, the significance changed for: {'; '.join(changed)}."]


SENSITIVITY_NAMES = {
    "stratified_by_centre": "Stratified by centre",
    "leave_one_centre_out": "Leaving out one centre at a time",
    "reported_grades": "With CRS, ICANS and grade ≥ 3 from the centres' reported ASTCT 2019 "
    "grades where they exist (naive)",
}


def _centre_sentences(estimates: pd.DataFrame, sensitivity: pd.DataFrame | None) -> list[str]:
    """Per sensitivity analysis of ``robustness_sensitivity``: the fits whose significance
    differs from the main estimate of the same endpoint, exposure and method."""
    if sensitivity is None or sensitivity.empty:
        return []
    main = estimates[~estimates["sensitivity"].astype(bool)].set_index(
        ["endpoint", "exposure", "method"]
    )["p_value"]
    lines = []
    for analysis, rows in sensitivity.groupby("analysis", sort=False):
        changed = []
        for r in rows.itertuples():
            reference = main.get((r.endpoint, r.exposure, r.method))
            if reference is None or _significant(reference) == _significant(r.p_value):
                continue
            without = f" without {r.left_out_centre}" if r.left_out_centre else ""
            changed.append(
                f"{r.endpoint} by {study.ROBUSTNESS_EXPOSURES[r.exposure].description} "
                f"({METHOD_NAMES[r.method]}{without}: {_hr(r)}; main {format_p(reference)})"
            )
        name = SENSITIVITY_NAMES.get(analysis, analysis)
        if not changed:
            lines.append(
                f"{name} ({len(rows)} fits), no estimate changed from significant to not or back."
            )
        else:
            lines.append(
                f"{name} ({len(rows)} fits), the significance changed in {len(changed)}: "
                + "; ".join(changed)
                + "."
            )
    return lines


def _per_centre_sentence(centres: pd.DataFrame | None) -> list[str]:
    """CR at day 30 and the OS median of each centre (``centre_outcomes``)."""
    if centres is None or centres.empty:
        return []
    os_rows = centres[centres["endpoint"] == "OS"]
    parts = [
        f"{r.centre_code}: CR at day 30 in {r.responders} of {r.patients} "
        f"({format_number(r.response_rate_pct)}%), median OS "
        f"{format_estimate_ci(r.median_months, r.median_ci_lower, r.median_ci_upper, 'months')}"
        for r in os_rows.itertuples()
    ]
    return [f"By centre: {'; '.join(parts)}."]


def _cif_at(at_ticks: pd.DataFrame, comparison: str, group: str, months: int, column: str):
    rows = at_ticks[
        (at_ticks["comparison"] == comparison)
        & (at_ticks["group"] == group)
        & (at_ticks["time_months"] == months)
    ]
    return None if rows.empty else rows[column].iloc[0]


def _competing_sentences(t: Tables) -> list[str]:
    at_ticks, tests = t.get("cumulative_incidence_at_ticks"), t.get("competing_risks_tests")
    if at_ticks is None or tests is None or at_ticks.empty:
        return []
    overall = at_ticks[at_ticks["comparison"] == study.OVERALL].sort_values("time_months")
    last = overall.iloc[-1]
    n = int(overall["n_risk"].iloc[0])
    month = study.TIME_TICK_MONTHS
    cif = {
        c: _cif_at(at_ticks, study.OVERALL, study.OVERALL_GROUP, month, f"cif_{c}")
        for c in ("relapse", "non_relapse_mortality")
    }
    shown = {c: "n/a" if is_missing(v) else f"{format_number(100 * v)}%" for c, v in cif.items()}
    lines = [
        f"Among the {n} patients in CR, {int(last['cumulative_relapses'])} relapsed and "
        f"{int(last['cumulative_non_relapse_deaths'])} died without relapse (competing risks, "
        f"from the CR); the cumulative incidence at {month} months was {shown['relapse']} for "
        f"relapse and {shown['non_relapse_mortality']} for non-relapse mortality."
    ]
    alpha = study.METHODS.significance_level
    for cause in study.COMPETING_CAUSES.values():
        sub = tests[(tests["cause"] == cause) & (tests["test"] == "Gray's test")]
        parts = [
            f"{comparison_label(r.comparison)} {format_p(r.p_value)}" for r in sub.itertuples()
        ]
        differs = [r.comparison for r in sub.itertuples() if _significant(r.p_value)]
        fg = tests[
            (tests["cause"] == cause)
            & (tests["test"] == "Fine-Gray")
            & (tests["comparison"] == study.CIF_FIGURE_COMPARISON)
        ]
        fine_gray = "; ".join(f"{r.term} subdistribution {_hr(r)}" for r in fg.itertuples())
        conclusion = (
            f"no grouping differed significantly (α = {alpha:g})"
            if not differs
            else "differed significantly by " + ", ".join(comparison_label(c) for c in differs)
        )
        lines.append(
            f"Cumulative incidence of {cause} by Gray's test: {'; '.join(parts)} — {conclusion}."
            + (f" Fine–Gray model by toxicity group: {fine_gray}." if fine_gray else "")
        )
    return lines


def robustness_sentences(t: Tables) -> list[str]:
    """The robustness section in words (empty when the robustness tables are absent)."""
    estimates = t.get("robustness_estimates")
    if estimates is None or estimates.empty:
        return []
    lines = [
        "CRS, ICANS and their treatment start after day 0, so comparing exposed and unexposed "
        "patients from day 0 (the naive estimate, as published) credits the exposed with the "
        "time they survived to become exposed. The same contrasts were estimated among the "
        f"patients alive at day {study.LANDMARK_DAY} (landmark, OS) and with the exposure "
        "switching on at its onset day (time-dependent Cox; for LFS, from the CR date, this is "
        "the analysis that applies)."
    ]
    exposure_lines, holds = _exposure_sentences(estimates)
    lines += exposure_lines
    lines += _sensitivity_sentence(estimates)
    lines += _centre_sentences(estimates, t.get("robustness_sensitivity"))
    lines += _per_centre_sentence(t.get("centre_outcomes"))
    lines += _competing_sentences(t)
    failing = [k for k, ok in holds.items() if not ok]
    if holds:
        if not failing:
            summary = (
                "the study's conclusion (no difference in OS or LFS by CRS, ICANS, grade ≥ 3, "
                "corticosteroids or tocilizumab) survives every analysis"
            )
        else:
            names = ", ".join(
                f"{k.split('|')[0]} by {study.ROBUSTNESS_EXPOSURES[k.split('|')[1]].description}"
                for k in failing
            )
            summary = (
                f"the study's conclusion of no difference holds for {len(holds) - len(failing)} "
                f"of {len(holds)} endpoint-exposure pairs; it does not hold for {names}"
            )
        lines.append(f"In summary, {summary}.")
    return lines
