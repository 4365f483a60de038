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


class _Stratum:
    """What does not change between Newton steps: the event times, the orders and positions
    of the cumulative sums, one row per death with its Efron weight."""

    def __init__(self, start: np.ndarray, stop: np.ndarray, dead: np.ndarray, x: np.ndarray):
        self.x, self.dead = x, dead
        times, tied = np.unique(stop[dead], return_counts=True)
        self.by_stop = np.argsort(stop, kind="stable")
        self.by_start = np.argsort(start, kind="stable")
        # rows of the reversed cumulative sums: the first interval with stop (start) >= t
        self.stop_at = np.searchsorted(stop[self.by_stop], times, side="left")
        self.start_at = np.searchsorted(start[self.by_start], times, side="left")
        deaths = np.flatnonzero(dead)
        self.deaths = deaths[np.argsort(stop[deaths], kind="stable")]
        self.first_death = np.cumsum(tied) - tied
        # one row per death: its time, and its rank k among the m deaths of that time, k / m
        self.block = np.repeat(np.arange(len(times)), tied)
        self.frac = (np.arange(len(self.block)) - self.first_death[self.block]) / tied[self.block]
        self.dead_x_sum = x[dead].sum(axis=0)

    def evaluate(self, beta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, score and information (Efron) at ``beta``."""
        x, p = self.x, self.x.shape[1]
        risk = np.exp(x @ beta)
        rx = risk[:, None] * x
        stacked = np.column_stack([risk, rx, (rx[:, :, None] * x[:, None, :]).reshape(len(x), -1)])

        def at_least(order: np.ndarray, at: np.ndarray) -> np.ndarray:
            tail = np.cumsum(stacked[order][::-1], axis=0)[::-1]
            return np.vstack([tail, np.zeros(stacked.shape[1])])[at]

        at_risk = at_least(self.by_stop, self.stop_at) - at_least(self.by_start, self.start_at)
        tied_sums = np.add.reduceat(stacked[self.deaths], self.first_death, axis=0)
        s = at_risk[self.block] - self.frac[:, None] * tied_sums[self.block]
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
        parts = [stratum.evaluate(beta) for stratum in strata_ if len(stratum.deaths)]
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
