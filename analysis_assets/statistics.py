"""Statistical core of the CAR-T outcome study, pinned to R (see clinical-rules.md).

One import point for the analysis code; the implementation lives in short
modules (no Dagster imports anywhere):

* :mod:`analysis_assets.survival` — Kaplan–Meier (Greenwood, log-log CI),
  survival at landmarks, median + CI by R's rules, log-rank, median follow-up
  by reverse KM.
* :mod:`analysis_assets.cox` — Cox (Efron), HR + Wald CI, multi-df Wald test,
  "not estimable" results, proportional-hazards test.
* :mod:`analysis_assets.rank_tests` — Mann–Whitney U, Kruskal–Wallis, the two-group /
  k-group chooser.
* :mod:`analysis_assets.categorical` — chi-squared, Fisher 2x2 and exact
  r x c (Monte Carlo fallback), the chi-squared/Fisher chooser.
* :mod:`analysis_assets.formatting` — half-up rounding of percentages (and the study's
  printing of p-values, numbers and labels).

The settings (chi-squared/Fisher rule, enumeration limit, Monte Carlo resamples and seed,
confidence level, CI type, ties, PH transform) are :data:`analysis_assets.study.METHODS`,
read at call time; the report's Methods print the same values.

Agreement with R is tested in ``tests/test_statistics.py`` against
``tests/reference/r_reference.json`` (made by ``tests/reference/make_reference.R``), within
the tolerances of :data:`analysis_assets.study.R_PARITY` (the R call each statistic equals).
"""

from analysis_assets.categorical import (
    CategoricalResult,
    ChisqResult,
    FisherResult,
    chisq_test,
    compare_categorical,
    fisher_test,
)
from analysis_assets.cox import CoxResult, CoxTerm, PHTest, WaldTest, cox_fit, ph_test
from analysis_assets.formatting import percent, round_half_up
from analysis_assets.rank_tests import (
    GroupTestResult,
    compare_continuous,
    kruskal_wallis,
    mann_whitney,
)
from analysis_assets.survival import (
    LogrankResult,
    MedianEstimate,
    km_median,
    km_survival_at,
    km_table,
    logrank_test,
    median_followup,
    r_quantile,
)

__all__ = [
    "CoxResult",
    "CoxTerm",
    "PHTest",
    "WaldTest",
    "cox_fit",
    "ph_test",
    "percent",
    "round_half_up",
    "LogrankResult",
    "MedianEstimate",
    "km_median",
    "km_survival_at",
    "km_table",
    "logrank_test",
    "median_followup",
    "r_quantile",
    "CategoricalResult",
    "ChisqResult",
    "FisherResult",
    "chisq_test",
    "compare_categorical",
    "fisher_test",
    "GroupTestResult",
    "compare_continuous",
    "kruskal_wallis",
    "mann_whitney",
]
