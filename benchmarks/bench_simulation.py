"""Power and bias of the naive, landmark and time-dependent Cox estimates of the toxicity hazard
ratio, by simulating demo-sized studies with the demo generator's cohort model.

    .venv/bin/python -m benchmarks.bench_simulation [--replicates 200] [--seed N] [--hr 1.0 ...]

Each replicate is one study of 93 patients in 4 centres drawn in memory by the generator
(:func:`cartwh.demo.cohort.sample_patients`, its quotas and infusion dates, and the daily grades
of :func:`cartwh.demo.clinical.toxicity`); no file, no warehouse. Overall survival is the
generator's: death if it falls before the cut-off and before loss to follow-up, else censored at
the last contact (loss to follow-up, or cut-off minus the contact lag). Exposure: any CRS or
ICANS, from its first day (the onset, days 1-19).

**The true estimand.** The generator multiplies by ``toxicity_hr`` the hazards of relapse and
death of every patient with any CRS or ICANS, by drawing those event times from S0(t)^hr. It does
so from day 0, but every such event process starts after day 30 (deaths from day 31, relapses
from day 35), after every onset; so it is the same as multiplying the hazard from the onset on.
The only deaths before day 31 are the early deaths (days 1-4), drawn among patients who never
get CRS or ICANS: they are the immortal time that the naive comparison credits to the
unexposed. The estimand is therefore log(toxicity_hr): the log hazard ratio of death for
exposed vs unexposed patients among those alive after the onsets (what the landmark at day 30
and the time-dependent model target). For OS it holds exactly for deaths without relapse and
approximately for deaths after a relapse (relapse time plus time to death, each with the ratio,
is not exactly proportional): the ``pooled`` column, one Cox fit on all replicates stacked,
shows the large-sample value of each method at the study's censoring.

Methods, with the project's estimators (R-parity tested): **naive**, Cox from day 0 on "ever
exposed" (:func:`analysis_assets.cox.cox_fit`, as the study did); **landmark**, Cox from day 30
among patients followed beyond it, exposure as known then
(:func:`analysis_assets.time_dependent.landmark_cohort`); **time-dependent**, Cox with the
exposure switching on at the onset
(:func:`analysis_assets.time_dependent.time_dependent_cox` on
:func:`~analysis_assets.time_dependent.counting_process`). A fit that does not converge or
cannot be estimated is a failure, counted and left out of the summaries.

Scenarios: true HR 1.0 (bias and type I error), 2.0 (a doubling of the hazard), and the HR the
design detects with 80% power by Schoenfeld's formula, ``exp((z_{1-a/2} + z_{0.8}) /
sqrt(D p (1 - p)))`` with D the deaths and p the exposed share of the landmark cohort, both
from the HR-1.0 replicates: the size of effect the study could have missed.

Writes the key ``simulation`` of ``benchmarks/results.json`` (the other keys are kept) and
prints a table.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from datetime import UTC, date, datetime
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from analysis_assets import study
from analysis_assets.cox import cox_fit
from analysis_assets.time_dependent import counting_process, landmark_cohort, time_dependent_cox
from cartwh.demo.centres import make_centres
from cartwh.demo.clinical import DAYS, toxicity
from cartwh.demo.cohort import infusion_days, sample_patients
from cartwh.demo.config import STUDY_PATIENTS, epoch_day
from cartwh.demo.quotas import unit_quotas

__all__ = [
    "METHODS",
    "simulate_cohort",
    "estimates",
    "run_scenario",
    "summarise",
    "schoenfeld_hr",
    "simulation",
    "table",
]

RESULTS = Path(__file__).resolve().parent / "results.json"
CENTRES = 4
CUTOFF = date(2023, 3, 1)
LANDMARK_DAY = 30
#: power the "could have missed" scenario is sized for
TARGET_POWER = 0.8
METHODS = ("naive", "landmark", "time_dependent")


def simulate_cohort(
    seed: tuple[int, ...], toxicity_hr: float, patients: int = STUDY_PATIENTS
) -> pd.DataFrame:
    """One demo-sized study drawn by the generator's cohort model, in memory.

    Parameters
    ----------
    seed : tuple of int
        Seeds one generator per centre (the centre's index is appended).
    toxicity_hr : float
        The generator's ``--toxicity-hr``.
    patients : int, default 93

    Returns
    -------
    DataFrame
        One row per patient: ``id``, ``time`` (days from infusion to death or last contact),
        ``event`` (0/1 death), ``onset`` (first day of any CRS or ICANS; NaN: never),
        ``ever_exposed`` (0/1).
    """
    cutoff_day = epoch_day(CUTOFF)
    centres = make_centres(patients, CENTRES)
    # one chunk per centre (the generator's chunks hold 2,000 patients); the Lee centre has no
    # "no observation" patients, as in the generator
    quotas = unit_quotas(
        [c.patients for c in centres],
        [0.0 if c.grading_system == "lee2014" else 1.0 for c in centres],
        patients,
        0,
    )
    parts = []
    for centre in centres:
        rng = np.random.default_rng([*seed, centre.index])
        day0 = infusion_days(rng, centre.patients, cutoff_day)
        latent = sample_patients(
            rng,
            centre,
            0,
            day0,
            quotas[centre.index],
            toxicity_hr=toxicity_hr,
            cutoff_day=cutoff_day,
            id_width=4,
        )
        toxicity(rng, latent)
        toxic_days = (latent.crs >= 1) | (latent.icans >= 1)
        onset = np.where(toxic_days.any(axis=1), DAYS[np.argmax(toxic_days, axis=1)], np.nan)
        potential = (cutoff_day - latent.day0).astype(float)
        last_contact = np.clip(
            np.minimum(latent.ltfu_day, potential - latent.last_contact_lag), 0, potential
        )
        dead = (
            np.isfinite(latent.death_day)
            & (latent.death_day <= potential)
            & (latent.death_day <= latent.ltfu_day)
        )
        parts.append(
            pd.DataFrame(
                {
                    "time": np.where(dead, latent.death_day, last_contact),
                    "event": dead.astype(int),
                    "onset": onset,
                }
            )
        )
    cohort = pd.concat(parts, ignore_index=True)
    cohort.insert(0, "id", np.arange(len(cohort)))
    cohort["ever_exposed"] = cohort["onset"].notna().astype(int)
    return cohort[cohort["time"] > 0].reset_index(drop=True)


def _term(result) -> tuple[float, float, float, float, float]:
    """(log HR, SE, lower, upper log CI limit, p) of the fit's one term; NaNs when it failed."""
    if not result.estimable:
        return (math.nan,) * 5
    term = result.terms[0]
    return term.coef, term.se, math.log(term.hr_lower), math.log(term.hr_upper), term.p


def estimates(cohort: pd.DataFrame, landmark: float = LANDMARK_DAY) -> dict[str, tuple]:
    """The three estimates of one study.

    Parameters
    ----------
    cohort : DataFrame
        As :func:`simulate_cohort` returns it.
    landmark : float, default 30

    Returns
    -------
    dict of method -> (log HR, SE, lower, upper log CI limit, p)
        NaNs for a fit that failed.
    """
    at_landmark = landmark_cohort(cohort, landmark)
    return {
        "naive": _term(cox_fit(cohort, "time", "event", ["ever_exposed"])),
        "landmark": _term(cox_fit(at_landmark, "time", "event", ["exposed"])),
        "time_dependent": _term(time_dependent_cox(counting_process(cohort))),
    }


def summarise(values: np.ndarray, true_log_hr: float) -> dict:
    """Bias, empirical SE, coverage and power of one method over the replicates.

    Parameters
    ----------
    values : ndarray, shape (replicates, 5)
        Rows of :func:`estimates` (log HR, SE, lower, upper, p); NaN rows are failures.
    true_log_hr : float

    Returns
    -------
    dict
        ``mean_log_hr``, ``bias``, ``empirical_se`` (SD of the estimates), ``mean_model_se``,
        ``coverage`` (95% CI holds the true log HR), ``power`` (p below the study's α),
        ``mc_se_bias`` (Monte Carlo SE of the bias), ``replicates`` and ``failures``.
    """
    failed = np.isnan(values).any(axis=1)
    ok = values[~failed]
    log_hr, se, lower, upper, p = ok.T
    n = len(ok)
    empirical_se = float(np.std(log_hr, ddof=1)) if n > 1 else math.nan
    return {
        "mean_log_hr": float(np.mean(log_hr)) if n else math.nan,
        "bias": float(np.mean(log_hr) - true_log_hr) if n else math.nan,
        "mc_se_bias": empirical_se / math.sqrt(n) if n > 1 else math.nan,
        "empirical_se": empirical_se,
        "mean_model_se": float(np.mean(se)) if n else math.nan,
        "coverage": float(np.mean((lower <= true_log_hr) & (true_log_hr <= upper))) if n else None,
        "power": float(np.mean(p < study.METHODS.significance_level)) if n else None,
        "replicates": int(len(values)),
        "failures": int(failed.sum()),
    }


def _pooled(cohorts: list[pd.DataFrame], landmark: float) -> dict[str, float]:
    """Each method's log HR fitted on every replicate stacked: its large-sample value."""
    stacked = pd.concat(
        [c.assign(id=c["id"] + i * 10_000) for i, c in enumerate(cohorts)], ignore_index=True
    )
    return {method: values[0] for method, values in estimates(stacked, landmark).items()}


def run_scenario(
    toxicity_hr: float, replicates: int, seed: int, landmark: float = LANDMARK_DAY
) -> dict:
    """``replicates`` studies at one true HR, each method summarised.

    Replicate ``r`` uses the seed ``(seed, r)`` whatever the HR (common random numbers: the
    scenarios differ only by the HR).

    Returns
    -------
    dict
        ``true_hr``, ``deaths_at_landmark`` and ``exposed_share_at_landmark`` (means over the
        replicates), and per method the :func:`summarise` dict with its ``pooled`` log HR.
    """
    cohorts = [simulate_cohort((seed, r), toxicity_hr) for r in range(replicates)]
    rows = [estimates(c, landmark) for c in cohorts]
    at_landmark = [landmark_cohort(c, landmark) for c in cohorts]
    pooled = _pooled(cohorts, landmark)
    methods = {}
    for method in METHODS:
        summary = summarise(np.array([row[method] for row in rows]), math.log(toxicity_hr))
        methods[method] = {**summary, "pooled_log_hr": float(pooled[method])}
    return {
        "true_hr": toxicity_hr,
        "deaths_at_landmark": float(np.mean([c["event"].sum() for c in at_landmark])),
        "exposed_share_at_landmark": float(np.mean([c["exposed"].mean() for c in at_landmark])),
        "methods": methods,
    }


def schoenfeld_hr(deaths: float, exposed_share: float, power: float = TARGET_POWER) -> float:
    """The hazard ratio (> 1) a two-sided Wald/log-rank test at the study's α detects with
    ``power``, given the deaths and the exposed share (Schoenfeld 1983)."""
    normal = NormalDist()
    alpha = study.METHODS.significance_level
    z = normal.inv_cdf(1 - alpha / 2) + normal.inv_cdf(power)
    return math.exp(z / math.sqrt(deaths * exposed_share * (1 - exposed_share)))


def simulation(
    replicates: int, seed: int, hazard_ratios: list[float] | None = None, landmark=LANDMARK_DAY
) -> dict:
    """Every scenario; without ``hazard_ratios``: 1.0, 2.0 and the Schoenfeld 80%-power HR."""
    started, cpu = time.perf_counter(), time.process_time()
    scenarios = []
    if hazard_ratios:
        scenarios = [run_scenario(hr, replicates, seed, landmark) for hr in hazard_ratios]
    else:
        null = run_scenario(1.0, replicates, seed, landmark)
        missed = schoenfeld_hr(null["deaths_at_landmark"], null["exposed_share_at_landmark"])
        scenarios = [null] + [
            run_scenario(hr, replicates, seed, landmark) for hr in (2.0, round(missed, 2))
        ]
        scenarios[-1]["why"] = (
            f"{TARGET_POWER:.0%} power by Schoenfeld's formula with the HR-1.0 replicates' "
            f"{null['deaths_at_landmark']:.1f} deaths and "
            f"{null['exposed_share_at_landmark']:.1%} exposed at the landmark"
        )
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "patients": STUDY_PATIENTS,
        "centres": CENTRES,
        "replicates": replicates,
        "seed": seed,
        "landmark_day": landmark,
        "estimand": "log(toxicity_hr): the log hazard ratio of death, any CRS or ICANS vs none, "
        "among patients alive after the onsets (see benchmarks/bench_simulation.py)",
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "cores": os.cpu_count(),
        "scenarios": scenarios,
    }


