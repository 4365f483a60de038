"""Robustness of the study's conclusion: each toxicity and treatment exposure estimated naively
(time-fixed from day 0, as published), by landmark and by time-dependent Cox, side by side;
and relapse and non-relapse mortality as competing risks (plain functions on the mart).

The exposures start after day 0 (study.ROBUSTNESS_EXPOSURES), so the naive comparison credits
the exposed with the time they survived to become exposed (immortal-time bias). The landmark
and time-dependent estimates remove it; :mod:`analysis_assets.time_dependent`,
:mod:`analysis_assets.competing_risks` and :mod:`analysis_assets.fine_gray` hold the estimators,
each pinned to R (study.ROBUSTNESS_R_PARITY). Which flag and which onset day make each exposure
is defined once, in dbt (``mart.patient_exposures``, with which ``mart.exposure_intervals``
splits the follow-up); this module only reads it.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from analysis_assets import study
from analysis_assets.centre_tables import centre_outcomes
from analysis_assets.comparisons import group_labels, group_order
from analysis_assets.competing_risks import (
    cumulative_incidence,
    cumulative_incidence_at,
    gray_test,
)
from analysis_assets.cox import CoxResult, cox_fit
from analysis_assets.fine_gray import fine_gray
from analysis_assets.processes import in_processes
from analysis_assets.survival import time_ticks
from analysis_assets.survival_tables import endpoint_frame
from analysis_assets.time_dependent import landmark_analysis, time_dependent_cox

__all__ = [
    "exposure_flags",
    "robustness_estimates",
    "reported_grade_flags",
    "sensitivity_estimates",
    "competing_risks_status",
    "km_at_ticks",
    "competing_risks_tables",
    "robustness_tables",
]


def exposure_flags(patient_exposures: pd.DataFrame) -> pd.DataFrame:
    """The exposures of ``mart.patient_exposures`` (flags, onset days and whether each is
    known, defined in dbt) with every flag as a nullable boolean: a flag column without a null
    reads as numpy bool, which a left merge would turn into objects.

    Parameters
    ----------
    patient_exposures : DataFrame
        ``mart.patient_exposures``.

    Returns
    -------
    DataFrame
        ``patient_key`` and, per exposure ``e``, ``e`` (boolean, missing when unknown),
        ``e_onset_day`` (study day; missing when never exposed or the day is unknown) and
        ``e_onset_known`` (boolean).
    """
    names = list(study.ROBUSTNESS_EXPOSURES)
    flags = [*names, *(f"{e}_onset_known" for e in names)]
    columns = [
        "patient_key",
        *(f"{e}{s}" for e in names for s in ("", "_onset_day", "_onset_known")),
    ]
    return patient_exposures[columns].astype({c: "boolean" for c in flags})


def _row(endpoint, exposure, method, result: CoxResult, n_exposed, landmark=None, logrank=None):
    term = result.terms[0] if result.estimable else None
    return {
        "endpoint": endpoint,
        "exposure": exposure,
        "exposure_label": study.ROBUSTNESS_EXPOSURES[exposure].description,
        "method": method,
        "landmark_day": landmark,
        "sensitivity": bool(
            endpoint.endswith("_HSCT_CENSORED")
            or (landmark is not None and landmark != study.LANDMARK_DAY)
        ),
        "n": int(result.n),
        "n_exposed": int(n_exposed),
        "events": int(result.events),
        "hazard_ratio": term.hr if term else np.nan,
        "ci_lower": term.hr_lower if term else np.nan,
        "ci_upper": term.hr_upper if term else np.nan,
        "p_value": term.p if term else np.nan,
        "logrank_p_value": np.nan if logrank is None else float(logrank.p),
        "estimable": bool(result.estimable),
        "note": "" if result.estimable else str(result.reason),
    }


def robustness_estimates(
    exposures: pd.DataFrame, time_to_event: pd.DataFrame, intervals: pd.DataFrame
) -> pd.DataFrame:
    """Naive, landmark and time-dependent hazard ratios (exposed vs not) of every exposure.

    Naive: Cox on the time-fixed flag (ever exposed) from the endpoint's origin, every patient
    whose flag is known (= the published contrast). Landmark (OS only): the patients alive and
    followed beyond day L (study.LANDMARK_DAY, then the sensitivity days), exposure as known at
    L, KM log-rank and Cox from L; patients exposed at an unknown day are left out. Time-
    dependent: Cox on ``mart.exposure_intervals`` (an unknown onset day leaves the patient out).
    The exposures, flags and onset days are ``mart.patient_exposures``' (dbt).

    Parameters
    ----------
    exposures, time_to_event, intervals : DataFrame
        ``mart.patient_exposures``, ``mart.time_to_event``, ``mart.exposure_intervals``.

    Returns
    -------
    DataFrame
        One row per endpoint, exposure and method (landmark: per landmark day).
    """
    exposures = exposure_flags(exposures)
    landmarks = (study.LANDMARK_DAY, *study.LANDMARK_SENSITIVITY_DAYS)
    rows = []
    for endpoint in study.TIME_DEPENDENT_ENDPOINTS:
        tte = time_to_event[time_to_event["paramcd"] == endpoint]
        frame = tte[["patient_key", "start_day", "aval_days"]].assign(
            event=(tte["cnsr"] == 0).astype(int)
        )
        frame = frame.merge(exposures, on="patient_key", how="left")
        cp = intervals[intervals["paramcd"] == endpoint]
        for exposure in study.ROBUSTNESS_EXPOSURES:
            naive = frame[["aval_days", "event", exposure]].dropna().astype(float)
            rows.append(
                _row(
                    endpoint,
                    exposure,
                    "naive",
                    cox_fit(naive, "aval_days", "event", [exposure]),
                    naive[exposure].sum(),
                )
            )
            if endpoint == "OS":
                known = frame[frame[f"{exposure}_onset_known"].fillna(False)]
                for day in landmarks:
                    lm = landmark_analysis(
                        known, day, "aval_days", "event", f"{exposure}_onset_day"
                    )
                    rows.append(
                        _row(endpoint, exposure, "landmark", lm.cox, lm.n_exposed, day, lm.logrank)
                    )
            td = cp[["patient_key", "tstart", "tstop", "event", exposure]].dropna()
            ever = td.groupby("patient_key")[exposure].max().sum()
            rows.append(
                _row(
                    endpoint,
                    exposure,
                    "time_dependent",
                    time_dependent_cox(td, [exposure], id_col="patient_key"),
                    ever,
                )
            )
    return pd.DataFrame(rows)


def reported_grade_flags(patient_exposures: pd.DataFrame) -> pd.DataFrame:
    """The exposures that ``mart.patient_exposures`` also flags from the centres' reported
    grades (``<exposure>_reported``: CRS, ICANS, grade >= 3; defined in dbt), by exposure name.

    Returns
    -------
    DataFrame
        ``patient_key`` and a nullable boolean per exposure (missing when unknown).
    """
    names = [e for e in study.ROBUSTNESS_EXPOSURES if f"{e}_reported" in patient_exposures]
    flags = patient_exposures[["patient_key", *(f"{e}_reported" for e in names)]]
    return flags.rename(columns=lambda c: c.removesuffix("_reported")).astype(
        {e: "boolean" for e in names}
    )


def _single_intervals(frame: pd.DataFrame, exposure: str) -> pd.DataFrame:
    """Time-fixed data as one interval (0, time] per patient, for stratified fits."""
    d = frame[["patient_key", "centre_code", "aval_days", "event", exposure]].dropna()
    d = d[d["aval_days"] > 0]
    return d.assign(
        tstart=0.0, tstop=d["aval_days"].astype(float), **{exposure: d[exposure].astype(float)}
    )


def _sensitivity_row(analysis, centre, endpoint, exposure, method, result, n_exposed) -> dict:
    row = _row(endpoint, exposure, method, result, n_exposed)
    for key in ("landmark_day", "sensitivity", "logrank_p_value"):
        row.pop(key)
    return {"analysis": analysis, "left_out_centre": centre, **row}


#: patients from which the leave-one-centre-out fits run in a process per CPU (below it,
#: starting the processes costs more than the fits: 1 s for the demo's 93 patients)
PARALLEL_FROM_PATIENTS = 10_000


def sensitivity_estimates(
    exposures: pd.DataFrame,
    time_to_event: pd.DataFrame,
    intervals: pd.DataFrame,
    workers: int | None = None,
) -> pd.DataFrame:
    """The naive and time-dependent hazard ratios of every exposure for OS and LFS again:
    Cox stratified by centre, leaving out one centre at a time, and (naive only; reported
    grades have no onset day) with CRS, ICANS and grade >= 3 from the reported grades.

    Parameters
    ----------
    exposures, time_to_event, intervals : DataFrame
        ``mart.patient_exposures`` (with the flags from the reported grades),
        ``mart.time_to_event``, ``mart.exposure_intervals``.
    workers : int, optional
        Processes fitting the exposures side by side (default: one per CPU from
        :data:`PARALLEL_FROM_PATIENTS` patients, else 1). The same rows whatever the number
        (numbers to ~1e-15: OpenBLAS, one thread in each process, sums in another order).

    Returns
    -------
    DataFrame
        One row per analysis, left-out centre (empty otherwise), endpoint, exposure, method.
    """
    reported = reported_grade_flags(exposures)
    if workers is None and len(exposures) < PARALLEL_FROM_PATIENTS:
        workers = 1
    exposures = exposure_flags(exposures)
    jobs = []
    for endpoint in ("OS", "LFS"):
        tte = time_to_event[time_to_event["paramcd"] == endpoint]
        base = tte[["patient_key", "centre_code", "aval_days"]].assign(
            event=(tte["cnsr"] == 0).astype(int)
        )
        frame = base.merge(exposures, on="patient_key", how="left")
        cp = intervals[intervals["paramcd"] == endpoint]
        centres = sorted(frame["centre_code"].unique())
        for exposure in study.ROBUSTNESS_EXPOSURES:
            td = cp[["patient_key", "centre_code", "tstart", "tstop", "event", exposure]].dropna()
            by_reported = None
            if exposure in reported:
                data = base.merge(reported[["patient_key", exposure]], on="patient_key")
                by_reported = data[["aval_days", "event", exposure]].dropna().astype(float)
            single = _single_intervals(frame, exposure)
            arguments = (endpoint, exposure, centres, single, td, by_reported)
            jobs.append(partial(_exposure_sensitivity, *arguments))
    return pd.DataFrame([row for rows in in_processes(jobs, workers) for row in rows])


def _exposure_sensitivity(
    endpoint: str,
    exposure: str,
    centres: list[str],
    single: pd.DataFrame,
    td: pd.DataFrame,
    by_reported: pd.DataFrame | None,
) -> list[dict]:
    """The rows of :func:`sensitivity_estimates` of one endpoint and exposure."""
    rows = []
    for method, data in (("naive", single), ("time_dependent", td)):
        result = time_dependent_cox(data, [exposure], id_col="patient_key", strata=["centre_code"])
        exposed = data.groupby("patient_key")[exposure].max().sum()
        analysis = "stratified_by_centre"
        rows.append(_sensitivity_row(analysis, "", endpoint, exposure, method, result, exposed))
    # a centre as a code: comparing text columns hundreds of times dominated at 100,000 patients
    single_centre = pd.Categorical(single["centre_code"], categories=centres).codes
    td_centre = pd.Categorical(td["centre_code"], categories=centres).codes
    for code, centre in enumerate(centres):
        naive = single[single_centre != code]
        kept = td[td_centre != code]
        for method, result, exposed in (
            (
                "naive",
                time_dependent_cox(naive, [exposure], id_col="patient_key"),
                naive[exposure].sum(),
            ),
            (
                "time_dependent",
                time_dependent_cox(kept, [exposure], id_col="patient_key"),
                kept.groupby("patient_key")[exposure].max().sum(),
            ),
        ):
            rows.append(
                _sensitivity_row(
                    "leave_one_centre_out", centre, endpoint, exposure, method, result, exposed
                )
            )
    if by_reported is not None:
        result = cox_fit(by_reported, "aval_days", "event", [exposure])
        exposed = by_reported[exposure].sum()
        rows.append(
            _sensitivity_row("reported_grades", "", endpoint, exposure, "naive", result, exposed)
        )
    return rows


def competing_risks_status(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The patients in CR with LFS time (months from the CR) and competing-risks status.

    Returns
    -------
    DataFrame
        ``mart.patient_outcomes`` rows with ``months`` and ``status`` (0 censored, 1 relapse,
        2 death without relapse, study.COMPETING_CAUSES).
    """
    po = outcomes[outcomes["lfs_months"].notna() & outcomes["lfs_event"].notna()]
    event = po["lfs_event"].astype(bool)
    relapse = po["lfs_event_type"] == "relapse"
    status = np.where(event, np.where(relapse, 1, 2), 0)
    return po.assign(months=po["lfs_months"].astype(float), status=status)


