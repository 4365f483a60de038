"""The Fine–Gray subdistribution hazards model, pinned to R ``cmprsk::crr``.

:func:`fine_gray` = ``crr(ftime, fstatus, cov1, failcode, cencode)``: Breslow ties, censoring
weights from the Kaplan–Meier of the censoring times at ``t-``, R's Newton–Raphson with
backtracking and stopping rule, and the sandwich variance including the ``q(u)`` term for the
estimated censoring distribution (Fortran ``crrfsv`` / ``crrvv`` of cmprsk 2.2, Robert Gray),
transcribed set-wise with numpy. ``crr`` is the reference, not ``survival::finegray`` (they
agree only to ~1e-3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis_assets import study
from analysis_assets.competing_risks import _EPS, _complete
from analysis_assets.cox import CoxTerm

__all__ = ["FineGrayResult", "fine_gray"]


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
    """Data sorted by time, and what the subdistribution risk sets need.

    The weight of subject i at failure time u is 1 while ``t_i >= u``; after a failure from
    another cause it stays in the risk set with weight ``G(u-) / G(t_i-)`` (G: the censoring
    KM); otherwise 0. Sums over the risk sets are therefore cumulative sums over the sorted
    subjects (:func:`_risk_set_sums`): no subjects x times matrix, which would not fit in
    memory for a registry.
    """

    x: np.ndarray
    failed: np.ndarray  # the cause of interest
    d: np.ndarray  # failures of the cause per distinct failure time
    x_failed_sum: np.ndarray
    other_weight: np.ndarray  # 1 / G(t_i-) after another cause, else 0
    g_uft: np.ndarray  # G(u-) at each distinct failure time
    first_at: np.ndarray  # per failure time: the first subject with t >= u
    upto: np.ndarray  # per subject: the failure times u <= t_i


def _fg_data(t: np.ndarray, code: np.ndarray, x: np.ndarray) -> _FGData:
    g_before = _censoring_km_before(t, code == 0)
    uft, d = np.unique(t[code == 1], return_counts=True)
    other = code == 2
    with np.errstate(divide="ignore"):
        other_weight = np.where(other, 1.0 / np.where(other, g_before, 1.0), 0.0)
    return _FGData(
        x=x,
        failed=code == 1,
        d=d.astype(float),
        x_failed_sum=x[code == 1].sum(axis=0),
        other_weight=other_weight,
        g_uft=g_before[np.searchsorted(t, uft, side="left")],
        first_at=np.searchsorted(t, uft, side="left"),
        upto=np.searchsorted(uft, t, side="right"),
    )


def _risk_set_sums(data: _FGData, values: np.ndarray) -> np.ndarray:
    """Per distinct failure time u: the sum over subjects of their weight at u times ``values``
    (subjects x columns)."""
    zero = np.zeros((1, values.shape[1]))
    at_or_after = np.vstack([np.cumsum(values[::-1], axis=0)[::-1], zero])[data.first_at]
    weighted = data.other_weight[:, None] * values
    before = np.vstack([zero, np.cumsum(weighted, axis=0)])[data.first_at]
    return at_or_after + data.g_uft[:, None] * before


def _subject_sums(data: _FGData, per_time: np.ndarray) -> np.ndarray:
    """Per subject: the sum over failure times of its weight at u times ``per_time`` (times x
    columns): the times up to its own, then (after another cause) the later ones weighted."""
    zero = np.zeros((1, per_time.shape[1]))
    up_to = np.vstack([zero, np.cumsum(per_time, axis=0)])[data.upto]
    later = np.vstack([np.cumsum((data.g_uft[:, None] * per_time)[::-1], axis=0)[::-1], zero])
    return up_to + data.other_weight[:, None] * later[data.upto]


def _fg_sums(data: _FGData, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r = np.exp(data.x @ b)
    sums = _risk_set_sums(data, np.column_stack([r, r[:, None] * data.x]))
    return r, sums[:, 0], sums[:, 1:]


def _fg_objective(data: _FGData, b: np.ndarray) -> float:
    """Negative log partial pseudo-likelihood (Breslow ties), ``crrf``."""
    _, s0, _ = _fg_sums(data, b)
    return float(-data.x_failed_sum @ b + data.d @ np.log(s0))


def _fg_derivatives(data: _FGData, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Objective, gradient and Hessian of the negative log pseudo-likelihood, ``crrfsv``."""
    x, p = data.x, data.x.shape[1]
    r = np.exp(x @ b)
    rx = r[:, None] * x
    sums = _risk_set_sums(
        data, np.column_stack([r, rx, (rx[:, :, None] * x[:, None, :]).reshape(len(x), -1)])
    )
    s0, s1, s2 = sums[:, 0], sums[:, 1 : 1 + p], sums[:, 1 + p :].reshape(-1, p, p)
    xbar = s1 / s0[:, None]
    lik = float(-data.x_failed_sum @ b + data.d @ np.log(s0))
    grad = -data.x_failed_sum + data.d @ xbar
    hess = np.einsum("t,tpq->pq", data.d / s0, s2) - np.einsum("t,tp,tq->pq", data.d, xbar, xbar)
    return lik, grad, hess


def _fg_sandwich(data: _FGData, t: np.ndarray, code: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``crrvv``: Huber sandwich with the q(u) term for the estimated censoring distribution."""
    x = data.x
    r, s0, s1 = _fg_sums(data, b)
    xbar = s1 / s0[:, None]  # per distinct failure time
    uft = np.unique(t[code == 1])
    # eta_i: the subject's score residual (dN_i part minus its share of d Lambda)
    share = r[:, None] * _subject_sums(
        data, (data.d / s0)[:, None] * np.column_stack([np.ones(len(s0)), xbar])
    )
    eta = -(share[:, :1] * x - share[:, 1:])
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
