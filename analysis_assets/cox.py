"""Cox proportional hazards (Efron ties), pinned to R ``coxph``.

* Fitted by :func:`analysis_assets.efron.efron_cox`, R's Newton iteration with the risk sets
  as cumulative sums (lifelines' ``CoxPHFitter`` loops in Python over the event times: 2 s a
  fit at 100,000 patients, R's ``coxph`` 0.5 s); coefficients equal R's to < 1e-8.
* Hazard ratios with 95% Wald CIs and Wald p per coefficient (= ``summary(coxph)``).
* Multi-df Wald test of a categorical term as a whole: W = b' V^-1 b over the
  term's dummy coefficients, chi-square with k df (R: ``t(b) %*% solve(V) %*% b``
  on ``coef(fit)[idx]`` and ``vcov(fit)[idx, idx]``).
* A model that cannot be estimated (no events, a covariate or a category
  without events / complete separation, a constant or collinear design,
  non-convergence) gives ``estimable=False`` and a reason, never numbers.
* Proportional-hazards check: :func:`ph_test` — see its docstring for exactly
  which statistic it is (the pre-3.0 ``cox.zph``, *not* survival 3.x's).

Ties, the CI level and the PH test's transform are read from
:data:`analysis_assets.study.METHODS` at call time; settings not implemented (other ties,
other transforms) are refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import KaplanMeierFitter
from scipy import stats

from analysis_assets import study
from analysis_assets.efron import EfronFit, efron_cox

__all__ = [
    "CoxTerm",
    "WaldTest",
    "CoxResult",
    "PHTest",
    "cox_fit",
    "ph_test",
    "terms_from_fit",
    "fit_problem",
]


#: |coefficient| beyond which a fit is treated as diverging (monotone likelihood).
_DIVERGENT_COEF = 15.0


@dataclass(frozen=True)
class CoxTerm:
    """One coefficient: log-HR, SE, HR with 95% Wald CI, Wald p."""

    term: str
    coef: float
    se: float
    hr: float
    hr_lower: float
    hr_upper: float
    p: float


@dataclass(frozen=True)
class WaldTest:
    """Joint Wald test W = b' V^-1 b of a term's k coefficients, chi-square(k)."""

    term: str
    coefficients: tuple[str, ...]
    stat: float
    df: int
    p: float


@dataclass
class CoxResult:
    """Result of :func:`cox_fit`; when ``estimable`` is False, only ``reason``, n and events
    are set."""

    estimable: bool
    n: int
    events: int
    reason: str | None = None
    terms: list[CoxTerm] = field(default_factory=list)
    wald: dict[str, WaldTest] = field(default_factory=dict)
    loglik: float | None = None
    #: the estimates (coefficients in the order of ``terms``, their variance)
    fit: EfronFit | None = field(default=None, repr=False)
    #: the model's complete cases: duration, event (first two columns), then the design
    data: pd.DataFrame | None = field(default=None, repr=False)

    def table(self) -> pd.DataFrame:
        """Coefficients as a DataFrame (empty when not estimable)."""
        return pd.DataFrame([t.__dict__ for t in self.terms])


def _design(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    categorical: Mapping[str, object],
) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Complete cases + treatment-coded dummies named ``col[level]`` (reference dropped)."""
    cols = [duration_col, event_col, *covariates]
    data = df[cols].dropna().copy()
    groups: dict[str, list[str]] = {}
    out = data[[duration_col, event_col]].astype(float)
    for c in covariates:
        if c in categorical:
            ref = categorical[c]
            levels = sorted(pd.unique(data[c]), key=lambda v: (v != ref, str(v)))
            if ref not in levels:
                raise ValueError(f"reference level {ref!r} of {c!r} not present in complete cases")
            names = []
            for lev in levels[1:]:
                name = f"{c}[{lev}]"
                out[name] = (data[c] == lev).astype(float)
                names.append(name)
            groups[c] = names
        else:
            out[c] = data[c].astype(float)
            groups[c] = [c]
    return out, groups


