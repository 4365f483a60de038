"""Competing risks: cumulative incidence, Gray's test and Fine–Gray, pinned to R ``cmprsk``.

Each function is a set-wise (numpy) transcription of the Fortran behind R's
``cmprsk`` 2.2 (Robert Gray), so that estimates, variances and tests agree
with R to rounding, tied times included:

* :func:`cumulative_incidence` = ``cuminc(ftime, fstatus, group, cencode = 0)``
  estimates and variances (Aalen–Johansen estimate; cmprsk's delta-method
  variance with its tie correction, Fortran ``cinc``).
* :func:`gray_test` = ``cuminc(...)$Tests`` (Gray's k-sample test, Fortran ``crstm``).
* :func:`fine_gray` = ``crr(ftime, fstatus, cov1, failcode, cencode)``: Breslow
  ties, censoring weights from the Kaplan–Meier of the censoring times at
  ``t-``, R's Newton–Raphson with backtracking and stopping rule, and the
  sandwich variance including the ``q(u)`` term for the estimated censoring
  distribution (Fortran ``crrfsv`` / ``crrvv``).

lifelines' ``AalenJohansenFitter`` is not used: it breaks tied times by
jittering and then differs from R by up to 0.005.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis_assets import study
from analysis_assets.cox import CoxTerm

__all__ = [
    "GrayTest",
    "FineGrayResult",
    "cumulative_incidence",
    "cumulative_incidence_at",
    "gray_test",
    "fine_gray",
]

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class GrayTest:
    """Gray's test for one cause: chi-square statistic, p-value, df (= ``cuminc$Tests``).

    ``stat`` and ``p`` are NaN where R reports ``stat = -1`` (singular variance,
    e.g. no events of the cause at all).
    """

    cause: object
    stat: float
    p: float
    df: int


@dataclass
class FineGrayResult:
    """Result of :func:`fine_gray`; when ``estimable`` is False only ``reason``, n and events
    are set."""

    estimable: bool
    n: int
    events: int
    reason: str | None = None
    terms: list[CoxTerm] = field(default_factory=list)
    loglik: float | None = None
    loglik_null: float | None = None
    converged: bool = False
    iterations: int = 0
    variance: np.ndarray | None = field(default=None, repr=False)

    def table(self) -> pd.DataFrame:
        """Coefficients as a DataFrame (``hr`` is the subdistribution hazard ratio)."""
        return pd.DataFrame([t.__dict__ for t in self.terms])


def _complete(*columns: Sequence) -> list[np.ndarray]:
    """Rows without a missing value in any column (R ``na.omit``)."""
    frame = pd.DataFrame({i: list(c) for i, c in enumerate(columns)}).dropna()
    if len(frame) == 0:
        raise ValueError("no complete observations")
    return [frame[i].to_numpy() for i in range(len(columns))]


def _cinc(time: np.ndarray, failed: np.ndarray, cause: np.ndarray) -> pd.DataFrame:
    """Fortran ``cinc`` for one group: estimate and variance at the cause's event times."""
    ut, inv = np.unique(time, return_inverse=True)
    n_any = np.bincount(inv, weights=failed, minlength=len(ut))
    nd1 = np.bincount(inv, weights=cause, minlength=len(ut))
    at_risk = len(time) - np.concatenate([[0], np.cumsum(np.bincount(inv))[:-1]])
    keep = n_any > 0  # censoring-only times change nothing but the risk set
    ut, nd1, nd, rs = ut[keep], nd1[keep], n_any[keep], at_risk[keep].astype(float)
    nd2 = nd - nd1
    fkn = np.cumprod((rs - nd) / rs)  # all-cause KM just after each time
    fk = np.concatenate([[1.0], fkn[:-1]])  # ... and just before
    f = np.cumsum(fk * nd1 / rs)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_fkn = np.where(fkn > 0, 1.0 / fkn, 0.0)

        def tie(d: np.ndarray) -> np.ndarray:
            # cmprsk's correction for d tied events among rs at risk
            return fk * fk * np.where(d > 1, 1 - (d - 1) / (rs - 1), 1.0) * d / (rs * rs)

        t6 = np.where((nd2 > 0) & (fkn > 0), tie(nd2), 0.0)
        t4 = f * inv_fkn
        v1, v2, v3 = t4 * t4 * t6, inv_fkn * t4 * t6, inv_fkn * inv_fkn * t6
        t6 = np.where(nd1 > 0, tie(nd1), 0.0)
        t4 = 1 + inv_fkn * f
    v1, v2, v3 = (
        np.cumsum(v1 + t4 * t4 * t6),
        np.cumsum(v2 + inv_fkn * t4 * t6),
        np.cumsum(v3 + inv_fkn * inv_fkn * t6),
    )
    var = v1 + f * f * v3 - 2 * f * v2
    jump = nd1 > 0
    return pd.DataFrame({"time": ut[jump], "estimate": f[jump], "variance": var[jump]})


