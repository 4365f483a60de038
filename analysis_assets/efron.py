"""Cox partial likelihood with Efron ties on counting-process data, set-wise in numpy.

lifelines' fitters loop in Python over the distinct event times (``_get_efron_values_single``),
which makes a fit on a registry's follow-up take seconds, and the robustness analysis fits
hundreds (each exposure, endpoint and left-out centre). Here each Newton step is a handful of
sorted cumulative sums: the risk set of an event time t is every interval with
``tstart < t <= tstop``, so its sums are those over ``tstop >= t`` minus those over
``tstart >= t``. The Newton iteration is R's ``coxph.fit`` / ``agreg.fit``: start at 0, step
halving when the log partial likelihood decreases, stop when it changes by less than
``eps`` relative; the variance is the inverse information at the estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["EfronFit", "efron_cox"]

#: R coxph.control(): eps = 1e-9, iter.max = 20; tighter here, on the log-likelihood and on the
#: last Newton step, for parity at 1e-8 on the coefficients at any sample size
EPS = 1e-12
STEP_TOLERANCE = 1e-10
MAX_ITERATIONS = 50


@dataclass(frozen=True)
class EfronFit:
    """Estimates of :func:`efron_cox`."""

    coef: np.ndarray
    variance: np.ndarray
    loglik: float
    iterations: int
    converged: bool


def _row_sums(x: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Per row: r, r x, r x x' (flattened), the terms of S0, S1 and S2."""
    p = x.shape[1]
    out = np.empty((len(x), 1 + p + p * p))
    out[:, 0] = risk
    rx = out[:, 1 : 1 + p]
    np.multiply(risk[:, None], x, out=rx)
    out[:, 1 + p :] = (rx[:, :, None] * x[:, None, :]).reshape(len(x), p * p)
    return out


class _Tail:
    """Sums over the rows whose value is at least t, for each event time t: rows sorted once,
    summed per distinct value, then a cumulative sum over the distinct values."""

    def __init__(self, values: np.ndarray, times: np.ndarray):
        self.order = np.argsort(values, kind="stable")
        distinct, self.first = np.unique(values[self.order], return_index=True)
        self.at = np.searchsorted(distinct, times, side="left")

    def sums(self, rows: np.ndarray) -> np.ndarray:
        grouped = np.add.reduceat(rows, self.first, axis=0)
        tail = np.cumsum(grouped[::-1], axis=0)[::-1]
        return np.vstack([tail, np.zeros((1, rows.shape[1]))])[self.at]


class _Stratum:
    """What does not change between Newton steps: the event times, the sorted orders of the
    sums, one row per death with its Efron weight."""

    def __init__(self, start: np.ndarray, stop: np.ndarray, dead: np.ndarray, x: np.ndarray):
        times, tied = np.unique(stop[dead], return_counts=True)
        self.stop = _Tail(stop, times)
        self.x_by_stop = x[self.stop.order]
        # intervals starting at or after t are not at risk at t (none for right-censored data)
        counting = np.isfinite(start).any()
        self.start = _Tail(start, times) if counting else None
        self.x_by_start = x[self.start.order] if counting else None
        deaths = np.flatnonzero(dead)
        self.x_dead = x[deaths[np.argsort(stop[deaths], kind="stable")]]
        self.first_death = np.cumsum(tied) - tied
        # one row per death: its time, and its rank k among the m deaths of that time, k / m
        self.block = np.repeat(np.arange(len(times)), tied)
        self.frac = (np.arange(len(self.block)) - self.first_death[self.block]) / tied[self.block]
        self.dead_x_sum = x[dead].sum(axis=0)

    def evaluate(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, score and information (Efron) at ``beta``."""
        p = len(beta)
        xs = self.x_by_stop
        at_risk = self.stop.sums(_row_sums(xs, np.exp(xs @ beta)))
        if self.start is not None:
            xs = self.x_by_start
            at_risk -= self.start.sums(_row_sums(xs, np.exp(xs @ beta)))
        tied = np.add.reduceat(_row_sums(self.x_dead, np.exp(self.x_dead @ beta)), self.first_death)
        s = at_risk[self.block] - self.frac[:, None] * tied[self.block]
        s0, s1, s2 = s[:, 0], s[:, 1 : 1 + p], s[:, 1 + p :].reshape(-1, p, p)
        mean = s1 / s0[:, None]
        loglik = float(self.dead_x_sum @ beta - np.sum(np.log(s0)))
        score = self.dead_x_sum - mean.sum(axis=0)
        information = (s2 / s0[:, None, None]).sum(axis=0) - mean.T @ mean
        return loglik, score, information


def efron_cox(
    tstart: np.ndarray,
    tstop: np.ndarray,
    event: np.ndarray,
    X: np.ndarray,
    strata: np.ndarray | None = None,
) -> EfronFit:
    """Fit ``coxph(Surv(tstart, tstop, event) ~ X + strata(s), ties = "efron")``.

    Parameters
    ----------
    tstart, tstop : ndarray of shape (n,)
        Intervals (tstart, tstop]; right-censored data: ``tstart`` below every time (-inf).
    event : ndarray of shape (n,)
        1 when the interval ends with the event.
    X : ndarray of shape (n, p)
        Covariates (centred internally; the estimates do not change).
    strata : ndarray of shape (n,), optional
        A separate baseline hazard per level.

    Returns
    -------
    EfronFit
        ``converged`` False when the log-likelihood still moved after
        :data:`MAX_ITERATIONS` steps or the information is singular.
    """
    x = np.asarray(X, dtype=float)
    x = x - x.mean(axis=0)
    dead = np.asarray(event).astype(bool)
    start, stop = np.asarray(tstart, dtype=float), np.asarray(tstop, dtype=float)
    groups = [slice(None)] if strata is None else [strata == s for s in np.unique(strata)]
    strata_ = [_Stratum(start[g], stop[g], dead[g], x[g]) for g in groups]

    def evaluate(beta):
        parts = [stratum.evaluate(beta) for stratum in strata_ if len(stratum.x_dead)]
        return (
            sum(p[0] for p in parts),
            sum(p[1] for p in parts),
            sum(p[2] for p in parts),
        )

    beta = np.zeros(x.shape[1])
    loglik, score, information = evaluate(beta)
    for iteration in range(1, MAX_ITERATIONS + 1):
        try:
            step = np.linalg.solve(information, score)
        except np.linalg.LinAlgError:
            return EfronFit(beta, np.full_like(information, np.nan), loglik, iteration, False)
        new = beta + step
        new_loglik, new_score, new_information = evaluate(new)
        # R: step halving when the likelihood falls; a fall within rounding (near the
        # maximum) is no fall, else halving would stop Newton short of it
        noise = EPS * abs(loglik)
        halvings = 0
        while not new_loglik >= loglik - noise and halvings < 30:
            step /= 2
            new = beta + step
            new_loglik, new_score, new_information = evaluate(new)
            halvings += 1
        change = abs(new_loglik - loglik)
        beta, loglik, score, information = new, new_loglik, new_score, new_information
        if change <= noise and np.max(np.abs(step)) <= STEP_TOLERANCE:
            try:
                variance = np.linalg.inv(information)
            except np.linalg.LinAlgError:
                break
            return EfronFit(beta, variance, loglik, iteration, True)
    return EfronFit(beta, np.full_like(information, np.nan), loglik, MAX_ITERATIONS, False)