def _not_estimable_reason(X: pd.DataFrame, e: np.ndarray) -> str | None:
    if e.sum() == 0:
        return "no events"
    if X.shape[1] == 0:
        return "no covariates"
    for c in X.columns:
        x = X[c].to_numpy()
        if np.ptp(x) == 0:
            return f"covariate {c} is constant"
        if set(np.unique(x)) <= {0.0, 1.0}:
            if e[x == 1].sum() == 0 or e[x == 0].sum() == 0:
                return f"no events in one level of {c} (separation: hazard ratio infinite or zero)"
    centred = X.to_numpy() - X.to_numpy().mean(axis=0)
    if np.linalg.matrix_rank(centred) < X.shape[1]:
        return "design matrix is singular (collinear covariates)"
    return None


def terms_from_fit(names: Sequence[str], fit: EfronFit, alpha: float) -> list[CoxTerm]:
    """The :class:`CoxTerm` of each coefficient: HR with its (1 - alpha) Wald CI and the Wald
    p, as ``summary(coxph)``."""
    se = np.sqrt(np.diag(fit.variance))
    z = stats.norm.ppf(1 - alpha / 2)
    return [
        CoxTerm(
            term=str(name),
            coef=float(b),
            se=float(e),
            hr=float(np.exp(b)),
            hr_lower=float(np.exp(b - z * e)),
            hr_upper=float(np.exp(b + z * e)),
            p=float(2 * stats.norm.sf(abs(b / e))),
        )
        for name, b, e in zip(names, fit.coef, se, strict=True)
    ]


def fit_problem(fit: EfronFit, X: np.ndarray) -> str | None:
    """Why a fit gives no numbers: a diverging coefficient (monotone likelihood) or no
    convergence; None when it is fine."""
    if np.any(np.abs(fit.coef * np.std(X, axis=0)) > _DIVERGENT_COEF):
        return "monotone likelihood / complete separation (coefficient diverging)"
    if not fit.converged or not np.all(np.isfinite(fit.variance)):
        return f"did not converge in {fit.iterations} Newton steps"
    return None


def cox_fit(
    df: pd.DataFrame,
    duration_col: str,
    event_col: str,
    covariates: Sequence[str],
    categorical: Mapping[str, object] | None = None,
    alpha: float | None = None,
) -> CoxResult:
    """Fit a Cox model with Efron ties (= R ``coxph(..., ties = "efron")``).

    Parameters
    ----------
    df : pandas.DataFrame
        Analysis data; complete cases over the used columns are kept.
    duration_col, event_col : str
        Time and 0/1 event columns.
    covariates : sequence of str
        Model terms, in order.  Numeric columns enter linearly.
    categorical : mapping, optional
        ``{column: reference_level}`` for categorical terms; each gets k dummy
        coefficients ``column[level]`` and a joint k-df Wald test in ``wald``.
    alpha : float, optional
        For the (1 - alpha) Wald CI of the hazard ratios; default ``METHODS.alpha`` (0.05).

    Returns
    -------
    CoxResult
        ``estimable=False`` with a ``reason`` when the model cannot be estimated.
    """
    if study.METHODS.cox_ties != "efron":
        raise NotImplementedError(f"only Efron ties are implemented, not {study.METHODS.cox_ties}")
    alpha = study.METHODS.alpha if alpha is None else alpha
    categorical = dict(categorical or {})
    try:
        data, groups = _design(df, duration_col, event_col, covariates, categorical)
    except ValueError as exc:  # e.g. the reference level has no complete case
        complete = df[[duration_col, event_col, *covariates]].dropna()
        return CoxResult(
            estimable=False, n=len(complete), events=int(complete[event_col].sum()), reason=str(exc)
        )
    n, events = len(data), int(data[event_col].sum())
    X = data.drop(columns=[duration_col, event_col])
    reason = _not_estimable_reason(X, data[event_col].to_numpy())
    if reason:
        return CoxResult(estimable=False, n=n, events=events, reason=reason)

    design = X.to_numpy(dtype=float)
    fit = efron_cox(
        np.full(n, -np.inf), data[duration_col].to_numpy(), data[event_col].to_numpy(), design
    )
    reason = fit_problem(fit, design)
    if reason:
        return CoxResult(estimable=False, n=n, events=events, reason=reason)
    b, V = fit.coef, fit.variance
    names_all = list(X.columns)
    terms = terms_from_fit(names_all, fit, alpha)
    wald = {}
    for c in categorical:
        names = groups[c]
        idx = [names_all.index(nm) for nm in names]
        bb = b[idx]
        VV = V[np.ix_(idx, idx)]
        stat = float(bb @ np.linalg.solve(VV, bb))
        wald[c] = WaldTest(
            term=c,
            coefficients=tuple(names),
            stat=stat,
            df=len(idx),
            p=float(stats.chi2.sf(stat, len(idx))),
        )
    return CoxResult(
        estimable=True,
        n=n,
        events=events,
        terms=terms,
        wald=wald,
        loglik=fit.loglik,
        fit=fit,
        data=data,
    )


