"""The Methods section, generated from the study's settings (:data:`study.METHODS`), the
installed software and the R parity registry (:data:`study.R_PARITY`) the tests enforce."""

from __future__ import annotations

import platform
from importlib import metadata

from analysis_assets import study
from analysis_assets.formatting import format_number, format_power_of_ten
from analysis_assets.report.common import ReportInputs, escape
from analysis_assets.study import StatisticalMethods

__all__ = [
    "SOFTWARE",
    "methods_sentences",
    "software_versions",
    "software_sentence",
    "parity_rows",
    "robustness_parity_rows",
    "methods_section",
]

#: the packages the Methods name, in the order they are printed (distribution names)
SOFTWARE: tuple[str, ...] = (
    "duckdb",
    "dbt-core",
    "dbt-duckdb",
    "lifelines",
    "scipy",
    "pandas",
    "numpy",
    "matplotlib",
)
#: a PH-test transform -> the time scale it means
PH_TRANSFORMS = {"km": "1 − KM(t−), the left-continuous Kaplan–Meier transform of time"}


def _descriptive(m: StatisticalMethods) -> str:
    return (
        "Continuous characteristics are summarised as median (range) and compared by the "
        "Mann–Whitney U test for two groups (normal approximation with tie correction"
        + (" and continuity correction" if m.mann_whitney_continuity else "")
        + ") or the Kruskal–Wallis test for three or more groups."
    )


def _categorical(m: StatisticalMethods) -> str:
    return (
        "Categorical characteristics are summarised as n (%) over the patients with a known "
        "value and compared by Pearson's chi-squared test without continuity correction, or by "
        f"Fisher's exact test when any expected cell count is below "
        f"{format_number(m.fisher_min_expected)}."
    )


def _fisher_rxc(m: StatisticalMethods) -> str:
    return (
        "For tables larger than 2 × 2 the Fisher–Freeman–Halton p-value is computed exactly by "
        f"enumerating every table with the observed margins when there are at most "
        f"{m.fisher_max_tables:,} of them, and otherwise estimated from "
        f"{m.fisher_resamples:,} Monte Carlo tables drawn with seed {m.fisher_seed} (the test "
        "column of the tables names the method and the Monte Carlo standard error)."
    )


def _survival(m: StatisticalMethods) -> str:
    return (
        f"Overall survival (OS) and leukaemia-free survival (LFS) are estimated by the "
        f"Kaplan–Meier method with {m.km_variance} variance and {m.km_conf_type} "
        f"{m.confidence_percent}% confidence intervals; medians and their CIs follow R's "
        "quantile rules (a median on an exact 50% plateau is the plateau's midpoint; NR: not "
        f"reached). Median follow-up is estimated by the {m.follow_up_method} method (death "
        "censors, censoring is the event). Survival is compared between groups by the log-rank "
        "test."
    )


def _cox(m: StatisticalMethods) -> str:
    transform = PH_TRANSFORMS.get(m.ph_transform, m.ph_transform)
    return (
        f"Hazard ratios with {m.confidence_percent}% Wald CIs come from Cox proportional-hazards "
        f"models with {m.cox_ties.capitalize()}'s method for ties, fitted on complete cases; a "
        "categorical covariate with more than two levels is also tested as a whole by a "
        "multi-degree-of-freedom Wald test. Proportional hazards are checked by the "
        f"{m.ph_test} with the transform {transform}."
    )


def _robustness(m: StatisticalMethods) -> str:
    exposures = ", ".join(e.description for e in study.ROBUSTNESS_EXPOSURES.values())
    days = " and ".join(str(d) for d in study.LANDMARK_SENSITIVITY_DAYS)
    return (
        "Toxicity and its treatment start after day 0, so each exposure "
        f"({exposures}) is also compared without immortal time: by landmark analysis at day "
        f"{study.LANDMARK_DAY} (days {days} as sensitivity analyses) among the patients alive "
        "and followed beyond the landmark, with the exposure as known at the landmark "
        "(Kaplan–Meier, log-rank and Cox from the landmark), and by a time-dependent Cox model "
        f"({m.cox_ties.capitalize()} ties) on counting-process data in which the exposure "
        "switches on at its onset day (an onset on the day of the event counts as exposed; for "
        "LFS, timed from the CR date, an exposure begun on or before it is exposed from the "
        "start); both are shown beside the naive estimate from day 0. Relapse and non-relapse "
        "mortality of the patients in CR are analysed as competing risks: cumulative incidence "
        "(Aalen–Johansen, with cmprsk's variance), Gray's test and the Fine–Gray "
        "subdistribution hazards model. Sensitivity analyses censor OS and LFS at allogeneic "
        "HSCT."
    )


