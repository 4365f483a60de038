"""Contingency-table tests pinned to R: chi-squared, Fisher 2x2 and exact r x c.

* :func:`chisq_test` — Pearson chi-squared without Yates (= ``chisq.test(m,
  correct = FALSE)``), scipy ``chi2_contingency(correction=False)``.
* :func:`fisher_test` — 2x2: scipy ``fisher_exact`` p-value and the conditional
  MLE odds ratio with its exact CI (scipy ``contingency.odds_ratio(kind=
  "conditional")``), both = R ``fisher.test``.  r x c: Freeman–Halton exact
  p-value by enumeration of all tables with the observed margins (p = sum of
  P(table) over tables with P <= P_obs * (1 + 1e-7), R's relative tolerance);
  the enumeration is column by column and stops as soon as the number of
  (partial) tables passes ``max_tables`` — a lower bound of the final count,
  so the cost is bounded — and then a seeded Monte Carlo
  over random tables with the same margins (scipy ``random_table``, R's
  ``r2dtable`` equivalent) is used instead, reported in ``method`` with the
  number of resamples and the Monte Carlo standard error.
* :func:`compare_categorical` — the study rule: chi-squared, or Fisher when any
  expected count is below ``METHODS.fisher_min_expected`` (5).

The enumeration limit, the Monte Carlo resamples and seed, the confidence level of the odds
ratio and the chooser's threshold are read from :data:`analysis_assets.study.METHODS` at call
time (the report's Methods print the same values).

All-zero rows and columns are dropped before testing (they carry no
information; R's ``chisq.test`` would give NaN).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import gammaln

from analysis_assets import study

__all__ = [
    "ChisqResult",
    "FisherResult",
    "CategoricalResult",
    "chisq_test",
    "fisher_test",
    "compare_categorical",
]

#: R fisher.test's relative tolerance when collecting tables "as or less likely".
R_FISHER_RELERR = 1 + 1e-7


@dataclass(frozen=True)
class ChisqResult:
    """Pearson chi-squared test (no continuity correction)."""

    stat: float
    df: int
    p: float
    min_expected: float


@dataclass(frozen=True)
class FisherResult:
    """Fisher's exact test.

    ``method`` is ``"exact"`` or ``"monte-carlo"``; for Monte Carlo,
    ``n_resamples``, ``mc_se`` (= sqrt(p (1 - p) / B)) and ``seed`` are set.
    ``n_tables`` is the number of tables with the observed margins (r x c).
    Odds ratio fields only for 2x2 (conditional MLE and exact CI, as R).
    """

    p: float
    method: str
    n_tables: int | None = None
    n_resamples: int | None = None
    mc_se: float | None = None
    seed: int | None = None
    odds_ratio: float | None = None
    or_lower: float | None = None
    or_upper: float | None = None


@dataclass(frozen=True)
class CategoricalResult:
    """Outcome of the study's chooser: which test and its p-value."""

    test: str  # "chi-squared" or "fisher"
    p: float
    min_expected: float
    chisq: ChisqResult
    fisher: FisherResult | None


