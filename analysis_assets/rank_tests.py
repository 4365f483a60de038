"""Two- and k-group comparisons of continuous variables, pinned to R.

* :func:`mann_whitney` — asymptotic, tie- and continuity-corrected, two-sided
  (= R ``wilcox.test(x, y, exact = FALSE, correct = TRUE)``; scipy
  ``mannwhitneyu(method="asymptotic", use_continuity=True)``).  The statistic
  is R's W = U of the first sample.
* :func:`kruskal_wallis` — tie-corrected H (= R ``kruskal.test``; scipy ``kruskal``).
* :func:`compare_continuous` — the study rule: Mann–Whitney U for two groups,
  Kruskal–Wallis for more.
Missing values are dropped. The continuity correction is ``METHODS.mann_whitney_continuity``
(:data:`analysis_assets.study.METHODS`, read at call time).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from analysis_assets import study

__all__ = ["GroupTestResult", "mann_whitney", "kruskal_wallis", "compare_continuous"]


@dataclass(frozen=True)
class GroupTestResult:
    """Test statistic, p (two-sided), df (Kruskal–Wallis only) and group sizes."""

    test: str
    stat: float
    p: float
    df: int | None
    n: tuple[int, ...]


def _clean(x: Sequence[float]) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    return a[~np.isnan(a)]


def mann_whitney(x: Sequence[float], y: Sequence[float]) -> GroupTestResult:
    """Mann–Whitney U, asymptotic with tie and continuity correction, two-sided.

    Parameters
    ----------
    x, y : sequence of float

    Returns
    -------
    GroupTestResult
        ``stat`` = U of ``x`` (R's W).
    """
    a, b = _clean(x), _clean(y)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both groups need observations")
    r = stats.mannwhitneyu(
        a,
        b,
        use_continuity=study.METHODS.mann_whitney_continuity,
        alternative="two-sided",
        method="asymptotic",
    )
    return GroupTestResult(
        test="Mann-Whitney U",
        stat=float(r.statistic),
        p=float(r.pvalue),
        df=None,
        n=(len(a), len(b)),
    )


def kruskal_wallis(*groups: Sequence[float]) -> GroupTestResult:
    """Kruskal–Wallis H test, tie-corrected, chi-square with k - 1 df.

    Parameters
    ----------
    *groups : sequence of float
        Two or more groups (empty groups after dropping NaN are ignored, as R).

    Returns
    -------
    GroupTestResult
    """
    gs = [g for g in (_clean(g) for g in groups) if len(g)]
    if len(gs) < 2:
        raise ValueError("need at least two non-empty groups")
    r = stats.kruskal(*gs)
    return GroupTestResult(
        test="Kruskal-Wallis",
        stat=float(r.statistic),
        p=float(r.pvalue),
        df=len(gs) - 1,
        n=tuple(len(g) for g in gs),
    )


def compare_continuous(*groups: Sequence[float]) -> GroupTestResult:
    """Study rule for a continuous variable by group: Mann–Whitney U for two groups,
    Kruskal–Wallis for three or more.

    With two non-empty groups this is :func:`mann_whitney`
    (= R ``wilcox.test(x, y, exact = FALSE, correct = TRUE)``); with more it is
    :func:`kruskal_wallis` (= R ``kruskal.test(list(g1, g2, g3, ...))``).

    Parameters
    ----------
    *groups : sequence of float
        The samples, one per group; missing values are dropped and groups left empty are
        ignored.

    Returns
    -------
    GroupTestResult

    Raises
    ------
    ValueError
        When fewer than two groups have observations.
    """
    present = [g for g in (_clean(g) for g in groups) if len(g)]
    if len(present) < 2:
        raise ValueError("need at least two non-empty groups")
    if len(present) == 2:
        return mann_whitney(*present)
    return kruskal_wallis(*present)