def _conventions(m: StatisticalMethods) -> str:
    return (
        f"All tests are two-sided with α = {m.significance_level:g}. Percentages are rounded "
        "half-up to one decimal over the patients with a known value, with the denominator "
        "stated; p-values are rounded half-up to three decimals (below 0.001: p < 0.001)."
    )


def methods_sentences(methods: StatisticalMethods | None = None) -> list[str]:
    """The statistical methods in words, one paragraph each.

    Parameters
    ----------
    methods : StatisticalMethods, optional
        Default: ``study.METHODS`` as it is at call time (the settings the analyses read).

    Returns
    -------
    list of str
    """
    m = study.METHODS if methods is None else methods
    return [
        _descriptive(m) + " " + _categorical(m) + " " + _fisher_rxc(m),
        _survival(m),
        _cox(m),
        _robustness(m),
        _conventions(m),
    ]


def software_versions() -> dict[str, str]:
    """Python and the :data:`SOFTWARE` packages -> installed version (``not installed``)."""
    versions = {"Python": platform.python_version()}
    for name in SOFTWARE:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def software_sentence(versions: dict[str, str] | None = None) -> str:
    """``Analyses ran in Python 3.11.2 with duckdb 2.0.1, ...``."""
    versions = software_versions() if versions is None else versions
    python, *packages = versions.items()
    listed = ", ".join(f"{name} {version}" for name, version in packages)
    return (
        f"The analyses ran in {python[0]} {python[1]} with {listed}; the statistics are plain "
        "functions on lifelines and scipy, pinned to R as listed below."
    )


def _tolerance(parity: study.RParity) -> str:
    if parity.scale == "Monte Carlo SE":
        return f"within {format_number(parity.tolerance)} Monte Carlo SE of R's exact p"
    return f"{format_power_of_ten(parity.tolerance)} ({parity.scale})"


def parity_rows() -> list[tuple[str, str, str]]:
    """(statistic, R call, tolerance as printed) for every entry of ``study.R_PARITY``."""
    return [(p.statistic, p.r_call, _tolerance(p)) for p in study.R_PARITY.values()]


def robustness_parity_rows() -> list[tuple[str, str, str]]:
    """(statistic, R call, tolerance as printed) for every entry of
    ``study.ROBUSTNESS_R_PARITY`` (competing risks, time-dependent Cox; R's cmprsk and
    survival)."""
    return [(p.statistic, p.r_call, _tolerance(p)) for p in study.ROBUSTNESS_R_PARITY.values()]


def _parity_table(rows_of=parity_rows, table_id: str = "r-parity") -> str:
    rows = "".join(
        f"<tr><td>{escape(s)}</td><td><code>{escape(call)}</code></td><td>{escape(tol)}</td></tr>"
        for s, call, tol in rows_of()
    )
    return (
        f'<table id="{table_id}"><thead><tr><th>Statistic</th><th>Equals in R</th>'
        f"<th>Largest difference the tests allow</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def methods_section(inputs: ReportInputs) -> list[str]:
    """Methods: the statistical methods, the software and versions, and R parity."""
    del inputs  # the methods do not depend on the data
    parts = ["<h2>Methods</h2>", "<h3>Statistical analysis</h3>"]
    parts += [f"<p>{escape(line)}</p>" for line in methods_sentences()]
    parts += ["<h3>Software</h3>", f"<p>{escape(software_sentence())}</p>"]
    parts += [
        "<h3>R parity</h3>",
        "<p>Each statistic equals an R function (R's survival, stats and cmprsk packages); the "
        "test suite compares them on R's own data sets and on the study data, and fails beyond "
        "the difference shown (the second table: the robustness analyses).</p>",
        _parity_table(),
        _parity_table(robustness_parity_rows, "r-parity-robustness"),
    ]
    return parts