def table(result: dict) -> str:
    """The result as a Markdown table, one row per scenario and method."""
    lines = [
        "| true HR | method | mean log HR (HR) | bias | emp. SE | model SE | coverage | power "
        "| pooled log HR | replicates | failures |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in result["scenarios"]:
        for method, s in scenario["methods"].items():
            lines.append(
                f"| {scenario['true_hr']:g} | {method.replace('_', '-')} "
                f"| {s['mean_log_hr']:+.3f} ({math.exp(s['mean_log_hr']):.2f}) "
                f"| {s['bias']:+.3f} ± {s['mc_se_bias']:.3f} | {s['empirical_se']:.3f} "
                f"| {s['mean_model_se']:.3f} | {s['coverage']:.1%} | {s['power']:.1%} "
                f"| {s['pooled_log_hr']:+.3f} | {s['replicates']} | {s['failures']} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20241127)
    parser.add_argument(
        "--hr",
        type=float,
        nargs="+",
        default=None,
        help="true hazard ratios (default: 1.0, 2.0 and the HR with 80%% power)",
    )
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.replicates < 2:
        parser.error("--replicates must be at least 2")
    if args.hr and min(args.hr) <= 0:
        parser.error("--hr must be positive")
    result = simulation(args.replicates, args.seed, args.hr)
    results = json.loads(args.json.read_text(encoding="utf-8")) if args.json.exists() else {}
    results["simulation"] = result
    args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(
        f"{args.replicates} replicates per scenario, seed {args.seed}: "
        f"{result['wall_seconds']} s wall, {result['cpu_seconds']} s CPU; written {args.json}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
