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
of death (without relapse, after relapse, when refractory) of every patient with any CRS or
ICANS, by drawing those event times from S0(t)^hr. It does so from day 0, but every such event
process starts after day 30 (deaths from day 31, relapses from day 35), after every onset: it is
the same as multiplying the hazards from the onset on. The only deaths before day 31 are the
early deaths (days 1-4), drawn among patients who never get CRS or ICANS: the immortal time that
the naive comparison credits to the unexposed. The estimand is the log hazard ratio of death,
exposed vs unexposed, among patients alive at day 30 (after every onset), as a Cox model
estimates it at the study's follow-up:

* true HR 1.0: exactly 0 (no event process depends on toxicity);
* otherwise not log(toxicity_hr) itself: a death after a relapse needs two events, each
  accelerated by the ratio, so overall survival's hazard ratio is larger than the ratio of the
  processes and not constant. It has no closed form; its value is computed once per scenario
  by the landmark Cox fit on :data:`REFERENCE_STUDIES` further studies stacked (independent of
  the replicates; its SE is reported). The time-dependent model targets the same quantity.

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
from the HR-1.0 replicates: the size of effect the study could have missed. The formula is
on the scale of overall survival's hazard ratio and counts the deaths of a study without
effect; used as the generator's parameter, it gives more deaths and a larger OS ratio (see
the estimand), so the simulated power there is above 80%.

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
    "reference_log_hr",
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
#: studies stacked for the reference value of the estimand when the true HR is not 1
REFERENCE_STUDIES = 500


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


def summarise(values: np.ndarray, estimand: float) -> dict:
    """Bias, empirical SE, coverage and power of one method over the replicates.

    Parameters
    ----------
    values : ndarray, shape (replicates, 5)
        Rows of :func:`estimates` (log HR, SE, lower, upper, p); NaN rows are failures.
    estimand : float
        The true log HR.

    Returns
    -------
    dict
        ``mean_log_hr``, ``bias``, ``empirical_se`` (SD of the estimates), ``mean_model_se``,
        ``coverage`` (the 95% CI holds the estimand), ``power`` (p below the study's α),
        ``mc_se_bias`` (Monte Carlo SE of the bias), ``replicates`` and ``failures``.
    """
    failed = np.isnan(values).any(axis=1)
    ok = values[~failed]
    log_hr, se, lower, upper, p = ok.T
    n = len(ok)
    empirical_se = float(np.std(log_hr, ddof=1)) if n > 1 else math.nan
    return {
        "mean_log_hr": float(np.mean(log_hr)) if n else math.nan,
        "bias": float(np.mean(log_hr) - estimand) if n else math.nan,
        "mc_se_bias": empirical_se / math.sqrt(n) if n > 1 else math.nan,
        "empirical_se": empirical_se,
        "mean_model_se": float(np.mean(se)) if n else math.nan,
        "coverage": float(np.mean((lower <= estimand) & (estimand <= upper))) if n else None,
        "power": float(np.mean(p < study.METHODS.significance_level)) if n else None,
        "replicates": int(len(values)),
        "failures": int(failed.sum()),
    }


def reference_log_hr(toxicity_hr: float, seed: int, landmark: float = LANDMARK_DAY) -> tuple:
    """The estimand and its SE: 0 exactly for a true HR of 1; otherwise the landmark Cox log
    HR of :data:`REFERENCE_STUDIES` studies stacked (seeds ``(seed, 1, r)``, never those of
    the replicates)."""
    if toxicity_hr == 1:
        return 0.0, 0.0
    studies = [simulate_cohort((seed, 1, r), toxicity_hr) for r in range(REFERENCE_STUDIES)]
    stacked = pd.concat([landmark_cohort(c, landmark) for c in studies], ignore_index=True).assign(
        id=lambda d: np.arange(len(d))
    )
    log_hr, se, *_ = _term(cox_fit(stacked, "time", "event", ["exposed"]))
    return log_hr, se


def run_scenario(
    toxicity_hr: float, replicates: int, seed: int, landmark: float = LANDMARK_DAY
) -> dict:
    """``replicates`` studies at one true HR, each method summarised against the estimand.

    Replicate ``r`` uses the seeds ``(seed, 0, r)`` whatever the HR (common random numbers:
    the scenarios differ only by the HR).

    Returns
    -------
    dict
        ``true_hr``, ``estimand_log_hr`` and its ``estimand_se`` (:func:`reference_log_hr`),
        ``deaths_at_landmark`` and ``exposed_share_at_landmark`` (means over the replicates),
        and per method the :func:`summarise` dict.
    """
    estimand, estimand_se = reference_log_hr(toxicity_hr, seed, landmark)
    cohorts = [simulate_cohort((seed, 0, r), toxicity_hr) for r in range(replicates)]
    rows = [estimates(c, landmark) for c in cohorts]
    at_landmark = [landmark_cohort(c, landmark) for c in cohorts]
    return {
        "true_hr": toxicity_hr,
        "estimand_log_hr": estimand,
        "estimand_se": estimand_se,
        "deaths_at_landmark": float(np.mean([c["event"].sum() for c in at_landmark])),
        "exposed_share_at_landmark": float(np.mean([c["exposed"].mean() for c in at_landmark])),
        "methods": {
            method: summarise(np.array([row[method] for row in rows]), estimand)
            for method in METHODS
        },
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
        "estimand": "log hazard ratio of death, any CRS or ICANS vs none, among patients alive "
        "at the landmark (after every onset): 0 for a true HR of 1, else the landmark Cox fit "
        f"of {REFERENCE_STUDIES} further studies stacked (benchmarks/bench_simulation.py)",
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "cores": os.cpu_count(),
        "scenarios": scenarios,
    }


def table(result: dict) -> str:
    """The result as a Markdown table, one row per scenario and method."""
    lines = [
        "| true HR | estimand (log HR) | method | mean log HR (HR) | bias ± MC SE | emp. SE "
        "| model SE | coverage | power | replicates | failures |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for scenario in result["scenarios"]:
        for method, s in scenario["methods"].items():
            lines.append(
                f"| {scenario['true_hr']:g} | {scenario['estimand_log_hr']:+.3f} "
                f"| {method.replace('_', '-')} "
                f"| {s['mean_log_hr']:+.3f} ({math.exp(s['mean_log_hr']):.2f}) "
                f"| {s['bias']:+.3f} ± {s['mc_se_bias']:.3f} | {s['empirical_se']:.3f} "
                f"| {s['mean_model_se']:.3f} | {s['coverage']:.1%} | {s['power']:.1%} "
                f"| {s['replicates']} | {s['failures']} |"
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
