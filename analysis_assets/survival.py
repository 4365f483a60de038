"""Kaplan–Meier, log-rank and median follow-up, pinned to R ``survival`` 3.x.

All estimation is done by lifelines; this module only reshapes its output and
reproduces R's *reporting* rules that lifelines does not share:

* CIs are Greenwood / log-log (= ``survfit(..., conf.type = "log-log")``); at
  S(t) = 1 the limits are 1 and at S(t) = 0 they are undefined (NaN), as in R.
* Median and its CI follow ``quantile.survfit`` (survival 3.x ``findq``): on an
  exact 0.5 plateau the median is the midpoint of the plateau, and the CI
  limits are read from the CI curves with the same rule; not reached = ``None``.
* Survival at fixed times follows ``summary(fit, times = t, extend = FALSE)``:
  the step function is read at t; times after the last observation are NaN.

The confidence level, the CI type and the variance are read from
:data:`analysis_assets.study.METHODS` at call time; lifelines offers Greenwood log-log CIs
only, so any other setting is refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis_assets import study

__all__ = [
    "time_ticks",
    "MedianEstimate",
    "LogrankResult",
    "km_table",
    "km_survival_at",
    "km_median",
    "r_quantile",
    "logrank_test",
    "median_followup",
]

#: R's ``quantile.survfit`` default tolerance, ``sqrt(.Machine$double.eps)``.
R_QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))


@dataclass(frozen=True)
class MedianEstimate:
    """Median with its 95% CI; ``None`` means "not reached" (NR)."""

    median: float | None
    ci_lower: float | None
    ci_upper: float | None


@dataclass(frozen=True)
class LogrankResult:
    """Log-rank test (= R ``survdiff``): chi-square, degrees of freedom, p."""

    chisq: float
    df: int
    p: float
    n_groups: int


def _clean(
    durations: Sequence[float], events: Sequence[float | bool]
) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=float)
    if t.shape != e.shape:
        raise ValueError("durations and events must have the same length")
    keep = ~(np.isnan(t) | np.isnan(e))
    t, e = t[keep], e[keep]
    if len(t) == 0:
        raise ValueError("no complete observations")
    if np.any(t < 0):
        raise ValueError("negative durations")
    if not np.all(np.isin(e, (0.0, 1.0))):
        raise ValueError("events must be 0/1")
    return t, e.astype(bool)


def _km_alpha(alpha: float | None) -> float:
    """The KM CI's alpha (``METHODS.alpha`` by default); refuses CIs lifelines cannot make."""
    methods = study.METHODS
    if (methods.km_conf_type, methods.km_variance) != ("log-log", "Greenwood"):
        raise NotImplementedError(
            f"Kaplan-Meier CIs are Greenwood log-log only, not {methods.km_variance} "
            f"{methods.km_conf_type}"
        )
    return methods.alpha if alpha is None else alpha


def km_table(
    durations: Sequence[float], events: Sequence[float | bool], alpha: float | None = None
) -> pd.DataFrame:
    """Kaplan–Meier estimate with Greenwood variance and log-log CI.

    Parameters
    ----------
    durations : sequence of float
        Follow-up times (missing values are dropped together with their event).
    events : sequence of {0, 1} or bool
        1 = event observed, 0 = censored.
    alpha : float, optional
        1 - confidence level; default ``METHODS.alpha`` (0.05).

    Returns
    -------
    pandas.DataFrame
        One row per distinct observed time (events and censorings, as R's
        ``fit$time``) with columns ``time, n_risk, n_event, n_censor, survival,
        ci_lower, ci_upper``.  Equals R ``survfit(Surv(time, status) ~ 1,
        conf.type = "log-log")``.
    """
    t, e = _clean(durations, events)
    from lifelines import KaplanMeierFitter  # here: the figures' processes import time_ticks

    kmf = KaplanMeierFitter(alpha=_km_alpha(alpha)).fit(t, e)
    et = kmf.event_table
    sf = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    out = pd.DataFrame(
        {
            "time": et.index.to_numpy(dtype=float),
            "n_risk": et["at_risk"].to_numpy(dtype=int),
            "n_event": et["observed"].to_numpy(dtype=int),
            "n_censor": et["censored"].to_numpy(dtype=int),
            "survival": sf.reindex(et.index).to_numpy(dtype=float),
            "ci_lower": ci.iloc[:, 0].reindex(et.index).to_numpy(dtype=float),
            "ci_upper": ci.iloc[:, 1].reindex(et.index).to_numpy(dtype=float),
        }
    )
    # lifelines adds a t=0 row to its timeline; R lists observed times only.
    out = out[et["removed"].to_numpy() > 0].reset_index(drop=True)
    one = out["survival"] == 1.0
    zero = out["survival"] == 0.0
    out.loc[one, ["ci_lower", "ci_upper"]] = 1.0  # R: limits are 1 at S = 1
    out.loc[zero, ["ci_lower", "ci_upper"]] = np.nan  # R: NA at S = 0
    return out