def cumulative_incidence(
    durations: Sequence[float],
    status: Sequence[object],
    cause: object = 1,
    groups: Sequence[object] | None = None,
    cencode: object = 0,
) -> pd.DataFrame:
    """Cumulative incidence of one cause (Aalen–Johansen) with cmprsk's variance, per group.

    Equals R ``cmprsk::cuminc(ftime, fstatus, group, cencode = 0)``: for each
    group, the element ``"<group> <cause>"`` has ``time``, ``est``, ``var`` as
    a plotting path ``0, t1, t1, t2, t2, ..., t_max``; this function returns
    the points just after each jump (R's elements 3, 5, 7, ...).

    Parameters
    ----------
    durations : sequence of float
        Time to the first event or censoring (rows with a missing value are dropped).
    status : sequence
        Failure type per subject; ``cencode`` marks censoring, every other value a cause.
    cause : object
        The cause whose incidence is estimated (R: the part after the space in the name).
    groups : sequence, optional
        Group per subject; default one group (labelled 1, as R).
    cencode : object
        The status value of censored subjects.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, time, estimate, variance``; one row per distinct time
        at which ``cause`` occurs in the group, groups in R's (sorted) order.
        The estimate is a right-continuous step function, 0 before the first
        row; a group without events of the cause has no rows.
    """
    g = [1] * len(durations) if groups is None else groups
    t, s, grp = _complete(durations, status, g)
    t = t.astype(float)
    if np.any(t < 0):
        raise ValueError("negative durations")
    failed = (s != cencode).astype(float)
    is_cause = ((s == cause) & (s != cencode)).astype(float)
    parts = []
    for level in sorted(pd.unique(grp)):
        m = grp == level
        order = np.argsort(t[m], kind="stable")
        part = _cinc(t[m][order], failed[m][order], is_cause[m][order])
        parts.append(part.assign(group=level))
    return pd.concat(parts, ignore_index=True)[["group", "time", "estimate", "variance"]]


def cumulative_incidence_at(
    durations: Sequence[float],
    status: Sequence[object],
    times: Sequence[float],
    cause: object = 1,
    groups: Sequence[object] | None = None,
    cencode: object = 0,
) -> pd.DataFrame:
    """Cumulative incidence and its variance at given times (= R ``cmprsk::timepoints``).

    ``timepoints(cuminc(ftime, fstatus, group, cencode = 0), times)``: the
    step function read at t (its value after the last jump at or before t);
    NaN after the group's last observed time (any event or censoring) and
    before 0.

    Parameters
    ----------
    durations, status, cause, groups, cencode
        As :func:`cumulative_incidence`.
    times : sequence of float
        The times to read, e.g. 12 and 24 months.

    Returns
    -------
    pandas.DataFrame
        Columns ``group, time, estimate, variance``, one row per group and
        distinct time (sorted, as R).
    """
    g = [1] * len(durations) if groups is None else groups
    t, _, grp = _complete(durations, status, g)
    last = pd.Series(t.astype(float)).groupby(grp).max()
    curves = cumulative_incidence(durations, status, cause, groups, cencode)
    at = np.unique(np.asarray(times, dtype=float))
    frames = []
    for level, end in last.items():
        curve = curves[curves["group"] == level]
        # row 0 is the curve before its first jump
        values = np.vstack([[0.0, 0.0], curve[["estimate", "variance"]].to_numpy()])
        read = values[np.searchsorted(curve["time"].to_numpy(), at, side="right")]
        read[(at < 0) | (at > end)] = np.nan
        frames.append(
            pd.DataFrame(
                {"group": level, "time": at, "estimate": read[:, 0], "variance": read[:, 1]}
            )
        )
    return pd.concat(frames, ignore_index=True)