@dataclass(frozen=True)
class PHTest:
    """Proportional-hazards test per coefficient plus global test."""

    method: str
    terms: tuple[str, ...]
    chisq: tuple[float, ...]
    p: tuple[float, ...]
    global_chisq: float
    global_df: int
    global_p: float


def _left_km_transform(durations: pd.Series, events: pd.Series, weights: pd.Series) -> pd.Series:
    """1 - KM(t-) per subject: R's pre-3.0 ``cox.zph`` "km" transform (left-continuous).

    lifelines' own "km" transform uses KM(t) (right-continuous); R used the KM
    just before each death, which is what this reproduces.
    """
    t = np.asarray(durations, dtype=float)
    sf = (
        KaplanMeierFitter()
        .fit(t, np.asarray(events), weights=np.asarray(weights))
        .survival_function_.iloc[:, 0]
    )
    times = sf.index.to_numpy()
    vals = sf.to_numpy()
    pos = np.searchsorted(times, t, side="left") - 1  # last curve time strictly before t
    left = np.where(pos >= 0, vals[np.clip(pos, 0, None)], 1.0)
    return pd.Series(1.0 - left, index=getattr(durations, "index", None))


def schoenfeld_residuals(
    durations: np.ndarray, events: np.ndarray, X: np.ndarray, beta: np.ndarray
) -> np.ndarray:
    """Unscaled Schoenfeld residuals of a Cox model with Efron ties, one row per event, in the
    order of the event rows of ``X`` (= R ``residuals(fit, "schoenfeld")``, unit weights).

    The residual of a death is its covariates minus their risk-weighted mean at its time; for
    ``m`` tied deaths the mean is Efron's: the average over k = 0..m-1 of the means with the
    tied deaths' weight reduced by k/m. Computed set-wise (cumulative sums over the risk sets).

    Parameters
    ----------
    durations, events : ndarray of shape (n,)
    X : ndarray of shape (n, p)
    beta : ndarray of shape (p,)

    Returns
    -------
    ndarray of shape (events, p)
    """
    X = np.asarray(X, dtype=float)
    X = X - X.mean(axis=0)  # the residuals do not change; exp() stays in range
    dead = np.asarray(events).astype(bool)
    order = np.argsort(np.asarray(durations, dtype=float), kind="stable")
    t, x, d = np.asarray(durations, dtype=float)[order], X[order], dead[order]
    risk = np.exp(x @ np.asarray(beta, dtype=float))
    # the risk set of a time: every subject with a time at least as long (from its tie's start)
    _, start, block = np.unique(t, return_index=True, return_inverse=True)
    s0 = np.cumsum(risk[::-1])[::-1][start]
    s1 = np.cumsum((risk[:, None] * x)[::-1], axis=0)[::-1][start]
    blocks = len(start)
    tied = np.bincount(block, weights=d, minlength=blocks)
    s0_dead = np.bincount(block, weights=d * risk, minlength=blocks)
    s1_dead = np.stack(
        [
            np.bincount(block, weights=d * risk * x[:, j], minlength=blocks)
            for j in range(x.shape[1])
        ],
        axis=1,
    )
    # per death: its rank k among the tied deaths of its time, then Efron's mean at step k
    deaths = np.flatnonzero(d)
    b = block[deaths]
    first = np.searchsorted(b, b, side="left")
    frac = (np.arange(len(deaths)) - first) / tied[b]
    means = (s1[b] - frac[:, None] * s1_dead[b]) / (s0[b] - frac * s0_dead[b])[:, None]
    efron = (
        np.stack(
            [np.bincount(b, weights=means[:, j], minlength=blocks) for j in range(x.shape[1])],
            axis=1,
        )
        / np.maximum(tied, 1)[:, None]
    )
    # back to the order of the event rows of X
    residuals = (x[deaths] - efron[b])[np.argsort(order[deaths], kind="stable")]
    return residuals


