"""The Methods section is generated from the settings the analyses read (study.METHODS) and
from the R parity registry the statistical tests enforce (study.R_PARITY)."""

from __future__ import annotations

import dataclasses
import platform

import numpy as np
import pytest

from analysis_assets import study
from analysis_assets.categorical import compare_categorical, fisher_test
from analysis_assets.report import ReportInputs
from analysis_assets.report.methods import (
    SOFTWARE,
    methods_section,
    methods_sentences,
    parity_rows,
    software_sentence,
    software_versions,
)
from analysis_assets.survival import km_table
from tests import test_statistics

#: a 3 x 3 table whose smallest expected count is 1.5 (Fisher by the study's rule)
SMALL = [[3, 1, 2], [1, 4, 1], [2, 1, 5]]
#: a 4 x 4 table too large to enumerate with a small limit: Monte Carlo
LARGE = [[5, 2, 3, 1], [2, 6, 1, 3], [3, 1, 7, 2], [1, 3, 2, 8]]


def _replace(monkeypatch, **changes) -> study.StatisticalMethods:
    methods = dataclasses.replace(study.METHODS, **changes)
    monkeypatch.setattr(study, "METHODS", methods)
    return methods


def test_default_sentences_state_the_study_settings():
    text = " ".join(methods_sentences())
    m = study.METHODS
    assert f"any expected cell count is below {m.fisher_min_expected:g}" in text
    assert f"at most {m.fisher_max_tables:,} of them" in text
    assert f"{m.fisher_resamples:,} Monte Carlo tables drawn with seed {m.fisher_seed}" in text
    assert f"{m.km_variance} variance and {m.km_conf_type} {m.confidence_percent}%" in text
    assert f"{m.follow_up_method} method" in text
    assert "Efron's method for ties" in text and "1 − KM(t−)" in text
    assert f"two-sided with α = {m.significance_level:g}" in text


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({"fisher_seed": 7}, "drawn with seed 7"),
        ({"fisher_min_expected": 10.0}, "any expected cell count is below 10"),
        ({"fisher_resamples": 5_000}, "estimated from 5,000 Monte Carlo tables"),
        ({"fisher_max_tables": 1_000}, "at most 1,000 of them"),
        ({"confidence_percent": 90}, "log-log 90% confidence intervals"),
        ({"significance_level": 0.01}, "α = 0.01"),
        ({"mann_whitney_continuity": False}, "(normal approximation with tie correction)"),
    ],
)
def test_a_changed_setting_changes_the_sentence(monkeypatch, changes, said):
    before = " ".join(methods_sentences())
    assert said not in before
    _replace(monkeypatch, **changes)
    assert said in " ".join(methods_sentences())  # read at call time
    html = "".join(methods_section(ReportInputs({}, {}, None)))
    assert said.replace("'", "&#x27;") in html
    # an explicit settings object is printed as given
    assert said in " ".join(methods_sentences(dataclasses.replace(study.METHODS)))


def test_the_analyses_read_the_same_settings(monkeypatch):
    assert compare_categorical(SMALL).test == "fisher"
    _replace(monkeypatch, fisher_min_expected=1.0)
    assert compare_categorical(SMALL).test == "chi-squared"
    _replace(monkeypatch, fisher_min_expected=5.0, fisher_max_tables=100, fisher_seed=7)
    default = fisher_test(LARGE, n_resamples=2_000)
    assert default.method == "monte-carlo" and default.seed == 7
    assert default.p == fisher_test(LARGE, max_tables=100, n_resamples=2_000, seed=7).p


def test_confidence_level_is_exact_and_reaches_the_kaplan_meier(monkeypatch):
    assert study.METHODS.alpha == 0.05 and study.METHODS.confidence_level == 0.95
    times, events = [1, 2, 3, 4, 5, 6, 7, 8], [1, 0, 1, 1, 0, 1, 0, 1]
    wide = km_table(times, events)
    _replace(monkeypatch, confidence_percent=80)
    narrow = km_table(times, events)
    narrower = (narrow["ci_upper"] - narrow["ci_lower"]) < (wide["ci_upper"] - wide["ci_lower"])
    assert narrower[narrow["ci_upper"].notna()].all()
    assert np.allclose(narrow["survival"], wide["survival"])


@pytest.mark.parametrize(
    "changes", [{"km_conf_type": "log"}, {"km_variance": "Aalen"}, {"cox_ties": "breslow"}]
)
def test_settings_the_implementation_cannot_compute_are_refused(monkeypatch, changes):
    import pandas as pd

    from analysis_assets.cox import cox_fit

    _replace(monkeypatch, **changes)
    frame = pd.DataFrame(
        {"t": [1.0, 2, 3, 4, 5, 6], "e": [1, 0, 1, 1, 0, 1], "x": [1, 2, 3, 1, 2, 0]}
    )
    with pytest.raises(NotImplementedError):
        if "cox_ties" in changes:
            cox_fit(frame, "t", "e", ["x"])
        else:
            km_table(frame["t"], frame["e"])


def test_the_printed_tolerances_are_those_the_statistical_tests_enforce():
    enforced = {
        "kaplan_meier": test_statistics.KM_TOL,
        "km_median": test_statistics.MEDIAN_TOL,
        "follow_up": test_statistics.FOLLOW_UP_TOL,
        "logrank": test_statistics.LOGRANK_TOL,
        "chi_squared": test_statistics.CHISQ_TOL,
        "fisher": test_statistics.FISHER_TOL,
        "fisher_odds_ratio": test_statistics.OR_TOL,
        "fisher_monte_carlo": test_statistics.MC_SE_BOUND,
        "mann_whitney": test_statistics.MWU_TOL,
        "kruskal_wallis": test_statistics.KW_TOL,
        "cox_coefficients": test_statistics.COX_COEF_TOL,
        "cox_hazard_ratio": test_statistics.COX_HR_TOL,
        "cox_wald": test_statistics.WALD_TOL,
        "ph_test": test_statistics.PH_TOL,
    }
    assert set(enforced) == set(study.R_PARITY)
    for key, tolerance in enforced.items():
        assert study.R_PARITY[key].tolerance == tolerance, key


def test_parity_table_prints_each_r_call_and_follows_the_registry(monkeypatch):
    rows = parity_rows()
    assert [r[1] for r in rows] == [p.r_call for p in study.R_PARITY.values()]
    assert dict((r[1], r[2]) for r in rows)[study.R_PARITY["logrank"].r_call] == "10⁻¹⁰ (absolute)"
    calls = " ".join(r[1] for r in rows)
    for call in (
        "chisq.test(table, correct = FALSE)",
        "fisher.test",
        "wilcox.test(x, y, exact = FALSE, correct = TRUE)",
        "kruskal.test",
        'conf.type = "log-log"',
        "survdiff",
        'ties = "efron"',
        "cox.zph",
    ):
        assert call in calls, call
    looser = dataclasses.replace(study.R_PARITY["logrank"], tolerance=1e-6)
    monkeypatch.setitem(study.R_PARITY, "logrank", looser)
    assert dict((r[1], r[2]) for r in parity_rows())[looser.r_call] == "10⁻⁶ (absolute)"


def test_software_versions_are_the_installed_ones():
    versions = software_versions()
    assert versions["Python"] == platform.python_version()
    assert list(versions)[1:] == list(SOFTWARE)
    sentence = software_sentence(versions)
    for name, version in versions.items():
        assert f"{name} {version}" in sentence
    assert "not installed" not in sentence