def _groupings(cr: pd.DataFrame) -> dict[str, pd.Series]:
    groupings = {study.OVERALL: pd.Series(study.OVERALL_GROUP, index=cr.index, dtype=object)}
    groupings.update({c: group_labels(cr, c) for c in study.COMPETING_RISKS_COMPARISONS})
    return groupings


def _order(comparison: str) -> tuple[str, ...]:
    return (study.OVERALL_GROUP,) if comparison == study.OVERALL else group_order(comparison)


#: the columns of the risk tables and curves, for a cohort without any (no CR patient yet)
KM_AT_TICKS_COLUMNS = {
    "endpoint": "object",
    "comparison": "object",
    "group": "object",
    "time_months": "float64",
    "n_risk": "int64",
    "cumulative_events": "int64",
    "cumulative_censored": "int64",
}
CUMULATIVE_INCIDENCE_COLUMNS = {
    "cause": "object",
    "comparison": "object",
    "group": "object",
    "time_months": "float64",
    "estimate": "float64",
    "std_error": "float64",
}
CIF_AT_TICKS_COLUMNS = {
    "comparison": "object",
    "group": "object",
    "time_months": "float64",
    "n_risk": "int64",
    "cumulative_relapses": "int64",
    "cumulative_non_relapse_deaths": "int64",
    "cumulative_censored": "int64",
    "cif_relapse": "float64",
    "cif_non_relapse_mortality": "float64",
}