def _as_table(table: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
    m = np.asarray(table)
    if m.ndim != 2:
        raise ValueError("table must be 2-dimensional")
    if np.any(m < 0) or not np.all(np.equal(np.mod(m, 1), 0)):
        raise ValueError("table must hold non-negative integer counts")
    m = m.astype(np.int64)
    m = m[m.sum(axis=1) > 0][:, m.sum(axis=0) > 0]
    if m.shape[0] < 2 or m.shape[1] < 2:
        raise ValueError("need at least 2 non-empty rows and 2 non-empty columns")
    return m


def chisq_test(table: Sequence[Sequence[int]] | np.ndarray) -> ChisqResult:
    """Pearson chi-squared without Yates (= R ``chisq.test(m, correct = FALSE)``).

    Parameters
    ----------
    table : array-like of int, shape (r, c)

    Returns
    -------
    ChisqResult
        Statistic, df = (r - 1)(c - 1), p and the smallest expected count.
    """
    m = _as_table(table)
    res = stats.chi2_contingency(m, correction=False)
    return ChisqResult(
        stat=float(res.statistic),
        df=int(res.dof),
        p=float(res.pvalue),
        min_expected=float(res.expected_freq.min()),
    )


def _oriented(m: np.ndarray) -> np.ndarray:
    # enumerate over the shorter dimension (fewer compositions per column)
    return m if m.shape[0] <= m.shape[1] else m.T


def _log_table_prob(m: np.ndarray) -> np.ndarray:
    """-sum(log n_ij!) for one table or a stack of tables (last two axes)."""
    return -gammaln(m + 1.0).sum(axis=(-2, -1))


def _fisher_rxc_exact(m: np.ndarray, max_tables: int) -> tuple[float, int] | None:
    """Exact Freeman–Halton p and the number of tables; None if > max_tables tables.

    Every partial table (first j columns, remaining row margins >= 0) can be
    completed, so the number of partial paths never exceeds the final number
    of tables: the enumeration stops as soon as it passes ``max_tables``,
    which bounds time and memory.
    """
    m = _oriented(m)
    rows, cols = m.sum(axis=1), m.sum(axis=0)
    n = int(m.sum())
    const = gammaln(rows + 1.0).sum() + gammaln(cols + 1.0).sum() - gammaln(n + 1.0)
    # vectorised enumeration, cell by cell within each column; states = remaining
    # row margins, acc = sum of -log n_ij!.  Each cell takes the values that keep
    # the table completable (lo..hi), so partial counts are lower bounds.
    states = rows[None, :].astype(np.int64)
    acc = np.zeros(1)
    r = len(rows)
    for c in cols[:-1]:
        colrem = np.full(len(states), int(c), dtype=np.int64)
        for i in range(r - 1):
            below = states[:, i + 1 :].sum(axis=1)
            lo = np.maximum(0, colrem - below)
            hi = np.minimum(states[:, i], colrem)
            k = hi - lo + 1
            total = int(k.sum())
            if total > max_tables:
                return None
            idx = np.repeat(np.arange(len(states)), k)
            starts = np.cumsum(k) - k
            n_ij = lo[idx] + (np.arange(total) - starts[idx])
            states = states[idx]
            states[:, i] -= n_ij
            colrem = colrem[idx] - n_ij
            acc = acc[idx] - gammaln(n_ij + 1.0)
        states[:, r - 1] -= colrem  # last row of the column is forced
        acc = acc - gammaln(colrem + 1.0)
    acc = acc - gammaln(states + 1.0).sum(axis=1)  # last column is forced
    logp = acc + const
    lp_obs = _log_table_prob(m) + const
    # R: sum P[P <= P_obs * (1 + 1e-7)]
    sel = logp <= lp_obs + np.log(R_FISHER_RELERR)
    return float(min(1.0, np.exp(logp[sel]).sum())), len(logp)


def _fisher_rxc_mc(m: np.ndarray, n_resamples: int, seed: int) -> tuple[float, float]:
    rows, cols = m.sum(axis=1), m.sum(axis=0)
    sims = stats.random_table(rows, cols, seed=np.random.default_rng(seed)).rvs(n_resamples)
    stat_obs = _log_table_prob(m)
    stat_sim = _log_table_prob(sims)
    # as R fisher.test(simulate.p.value = TRUE): STATISTIC = -sum(lfactorial(x)) (<= 0),
    # PVAL = (1 + sum(tmp <= STATISTIC / almost.1)) / (B + 1), almost.1 = 1 + 64 * eps
    almost1 = 1 + 64 * np.finfo(float).eps
    hits = int(np.sum(stat_sim <= stat_obs / almost1))
    p = (1 + hits) / (n_resamples + 1)
    return p, float(np.sqrt(p * (1 - p) / n_resamples))


def _n_2x2(m: np.ndarray) -> int:
    r1, c1, n = int(m[0].sum()), int(m[:, 0].sum()), int(m.sum())
    return min(r1, c1) - max(0, r1 + c1 - n) + 1


def fisher_test(
    table: Sequence[Sequence[int]] | np.ndarray,
    max_tables: int | None = None,
    n_resamples: int | None = None,
    seed: int | None = None,
) -> FisherResult:
    """Fisher's exact test (= R ``fisher.test``), 2x2 and r x c.

    Parameters
    ----------
    table : array-like of int, shape (r, c)
    max_tables : int, optional
        Largest number of tables enumerated exactly (r x c); above it a seeded
        Monte Carlo is used (never hangs: the work before giving up is bounded
        by ``max_tables``). Default ``METHODS.fisher_max_tables`` (2 000 000).
    n_resamples : int, optional
        Monte Carlo resamples (only when the exact enumeration is too large).
        Default ``METHODS.fisher_resamples`` (100 000).
    seed : int, optional
        Monte Carlo seed, for reproducible results. Default ``METHODS.fisher_seed``.

    Returns
    -------
    FisherResult
    """
    methods = study.METHODS
    max_tables = methods.fisher_max_tables if max_tables is None else max_tables
    n_resamples = methods.fisher_resamples if n_resamples is None else n_resamples
    seed = methods.fisher_seed if seed is None else seed
    m = _as_table(table)
    if m.shape == (2, 2):
        p = float(stats.fisher_exact(m, alternative="two-sided").pvalue)
        orr = stats.contingency.odds_ratio(m, kind="conditional")
        ci = orr.confidence_interval(methods.confidence_level)
        return FisherResult(
            p=p,
            method="exact",
            n_tables=_n_2x2(m),
            odds_ratio=float(orr.statistic),
            or_lower=float(ci.low),
            or_upper=float(ci.high),
        )
    exact = _fisher_rxc_exact(m, max_tables)
    if exact is not None:
        return FisherResult(p=exact[0], method="exact", n_tables=exact[1])
    p, se = _fisher_rxc_mc(m, n_resamples, seed)
    return FisherResult(
        p=p, method="monte-carlo", n_tables=None, n_resamples=n_resamples, mc_se=se, seed=seed
    )


def compare_categorical(
    table: Sequence[Sequence[int]] | np.ndarray, **fisher_kwargs: object
) -> CategoricalResult:
    """Study rule: Pearson chi-squared without Yates, or Fisher's exact test
    when any expected cell count is below ``METHODS.fisher_min_expected`` (5; r x c:
    Fisher–Freeman–Halton).

    Parameters
    ----------
    table : array-like of int, shape (r, c)
    **fisher_kwargs
        Passed to :func:`fisher_test`.

    Returns
    -------
    CategoricalResult
    """
    ch = chisq_test(table)
    if ch.min_expected < study.METHODS.fisher_min_expected:
        fi = fisher_test(table, **fisher_kwargs)  # type: ignore[arg-type]
        return CategoricalResult(
            test="fisher", p=fi.p, min_expected=ch.min_expected, chisq=ch, fisher=fi
        )
    return CategoricalResult(
        test="chi-squared", p=ch.p, min_expected=ch.min_expected, chisq=ch, fisher=None
    )


def describe_test(result: CategoricalResult) -> str:
    """The test as a reader should see it, incl. how a Fisher p-value was obtained."""
    if result.fisher is None:
        return f"Pearson chi-squared without Yates (df {result.chisq.df})"
    fisher = result.fisher
    if fisher.method == "exact":
        return "Fisher's exact test" + (
            " (Freeman-Halton, r x c)" if fisher.odds_ratio is None else ""
        )
    return (
        f"Fisher's test by Monte Carlo (exact computation too large: {fisher.n_resamples} "
        f"resamples, seed {fisher.seed}, Monte Carlo SE {fisher.mc_se:.2g})"
    )
