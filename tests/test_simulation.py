"""The power and bias simulation (benchmarks/bench_simulation.py), on a few replicates with a
fixed seed: with no true effect the naive day-0 comparison makes toxicity look protective
(immortal time) and the landmark and time-dependent estimates remove most of that bias."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from benchmarks import bench_simulation as sim

SEED = 4
REPLICATES = 24


@pytest.fixture(scope="module")
def null_estimates() -> dict[str, np.ndarray]:
    rows = [sim.estimates(sim.simulate_cohort((SEED, 0, r), 1.0)) for r in range(REPLICATES)]
    return {method: np.array([row[method] for row in rows]) for method in sim.METHODS}


def test_a_simulated_study_looks_like_the_demo():
    cohort = sim.simulate_cohort((SEED, 0, 0), 1.0)
    assert len(cohort) == 93 and cohort["id"].is_unique
    assert cohort["ever_exposed"].sum() == 77  # 76 CRS + 1 ICANS without CRS, by quota
    assert cohort["onset"].dropna().between(1, 19).all()
    early = cohort[cohort["time"] <= sim.LANDMARK_DAY]
    # the immortal time: the two early deaths, both among the never exposed
    assert len(early) == 2 and early["event"].all() and early["onset"].isna().all()


def test_naive_estimate_is_biased_towards_protection(null_estimates):
    naive = sim.summarise(null_estimates["naive"], 0.0)
    assert naive["failures"] == 0 and naive["replicates"] == REPLICATES
    assert naive["bias"] + 2 * naive["mc_se_bias"] < 0  # HR < 1 with no true effect


@pytest.mark.parametrize("method", ["landmark", "time_dependent"])
def test_landmark_and_time_dependent_are_much_less_biased(null_estimates, method):
    naive, corrected = null_estimates["naive"][:, 0], null_estimates[method][:, 0]
    # in every replicate the early deaths pull the naive estimate down, not the corrected one
    assert (corrected > naive).all()
    assert np.mean(corrected - naive) > 0.15
    summary = sim.summarise(null_estimates[method], 0.0)
    assert summary["failures"] == 0
    assert abs(summary["bias"]) < abs(np.mean(naive)) / 2


def test_summary_counts_failures_and_leaves_them_out():
    values = np.array([[0.1, 0.2, -0.3, 0.5, 0.04], [math.nan] * 5, [0.3, 0.2, 0.25, 0.7, 0.2]])
    summary = sim.summarise(values, 0.2)
    assert summary["replicates"] == 3 and summary["failures"] == 1
    assert summary["mean_log_hr"] == pytest.approx(0.2) and summary["bias"] == pytest.approx(0)
    assert summary["coverage"] == 0.5 and summary["power"] == 0.5


def test_schoenfeld_hr_has_the_stated_power():
    hr = sim.schoenfeld_hr(deaths=40, exposed_share=0.5, power=0.8)
    # 4 (z_.975 + z_.8)^2 / log(HR)^2 events give 80% power for a 1:1 split
    assert 4 * (1.959964 + 0.841621) ** 2 / math.log(hr) ** 2 == pytest.approx(40, rel=1e-5)


def test_results_json_keeps_the_other_keys(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"demo": {"seconds": 1}}), encoding="utf-8")
    assert (
        sim.main(["--replicates", "2", "--seed", "1", "--hr", "1.0", "--json", str(results)]) == 0
    )
    written = json.loads(results.read_text(encoding="utf-8"))
    assert written["demo"] == {"seconds": 1}
    [scenario] = written["simulation"]["scenarios"]
    assert scenario["true_hr"] == 1.0 and scenario["estimand_log_hr"] == 0.0
    assert set(scenario["methods"]) == set(sim.METHODS)
    assert "| 1 | +0.000 | naive |" in capsys.readouterr().out