def ph_test(result: CoxResult) -> PHTest:
    """Schoenfeld-residual test of proportional hazards, g(t) = 1 - KM(t-).

    This is the test of survival < 3.0 ``cox.zph(fit, transform = "km")``
    (Grambsch & Therneau's approximation using the average information
    ``V / d``), from the unscaled Schoenfeld residuals (:func:`schoenfeld_residuals`) and
    the left-continuous KM transform of old R, with the old R code's formulas: per term
    (g'S V)_j^2 d / (V_jj sum(g - gbar)^2), global (g'S) V (S'g) d / sum(g - gbar)^2.
    survival 3.x ``cox.zph`` is a different (exact score) test and gives different values;
    it is *not* implemented.

    Parameters
    ----------
    result : CoxResult
        An estimable result of :func:`cox_fit`.

    Returns
    -------
    PHTest
    """
    if not result.estimable or result.fit is None or result.data is None:
        raise ValueError("PH test needs an estimable Cox model")
    if study.METHODS.ph_transform != "km":
        raise NotImplementedError(
            f"the PH test's transform is 'km' only, not {study.METHODS.ph_transform!r}"
        )
    names = list(result.data.columns[2:])
    terms = tuple(names)
    durations = result.data.iloc[:, 0]
    dead = result.data.iloc[:, 1]
    E = dead.to_numpy().astype(bool)
    S = schoenfeld_residuals(
        durations.to_numpy(), E, result.data[names].to_numpy(), result.fit.coef
    )
    g = _left_km_transform(durations, dead, pd.Series(1.0, index=dead.index)).to_numpy()[E]
    xx = g - g.mean()
    d = E.sum()
    V = result.fit.variance
    # old cox.zph: r2 = sresid %*% var * ndead; test = xx %*% r2;
    # z = test^2 / (diag(var) * ndead * sum(xx^2)); global: (xx S) V (S' xx) ndead / sum(xx^2)
    test = xx @ (S @ V * d)
    z = test**2 / (np.diag(V) * d * np.sum(xx**2))
    chisq = tuple(float(v) for v in z)
    p = tuple(float(v) for v in stats.chi2.sf(z, 1))
    u = xx @ S
    gz = float(u @ V @ u * d / np.sum(xx**2))
    k = len(terms)
    return PHTest(
        method="Grambsch-Therneau scaled Schoenfeld test as in survival<3.0 "
        "cox.zph(transform='km')",
        terms=terms,
        chisq=chisq,
        p=p,
        global_chisq=gz,
        global_df=k,
        global_p=float(stats.chi2.sf(gz, k)),
    )