COMPETING_RISKS_TESTS_COLUMNS = {
    "cause": "object",
    "comparison": "object",
    "n": "int64",
    "events": "int64",
    "test": "object",
    "term": "object",
    "chi_square": "float64",
    "df": "float64",
    "p_value": "float64",
    "estimable": "bool",
    "note": "object",
    "hazard_ratio": "float64",
    "ci_lower": "float64",
    "ci_upper": "float64",
}


def _concat(frames: list[pd.DataFrame], columns: dict[str, str]) -> pd.DataFrame:
    """The frames one under the other; none: an empty table with the same columns."""
    if frames:
        return pd.concat(frames, ignore_index=True)
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})


def km_at_ticks(outcomes: pd.DataFrame) -> pd.DataFrame:
    """The risk table of the Kaplan-Meier figures as data: per endpoint, comparison, group and
    tick (every study.TIME_TICK_MONTHS months up to the longest follow-up of either endpoint,
    as the figures), patients at risk, cumulative events and cumulative censored.

    Parameters
    ----------
    outcomes : DataFrame
        ``mart.patient_outcomes``.

    Returns
    -------
    DataFrame
        ``endpoint, comparison, group, time_months, n_risk, cumulative_events,
        cumulative_censored``; at risk at t = followed at least t months.
    """
    frames = {e: endpoint_frame(outcomes, e) for e in study.ENDPOINTS}
    longest = max((f["months"].max() for f in frames.values() if len(f)), default=0.0)
    ticks = time_ticks(longest)
    rows = []
    for endpoint, data in frames.items():
        groupings = {study.OVERALL: pd.Series(study.OVERALL_GROUP, index=data.index, dtype=object)}
        groupings.update({c: group_labels(data, c) for c in study.COMPARISONS})
        for comparison, labels in groupings.items():
            for group in _order(comparison):
                g = data[labels == group]
                if g.empty:
                    continue
                t = g["months"].to_numpy(float)
                e = g["event"].astype(bool).to_numpy()
                rows.append(
                    pd.DataFrame(
                        {
                            "endpoint": endpoint,
                            "comparison": comparison,
                            "group": group,
                            "time_months": ticks,
                            "n_risk": [int((t >= x).sum()) for x in ticks],
                            "cumulative_events": [int(((t <= x) & e).sum()) for x in ticks],
                            "cumulative_censored": [int(((t <= x) & ~e).sum()) for x in ticks],
                        }
                    )
                )
    return _concat(rows, KM_AT_TICKS_COLUMNS)