def km_survival_at(table: pd.DataFrame, times: Iterable[float]) -> pd.DataFrame:
    """Survival and CI at given times (e.g. 12/24/36 months) from :func:`km_table`.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`km_table`.
    times : iterable of float
        Landmark times.

    Returns
    -------
    pandas.DataFrame
        Columns ``time, survival, ci_lower, ci_upper, n_risk``.  Before the
        first observed time S = 1 (CI 1, 1); after the last observed time all
        values are NaN (R ``summary(fit, times, extend = FALSE)`` drops them).
        ``n_risk`` is the number at risk at t (just before t), as in R.
    """
    ts = np.asarray(list(times), dtype=float)
    tt = table["time"].to_numpy()
    rows = []
    for t in ts:
        if len(tt) == 0 or t > tt[-1]:
            rows.append((t, np.nan, np.nan, np.nan, 0))
            continue
        i = int(np.searchsorted(tt, t, side="right")) - 1  # last row with time <= t
        j = int(np.searchsorted(tt, t, side="left"))  # first row with time >= t
        n_risk = int(table["n_risk"].iloc[j])
        if i < 0:
            rows.append((t, 1.0, 1.0, 1.0, n_risk))
        else:
            r = table.iloc[i]
            rows.append(
                (t, float(r["survival"]), float(r["ci_lower"]), float(r["ci_upper"]), n_risk)
            )
    return pd.DataFrame(rows, columns=["time", "survival", "ci_lower", "ci_upper", "n_risk"])


def r_quantile(
    times: np.ndarray,
    surv: np.ndarray,
    p: float = 0.5,
    first_time: float = 0.0,
    tol: float = R_QUANTILE_TOL,
) -> float | None:
    """Port of survival 3.x ``findq`` (the rule behind ``quantile.survfit``).

    Parameters
    ----------
    times : numpy.ndarray
        Observed times (R ``fit$time``), increasing.
    surv : numpy.ndarray
        Curve values at ``times`` (survival or one CI limit); NaN allowed.
    p : float
        Quantile of the distribution (0.5 = median, i.e. S = 0.5).
    first_time : float
        Start of the curve (R ``xmin``, 0).
    tol : float
        R's tolerance for "exactly on a plateau".

    Returns
    -------
    float or None
        The quantile time; ``None`` when not reached.  If 1 - S equals ``p``
        (within ``tol``) on a plateau, the midpoint of the plateau is returned;
        on the last plateau, the midpoint to the last observed time.
    """
    x = np.concatenate([[first_time], np.asarray(times, dtype=float)])
    y = np.concatenate([[0.0], 1.0 - np.asarray(surv, dtype=float)])
    if np.all(np.isnan(y)) or np.nanmax(y) < p:
        return None
    xmax = x[-1]
    # duplicated(y): keep the first occurrence of each value (NaN counts as a value)
    _, first_idx = np.unique(np.where(np.isnan(y), np.inf, y), return_index=True)
    keep = np.zeros(len(y), dtype=bool)
    keep[first_idx] = True
    x, y = x[keep], y[keep]
    n = len(y)
    idx = np.arange(1, n + 1)
    ok = ~np.isnan(y)

    def approx_const_f1(yy: np.ndarray) -> int | None:
        # approx(yy, 1:n, p, method = "constant", f = 1, rule = 1)$y with NA pairs removed
        xs, ys = yy[ok], idx[ok]
        if len(xs) == 0 or p < xs[0] or p > xs[-1]:
            return None
        hit = np.nonzero(xs == p)[0]
        if len(hit):
            return int(ys[hit[-1]])  # R's approx returns the value at an exact (last tied) knot
        k = int(np.searchsorted(xs, p, side="right"))
        return int(ys[k])

    i1 = approx_const_f1(y + tol)
    i2 = approx_const_f1(y - tol)
    if p == 0:
        return float(x[0])
    if not np.isnan(y[-1]) and abs(p - y[-1]) < tol:
        return None if i1 is None else float((x[i1 - 1] + xmax) / 2)
    if i1 is None or i2 is None:
        return None
    return float((x[i1 - 1] + x[i2 - 1]) / 2)


