"""Exposures that start after day 0: time-dependent Cox and landmark analysis.

A toxicity (or a treatment for it) is only known once it has happened, so
comparing patients "with" and "without" it from day 0 credits the exposed with
the time they had to survive to become exposed (immortal-time bias).  Two
corrections, each pinned to R ``survival`` 3.x:

* :func:`counting_process` builds the intervals of R ``tmerge(..., death =
  event(time, event))`` followed by ``tmerge(..., exposed = tdc(onset))``;
  :func:`time_dependent_cox` fits ``coxph(Surv(tstart, tstop, death) ~ exposed
  + ..., ties = "efron")`` on them (:func:`analysis_assets.efron.efron_cox`, set-wise: a
  registry's hundreds of fits; lifelines' ``CoxTimeVaryingFitter`` loops over event times).
* :func:`landmark_cohort` keeps the patients alive and followed beyond the
  landmark day L, with times from L and the exposure as known by L;
  :func:`landmark_analysis` runs the existing KM, log-rank and Cox on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis_assets import study
from analysis_assets.cox import CoxResult, cox_fit, fit_problem, terms_from_fit
from analysis_assets.efron import efron_cox
from analysis_assets.survival import LogrankResult, km_table, logrank_test

__all__ = [
    "SAME_DAY_SHIFT",
    "counting_process",
    "time_dependent_cox",
    "landmark_cohort",
    "LandmarkResult",
    "landmark_analysis",
]

#: an onset on the day the follow-up ends is moved this much earlier, so that it counts as
#: exposed at the event without a zero-length interval (the rule of the survival package's
#: "timedep" vignette for the Stanford heart transplant data)
SAME_DAY_SHIFT = 0.5


def counting_process(
    patients: pd.DataFrame,
    id_col: str = "id",
    time_col: str = "time",
    event_col: str = "event",
    onset_col: str = "onset",
) -> pd.DataFrame:
    """Counting-process intervals with a 0/1 exposure switching on at the onset day.

    The same rows as R (with ``onset`` already moved for same-day onsets)::

        cp <- tmerge(base, d, id = id, death = event(time, event))
        cp <- tmerge(cp, d, id = id, exposed = tdc(onset))

    Per patient: no onset, or an onset after the end of follow-up → one row
    ``(0, time]`` unexposed; an onset at or before day 0 → one row exposed;
    an onset inside the follow-up → ``(0, onset]`` unexposed without event
    and ``(onset, time]`` exposed with the patient's event.  An onset *on*
    the last day counts as exposed: it is moved :data:`SAME_DAY_SHIFT` days
    earlier, since ``(time, time]`` would be a zero-length interval.

    Parameters
    ----------
    patients : pandas.DataFrame
        One row per patient; other columns (baseline covariates) are carried to each row.
    id_col, time_col, event_col, onset_col : str
        Patient id, follow-up time (> 0), 0/1 event, and onset day (missing = never).

    Returns
    -------
    pandas.DataFrame
        The carried columns plus ``tstart, tstop, event, exposed`` (the event
        column keeps its name), ordered by patient and ``tstart``.
    """
    d = patients.copy()
    time = d[time_col].astype(float)
    if (time <= 0).any():
        raise ValueError(f"{time_col} must be > 0 for counting-process intervals")
    if d[id_col].duplicated().any():
        raise ValueError(f"{id_col} must identify one row per patient")
    onset = d[onset_col].astype(float)
    onset = onset.where(onset != time, onset - SAME_DAY_SHIFT)
    split = (onset > 0) & (onset < time)
    whole = d[~split].assign(tstart=0.0, tstop=time[~split], exposed=(onset[~split] <= 0))
    before = d[split].assign(tstart=0.0, tstop=onset[split], exposed=False)
    before[event_col] = 0
    after = d[split].assign(tstart=onset[split], tstop=time[split], exposed=True)
    out = pd.concat([whole, before, after]).drop(columns=[time_col, onset_col])
    out["exposed"] = out["exposed"].astype(int)
    out = out.sort_values([id_col, "tstart"], kind="stable").reset_index(drop=True)
    rest = [c for c in out.columns if c not in (id_col, "tstart", "tstop", event_col, "exposed")]
    return out[[id_col, "tstart", "tstop", event_col, "exposed", *rest]]


def time_dependent_cox(
    intervals: pd.DataFrame,
    covariates: Sequence[str] = ("exposed",),
    id_col: str = "id",
    event_col: str = "event",
    alpha: float | None = None,
    strata: Sequence[str] = (),
) -> CoxResult:
    """Cox model on counting-process data (= R ``coxph(Surv(tstart, tstop, event) ~ ...)``).

    Efron ties, Wald CIs and p-values as ``summary(coxph(..., ties = "efron"))``;
    fitted by :func:`analysis_assets.efron.efron_cox`.

    Parameters
    ----------
    intervals : pandas.DataFrame
        Output of :func:`counting_process` (columns ``tstart, tstop``).
    covariates : sequence of str
        Numeric model terms, in order (default the exposure alone).
    id_col, event_col : str
        Patient id and 0/1 event column.
    alpha : float, optional
        For the (1 - alpha) CI of the hazard ratios; default ``METHODS.alpha``.
    strata : sequence of str, optional
        Columns whose levels get their own baseline hazard (R ``+ strata(centre)``).

    Returns
    -------
    CoxResult
        ``n`` is the number of patients (R's ``fit$n`` counts intervals);
        ``estimable=False`` with a reason when there are no events, a covariate
        is constant or the fit does not converge.
    """
    if study.METHODS.cox_ties != "efron":
        raise NotImplementedError(f"only Efron ties are implemented, not {study.METHODS.cox_ties}")
    alpha = study.METHODS.alpha if alpha is None else alpha
    cols = [id_col, "tstart", "tstop", event_col, *covariates, *strata]
    data = intervals[cols].dropna().astype({event_col: int})
    n, events = int(data[id_col].nunique()), int(data[event_col].sum())
    if events == 0:
        return CoxResult(estimable=False, n=n, events=0, reason="no events")
    constant = [c for c in covariates if np.ptp(data[c].to_numpy(dtype=float)) == 0]
    if constant:
        return CoxResult(estimable=False, n=n, events=events, reason=f"{constant[0]} is constant")
    X = data[list(covariates)].to_numpy(dtype=float)
    fit = efron_cox(
        data["tstart"].to_numpy(dtype=float),
        data["tstop"].to_numpy(dtype=float),
        data[event_col].to_numpy(),
        X,
        data.groupby(list(strata), sort=True).ngroup().to_numpy() if strata else None,
    )
    reason = fit_problem(fit, X)
    if reason:
        return CoxResult(estimable=False, n=n, events=events, reason=reason)
    terms = terms_from_fit(covariates, fit, alpha)
    return CoxResult(
        estimable=True,
        n=n,
        events=events,
        terms=terms,
        loglik=fit.loglik,
        fit=fit,
        data=data,
    )


def landmark_cohort(
    patients: pd.DataFrame,
    landmark: float,
    time_col: str = "time",
    onset_col: str = "onset",
) -> pd.DataFrame:
    """Patients alive and under follow-up beyond day ``landmark``, timed from it.

    R: ``lm <- subset(d, time > L); lm$exposed <- !is.na(lm$onset) & lm$onset <= L;
    lm$time <- lm$time - L``.  An onset after L does not count (it is not known
    at the landmark); an onset on day L does.

    Parameters
    ----------
    patients : pandas.DataFrame
        One row per patient with follow-up time and onset day (missing = never).
    landmark : float
        The landmark day L.
    time_col, onset_col : str
        Column names.

    Returns
    -------
    pandas.DataFrame
        The kept rows with ``time_col`` replaced by time since L and a 0/1 ``exposed`` column.
    """
    kept = patients[patients[time_col] > landmark].copy()
    kept["exposed"] = (kept[onset_col].astype(float) <= landmark).astype(int)
    kept[time_col] = kept[time_col] - landmark
    return kept.reset_index(drop=True)


@dataclass
class LandmarkResult:
    """KM per exposure group, log-rank test and Cox HR (exposed vs not) from the landmark."""

    landmark: float
    n: int
    n_exposed: int
    km: dict[int, pd.DataFrame]
    logrank: LogrankResult | None
    cox: CoxResult


def landmark_analysis(
    patients: pd.DataFrame,
    landmark: float,
    time_col: str = "time",
    event_col: str = "event",
    onset_col: str = "onset",
) -> LandmarkResult:
    """KM, log-rank and Cox of the exposure among the :func:`landmark_cohort` at day L.

    Uses :func:`analysis_assets.survival.km_table`, :func:`~analysis_assets.survival.logrank_test`
    and :func:`analysis_assets.cox.cox_fit` (R ``survfit``, ``survdiff``, ``coxph``
    on the landmark data).

    Parameters
    ----------
    patients : pandas.DataFrame
        One row per patient: follow-up time, 0/1 event, onset day (missing = never).
    landmark : float
        The landmark day L.
    time_col, event_col, onset_col : str
        Column names.

    Returns
    -------
    LandmarkResult
        ``km`` maps exposure (0, 1) to its KM table (absent when the group is
        empty); ``logrank`` is None with fewer than two groups.
    """
    cohort = landmark_cohort(patients, landmark, time_col, onset_col)
    km = {
        int(x): km_table(g[time_col], g[event_col]) for x, g in cohort.groupby("exposed", sort=True)
    }
    lr = (
        logrank_test(cohort[time_col], cohort[event_col], cohort["exposed"])
        if len(km) == 2
        else None
    )
    return LandmarkResult(
        landmark=landmark,
        n=len(cohort),
        n_exposed=int(cohort["exposed"].sum()),
        km=km,
        logrank=lr,
        cox=cox_fit(cohort, time_col, event_col, ["exposed"]),
    )