def competing_risks_tables(outcomes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``cumulative_incidence``, ``cumulative_incidence_at_ticks`` and
    ``competing_risks_tests`` of relapse and non-relapse mortality among the patients in CR.

    Cumulative incidence = R ``cmprsk::cuminc``, read at the ticks by ``timepoints`` (NaN past
    the group's last follow-up); Gray's test = ``cuminc(...)$Tests``; Fine-Gray = ``crr`` with
    one 0/1 covariate per non-reference group (the comparison's first group is the reference).
    """
    cr = competing_risks_status(outcomes)
    ticks = time_ticks(cr["months"].max() if len(cr) else 0.0)
    curves, at_ticks, tests = [], [], []
    for comparison, labels in _groupings(cr).items():
        placed = cr[labels.notna()].assign(group=labels[labels.notna()])
        for group in _order(comparison):
            g = placed[placed["group"] == group]
            if g.empty:
                continue
            t, s = g["months"].to_numpy(), g["status"].to_numpy()
            risk = {
                "comparison": comparison,
                "group": group,
                "time_months": ticks,
                "n_risk": [int((t >= x).sum()) for x in ticks],
                "cumulative_relapses": [int(((t <= x) & (s == 1)).sum()) for x in ticks],
                "cumulative_non_relapse_deaths": [int(((t <= x) & (s == 2)).sum()) for x in ticks],
                "cumulative_censored": [int(((t <= x) & (s == 0)).sum()) for x in ticks],
            }
            for code, cause in study.COMPETING_CAUSES.items():
                curve = cumulative_incidence(t, s, cause=code)
                curves.append(
                    pd.DataFrame(
                        {
                            "cause": cause,
                            "comparison": comparison,
                            "group": group,
                            "time_months": curve["time"],
                            "estimate": curve["estimate"],
                            "std_error": np.sqrt(curve["variance"]),
                        }
                    )
                )
                at = cumulative_incidence_at(t, s, ticks, cause=code)
                key = "relapse" if code == 1 else "non_relapse_mortality"
                risk[f"cif_{key}"] = at["estimate"].to_numpy()
            at_ticks.append(pd.DataFrame(risk))
        if comparison == study.OVERALL:
            continue
        tests += _tests(placed, comparison)
    return {
        "cumulative_incidence": _concat(curves, CUMULATIVE_INCIDENCE_COLUMNS),
        "cumulative_incidence_at_ticks": _concat(at_ticks, CIF_AT_TICKS_COLUMNS),
        "competing_risks_tests": _concat(
            [pd.DataFrame(tests)] if tests else [], COMPETING_RISKS_TESTS_COLUMNS
        ),
    }


def _tests(placed: pd.DataFrame, comparison: str) -> list[dict]:
    """Gray's test and the Fine-Gray model of one comparison, for each cause."""
    groups = [g for g in group_order(comparison) if (placed["group"] == g).any()]
    rows = []
    for code, cause in study.COMPETING_CAUSES.items():
        base = {
            "cause": cause,
            "comparison": comparison,
            "n": len(placed),
            "events": int((placed["status"] == code).sum()),
        }
        if len(groups) < 2:
            continue
        gray = gray_test(placed["months"], placed["status"], placed["group"], cause=code)
        rows.append(
            {
                **base,
                "test": "Gray's test",
                "term": "",
                "chi_square": gray.stat,
                "df": gray.df,
                "p_value": gray.p,
                "estimable": bool(np.isfinite(gray.stat)),
                "note": "" if np.isfinite(gray.stat) else "singular variance",
            }
        )
        dummies = pd.DataFrame(
            {g: (placed["group"] == g).astype(float).to_numpy() for g in groups[1:]}
        )
        fg = fine_gray(placed["months"].to_numpy(), placed["status"].to_numpy(), dummies, code)
        for g in groups[1:]:
            term = next((x for x in fg.terms if x.term == g), None)
            rows.append(
                {
                    **base,
                    "test": "Fine-Gray",
                    "term": f"{g} vs {groups[0]}",
                    "hazard_ratio": term.hr if term else np.nan,
                    "ci_lower": term.hr_lower if term else np.nan,
                    "ci_upper": term.hr_upper if term else np.nan,
                    "p_value": term.p if term else np.nan,
                    "estimable": bool(fg.estimable),
                    "note": "" if fg.estimable else str(fg.reason),
                }
            )
    return rows


def _integer_keys(*tables: pd.DataFrame) -> list[pd.DataFrame]:
    """The tables with ``patient_key`` as one integer code per patient: the hundreds of
    fits group and count by patient, and hashing 64-character keys each time dominated them
    at 100,000 patients (the keys never reach the analysis tables)."""
    keys = pd.Index(pd.unique(pd.concat([t["patient_key"] for t in tables], ignore_index=True)))
    return [t.assign(patient_key=keys.get_indexer(t["patient_key"])) for t in tables]


def robustness_tables(mart: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every table of the robustness analysis from the mart tables (by bare name)."""
    outcomes = mart["patient_outcomes"]
    exposures, tte, intervals = _integer_keys(
        mart["patient_exposures"], mart["time_to_event"], mart["exposure_intervals"]
    )
    estimates = robustness_estimates(exposures, tte, intervals)
    sensitivity = sensitivity_estimates(exposures, tte, intervals)
    return {
        "robustness_estimates": estimates,
        "robustness_sensitivity": sensitivity,
        **competing_risks_tables(outcomes),
        "km_at_ticks": km_at_ticks(outcomes),
        "centre_outcomes": centre_outcomes(outcomes),
    }