def _gray_scores(
    time: np.ndarray, code: np.ndarray, group: np.ndarray, ng: int, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fortran ``crst`` for one stratum: scores of groups 1..ng-1 and their variance.

    ``code`` is 0 censored, 1 the cause, 2 another cause; ``group`` is 0..ng-1.
    All per-time recursions of the Fortran are cumulative sums / products over
    the distinct event times, so they are computed as arrays (time x group).
    """
    ut, inv = np.unique(time, return_inverse=True)
    counts = np.zeros((3, len(ut), ng))
    np.add.at(counts, (code, inv, group), 1.0)
    removed = counts.sum(axis=0)
    rs_all = removed.sum(axis=0) - np.vstack([np.zeros(ng), np.cumsum(removed, axis=0)[:-1]])
    d1, d2 = counts[1], counts[2]
    ev = (d1 + d2).sum(axis=1) > 0
    if not ev.any():  # no failures in this stratum: it adds nothing
        return np.zeros(ng - 1), np.zeros((ng - 1, ng - 1))
    d1, d2, rs = d1[ev], d2[ev], rs_all[ev]
    pos = rs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        skm = np.cumprod(np.where(pos, (rs - d1 - d2) / rs, 1.0), axis=0)
        skmm = np.vstack([np.ones(ng), skm[:-1]])
        f1 = np.cumsum(np.where(pos, skmm * d1 / rs, 0.0), axis=0)
        f1m = np.vstack([np.zeros(ng), f1[:-1]])
        t1 = np.where(pos, rs / skmm, 0.0)
        tr = t1.sum(axis=1)
        tq = np.where(pos, rs * (1 - f1m) / skmm, 0.0).sum(axis=1)
        nd1 = d1.sum(axis=1)
        f = np.cumsum(nd1 / tr)
        fm = np.concatenate([[0.0], f[:-1]])
        fb = (1 - fm) ** rho
        a = fb[:, None, None] * (
            np.einsum("ti,ij->tij", t1, np.eye(ng))
            - t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
        )
        step = a * (nd1 / (tr * (1 - fm)))[:, None, None]
        c = np.cumsum(np.where(a != 0, step, 0.0), axis=0)
        s = np.where(
            pos, fb[:, None] * (d1 - nd1[:, None] * rs * (1 - f1m) / (skmm * tq[:, None])), 0.0
        )
        # cause-of-interest part of the variance
        t4 = np.where(skm > 0, 1 - (1 - f[:, None]) / skm, 1.0)
        t5 = np.where(nd1[:, None] > 1, 1 - (nd1[:, None] - 1) / (tr[:, None] * skmm - 1), 1.0)
        t3 = np.where(pos & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * rs), 0.0)
        t1m = a[:, :-1, :] - t4[:, None, :] * c[:, :-1, :]
        v3 = (t4 * t4 * t3).sum(axis=0)
        v2 = np.einsum("tik,tk->ik", t1m, t4 * t3)
        v = np.einsum("tik,tjk,tk->ij", t1m, t1m, t3)
        # other-cause part
        t4 = np.where(skm > 0, (1 - f[:, None]) / skm, 0.0)
        t5 = np.where(d2 > 1, 1 - (d2 - 1) / (rs - 1), 1.0)
        t3 = np.where((skm > 0) & (d2 > 0), t5 * skmm**2 * d2 / rs**2, 0.0)
        t1o = t4[:, None, :] * c[:, :-1, :]
    v3 = v3 + (t4 * t4 * t3).sum(axis=0)
    v2 = v2 - np.einsum("tik,tk->ik", t1o, t4 * t3)
    v = v + np.einsum("tik,tjk,tk->ij", t1o, t1o, t3)
    cf = c[-1, :-1, :]  # the Fortran's c after the last time
    v = v + (cf * v3) @ cf.T + cf @ v2.T + v2 @ cf.T
    return s.sum(axis=0)[:-1], v


def gray_test(
    durations: Sequence[float],
    status: Sequence[object],
    groups: Sequence[object],
    cause: object = 1,
    strata: Sequence[object] | None = None,
    rho: float = 0.0,
    cencode: object = 0,
) -> GrayTest:
    """Gray's test comparing the cumulative incidence of one cause among groups.

    Equals the row ``cause`` of R ``cmprsk::cuminc(ftime, fstatus, group,
    strata, rho = 0, cencode = 0)$Tests`` (``stat``, ``pv``, ``df``).

    Parameters
    ----------
    durations, status : sequences
        Time and failure type (``cencode`` = censored); rows with a missing
        value in any argument are dropped.
    groups : sequence
        Group per subject (at least two groups with subjects).
    cause : object
        The cause compared.
    strata : sequence, optional
        Strata for a stratified test (scores and variances summed over strata).
    rho : float
        Power of the weight function ``(1 - F(t-))^rho``; 0 = R's default.
    cencode : object
        The status value of censored subjects.

    Returns
    -------
    GrayTest
        Statistic ``s' V^-1 s`` with ``k - 1`` df; NaN when V is singular
        (R prints -1 and p = 1 there).
    """
    st = [1] * len(durations) if strata is None else strata
    t, s, grp, stt = _complete(durations, status, groups, st)
    t = t.astype(float)
    levels = sorted(pd.unique(grp))
    ng = len(levels)
    if ng < 2:
        raise ValueError("Gray's test needs at least two groups")
    gidx = pd.Categorical(grp, categories=levels).codes
    code = np.where(s == cencode, 0, np.where(s == cause, 1, 2))
    score, var = np.zeros(ng - 1), np.zeros((ng - 1, ng - 1))
    for level in sorted(pd.unique(stt)):
        m = stt == level
        sc, v = _gray_scores(t[m], code[m], gidx[m], ng, rho)
        score, var = score + sc, var + v
    df = ng - 1
    if not np.all(np.isfinite(var)) or np.linalg.matrix_rank(var) < df:
        return GrayTest(cause=cause, stat=float("nan"), p=float("nan"), df=df)
    stat = float(score @ np.linalg.solve(var, score))
    return GrayTest(cause=cause, stat=stat, p=float(stats.chi2.sf(stat, df)), df=df)


# ------------------------------------------------------------------------ Fine–Gray


def _censoring_km_before(time: np.ndarray, censored: np.ndarray) -> np.ndarray:
    """KM of the censoring distribution just before each time, as ``crr`` reads it.

    R: ``approx(c(min(0, u$time) - 10 eps, u$time, ...), c(1, u$surv, 0),
    xout = ftime * (1 - 100 eps), method = "constant", f = 0, rule = 2)``
    with ``u = survfit(Surv(ftime, cenind) ~ 1)``.
    """
    ut, inv = np.unique(time, return_inverse=True)
    n_cens = np.bincount(inv, weights=censored, minlength=len(ut))
    at_risk = len(time) - np.concatenate([[0], np.cumsum(np.bincount(inv))[:-1]])
    surv = np.cumprod(1 - n_cens / at_risk)
    idx = np.searchsorted(ut, time * (1 - 100 * _EPS), side="right") - 1
    return np.where(idx >= 0, surv[np.clip(idx, 0, None)], 1.0)


@dataclass(frozen=True)
class _FGData:
    """Sorted data and the subdistribution risk-set weights W (subjects x failure times)."""

    x: np.ndarray
    failed: np.ndarray  # the cause of interest
    d: np.ndarray  # failures of the cause per distinct failure time
    weights: np.ndarray
    x_failed_sum: np.ndarray


def _fg_data(t: np.ndarray, code: np.ndarray, x: np.ndarray) -> _FGData:
    g_before = _censoring_km_before(t, code == 0)
    uft, d = np.unique(t[code == 1], return_counts=True)
    g_uft = g_before[np.searchsorted(t, uft, side="left")]
    at_risk = t[:, None] >= uft[None, :]
    # subjects who failed from another cause stay in the risk set, weighted G(u-)/G(T-)
    other = (code == 2)[:, None] & ~at_risk
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(at_risk, 1.0, np.where(other, g_uft[None, :] / g_before[:, None], 0.0))
    return _FGData(x, code == 1, d.astype(float), w, x[code == 1].sum(axis=0))


def _fg_sums(data: _FGData, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = np.exp(data.x @ b)
    wr = data.weights * r[:, None]  # subjects x times
    s0 = wr.sum(axis=0)
    s1 = wr.T @ data.x
    return r, s0, s1


def _fg_objective(data: _FGData, b: np.ndarray) -> float:
    """Negative log partial pseudo-likelihood (Breslow ties), ``crrf``."""
    _, s0, _ = _fg_sums(data, b)
    return float(-data.x_failed_sum @ b + data.d @ np.log(s0))


def _fg_derivatives(data: _FGData, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Objective, gradient and Hessian of the negative log pseudo-likelihood, ``crrfsv``."""
    r, s0, s1 = _fg_sums(data, b)
    xbar = s1 / s0[:, None]
    s2 = np.einsum("jt,jp,jq->tpq", data.weights * r[:, None], data.x, data.x)
    lik = float(-data.x_failed_sum @ b + data.d @ np.log(s0))
    grad = -data.x_failed_sum + data.d @ xbar
    hess = np.einsum("t,tpq->pq", data.d / s0, s2) - np.einsum("t,tp,tq->pq", data.d, xbar, xbar)
    return lik, grad, hess


def _fg_sandwich(data: _FGData, t: np.ndarray, code: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``crrvv``: Huber sandwich with the q(u) term for the estimated censoring distribution."""
    x, w = data.x, data.weights
    r, s0, s1 = _fg_sums(data, b)
    xbar = s1 / s0[:, None]  # per distinct failure time
    uft = np.unique(t[code == 1])
    # eta_i: the subject's score residual (dN_i part minus its share of d Lambda)
    coef = w * r[:, None] * (data.d / s0)[None, :]  # subjects x times
    eta = -(coef.sum(axis=1)[:, None] * x - coef @ xbar)
    fail_t = np.searchsorted(uft, t[data.failed])
    eta[data.failed] += x[data.failed] - xbar[fail_t]
    # psi_i: integral of q(u)/pi(u) against the censoring martingale of subject i
    g_before = _censoring_km_before(t, code == 0)
    ut, inv = np.unique(t, return_inverse=True)
    n_cens = np.bincount(inv, weights=(code == 0).astype(float), minlength=len(ut))
    at_risk = len(t) - np.concatenate([[0], np.cumsum(np.bincount(inv))[:-1]])
    other = code == 2
    a_w = np.where(other, r / g_before, 0.0)
    # A(u): other-cause failures strictly before u, weighted exp(xb) / G(T-)
    per_time = np.zeros((len(ut), 1 + x.shape[1]))
    np.add.at(per_time, inv, a_w[:, None] * np.column_stack([np.ones(len(t)), x]))
    before = np.vstack([np.zeros(per_time.shape[1]), np.cumsum(per_time, axis=0)[:-1]])
    a0, a1 = before[:, 0], before[:, 1:]
    # B(u): failures of the cause at or after u, weighted G(T-) / S0
    g_uft = g_before[np.searchsorted(t, uft, side="left")]
    per_time0 = data.d * g_uft / s0
    b0_t = np.cumsum(per_time0[::-1])[::-1]
    b1_t = np.cumsum((per_time0[:, None] * xbar)[::-1], axis=0)[::-1]
    first_fail = np.searchsorted(uft, ut, side="left")  # first failure time >= u
    has = first_fail < len(uft)
    idx = np.clip(first_fail, 0, len(uft) - 1)
    b0 = np.where(has, b0_t[idx], 0.0)
    b1 = np.where(has[:, None], b1_t[idx], 0.0)
    q = a1 * b0[:, None] - a0[:, None] * b1  # q(u) at every distinct time
    cens_term = np.where(n_cens[:, None] > 0, n_cens[:, None] * q / (at_risk[:, None] ** 2), 0.0)
    psi = -np.cumsum(cens_term, axis=0)[inv]
    cens = code == 0
    psi[cens] += q[inv[cens]] / at_risk[inv[cens], None]
    u = eta + psi
    return u.T @ u


def fine_gray(
    durations: Sequence[float],
    status: Sequence[object],
    covariates: pd.DataFrame,
    failcode: object = 1,
    cencode: object = 0,
    gtol: float = 1e-6,
    maxiter: int = 10,
    alpha: float | None = None,
) -> FineGrayResult:
    """Fine–Gray subdistribution hazards model (= R ``cmprsk::crr``).

    Equals ``crr(ftime, fstatus, cov1, failcode = 1, cencode = 0, gtol, maxiter)``
    with time-fixed covariates and one censoring group: the same Newton–Raphson
    iterations from 0 with step halving, the same stopping rule
    (``max|score| * max(|b|, 1) < max(|loglik|, 1) * gtol``), Breslow ties,
    and the sandwich variance ``I^-1 V I^-1`` of ``crr``'s ``$var``.  p-values
    are ``2 * (1 - pnorm(abs(coef / se)))`` (``summary.crr``).

    Parameters
    ----------
    durations : sequence of float
        Time to first event or censoring.
    status : sequence
        Failure type; ``failcode`` = the event of interest, ``cencode`` = censored,
        anything else = a competing event.
    covariates : pandas.DataFrame
        Numeric covariates (R ``cov1``), one column per coefficient, in order.
    failcode, cencode : object
        Codes of the event of interest and of censoring.
    gtol, maxiter : float, int
        R's convergence tolerance and iteration limit (defaults as R's).
    alpha : float, optional
        For the (1 - alpha) Wald CI of the subdistribution HRs; default ``METHODS.alpha``.

    Returns
    -------
    FineGrayResult
        ``estimable=False`` with a reason (no events of the cause, a constant
        covariate, no convergence) instead of numbers.
    """
    alpha = study.METHODS.alpha if alpha is None else alpha
    names = [str(c) for c in covariates.columns]
    cols = [covariates[c].to_numpy(dtype=float) for c in covariates.columns]
    t, s, *xs = _complete(durations, status, *cols)
    t = t.astype(float)
    order = np.argsort(t, kind="stable")
    t, s = t[order], s[order]
    x = np.column_stack([np.asarray(c, dtype=float)[order] for c in xs])
    code = np.where(s == failcode, 1, np.where(s == cencode, 0, 2))
    n, events = len(t), int((code == 1).sum())
    if events == 0:
        return FineGrayResult(estimable=False, n=n, events=0, reason="no events of the cause")
    if np.any(np.ptp(x, axis=0) == 0):
        return FineGrayResult(estimable=False, n=n, events=events, reason="a covariate is constant")
    data = _fg_data(t, code, x)
    b = np.zeros(x.shape[1])
    converged, it = False, 0
    for it in range(maxiter + 1):
        lik, grad, hess = _fg_derivatives(data, b)
        if np.max(np.abs(grad) * np.maximum(np.abs(b), 1)) < max(abs(lik), 1) * gtol:
            converged = True
            break
        if it == maxiter:
            break
        try:
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        for _ in range(21):  # R's backtracking: halve up to 20 times
            new = _fg_objective(data, b + step)
            if np.isfinite(new) and new <= lik + 1e-4 * float(step @ grad):
                break
            step = step * 0.5
        else:
            break
        b = b + step
    if not converged:
        return FineGrayResult(
            estimable=False, n=n, events=events, reason="did not converge", iterations=it
        )
    _, _, info = _fg_derivatives(data, b)
    try:
        inv_info = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return FineGrayResult(
            estimable=False, n=n, events=events, reason="singular information matrix"
        )
    var = inv_info @ _fg_sandwich(data, t, code, b) @ inv_info
    se = np.sqrt(np.diag(var))
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(np.abs(b / se))
    terms = [
        CoxTerm(
            term=nm,
            coef=float(bi),
            se=float(si),
            hr=float(np.exp(bi)),
            hr_lower=float(np.exp(bi - z * si)),
            hr_upper=float(np.exp(bi + z * si)),
            p=float(pi),
        )
        for nm, bi, si, pi in zip(names, b, se, p, strict=True)
    ]
    return FineGrayResult(
        estimable=True,
        n=n,
        events=events,
        terms=terms,
        loglik=-_fg_objective(data, b),
        loglik_null=-_fg_objective(data, np.zeros_like(b)),
        converged=True,
        iterations=it,
        variance=var,
    )