def km_median(table: pd.DataFrame) -> MedianEstimate:
    """Median and 95% CI from a :func:`km_table`, by R's ``quantile.survfit`` rules.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`km_table`.

    Returns
    -------
    MedianEstimate
        ``median`` from the survival curve; as in R, the lower limit is where
        the lower CI curve reaches 0.5 and the upper limit where the upper CI
        curve does (``quantile(fit, 0.5)$lower`` / ``$upper``), each with the
        plateau-midpoint rule.  ``None`` = not reached (NR).
    """
    t = table["time"].to_numpy(dtype=float)
    return MedianEstimate(
        median=r_quantile(t, table["survival"].to_numpy(dtype=float)),
        ci_lower=r_quantile(t, table["ci_lower"].to_numpy(dtype=float)),
        ci_upper=r_quantile(t, table["ci_upper"].to_numpy(dtype=float)),
    )


def logrank_test(
    durations: Sequence[float], events: Sequence[float | bool], groups: Sequence[object]
) -> LogrankResult:
    """Log-rank test for 2+ groups (= R ``survdiff(Surv(time, status) ~ group)``).

    Parameters
    ----------
    durations, events : sequences
        Follow-up time and event indicator (rows with missing values dropped).
    groups : sequence
        Group label per subject (rows with a missing group dropped).

    Returns
    -------
    LogrankResult
        Chi-square with ``n_groups - 1`` degrees of freedom and its p-value.
    """
    df = pd.DataFrame(
        {
            "t": np.asarray(durations, dtype=float),
            "e": np.asarray(events, dtype=float),
            "g": list(groups),
        }
    ).dropna()
    t, e = _clean(df["t"], df["e"])
    g = df["g"].to_numpy()
    k = len(pd.unique(g))
    if k < 2:
        raise ValueError("log-rank test needs at least two groups")
    from lifelines.statistics import multivariate_logrank_test

    res = multivariate_logrank_test(t, g, e)
    return LogrankResult(
        chisq=float(res.test_statistic),
        df=int(res.degrees_of_freedom),
        p=float(res.p_value),
        n_groups=k,
    )


def median_followup(durations: Sequence[float], events: Sequence[float | bool]) -> MedianEstimate:
    """Median follow-up by reverse Kaplan–Meier, with 95% log-log CI.

    Censoring is the event and death censors (R ``survfit(Surv(time, status
    == 0) ~ 1, conf.type = "log-log")`` then ``quantile(fit, 0.5)``), with the
    same median / plateau / not-reached rules as :func:`km_median`.

    Parameters
    ----------
    durations : sequence of float
        Follow-up times.
    events : sequence of {0, 1}
        1 = death (the outcome event), 0 = censored (alive at last contact).

    Returns
    -------
    MedianEstimate
    """
    t, e = _clean(durations, events)
    return km_median(km_table(t, ~e))


def time_ticks(max_months: float, step: int | None = None) -> list[int]:
    """x ticks every ``step`` months from 0 to the first multiple of ``step`` at or beyond
    the longest follow-up ``max_months`` (at least one step).

    Parameters
    ----------
    max_months : float
    step : int, optional
        Default ``study.TIME_TICK_MONTHS`` (the figures' and the risk tables' ticks).

    Returns
    -------
    list of int
    """
    step = study.TIME_TICK_MONTHS if step is None else step
    last = max(1, math.ceil(float(max_months) / step - 1e-9)) if np.isfinite(max_months) else 1
    return [step * i for i in range(last + 1)]
