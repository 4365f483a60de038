"""Write the synthetic data sets of the robustness reference (``robustness_reference.R``).

Run once (``.venv/bin/python tests/reference/export_robustness_data.py``); the CSVs
are committed so that R and the tests read exactly the same data.  R's own data
sets (``mgus2``, ``jasa``) are exported by ``export_robustness_data.R``.

* ``cr_demo.csv``: a demo-sized CAR-T cohort (93 patients, days since infusion):
  time to relapse (status 1), non-relapse death (2) or censoring (0), a
  three-level toxicity group (and its 0/1 dummies ``tox_any``, ``tox_severe``),
  age, and the day of CRS onset (empty = never).
  Whole days give many tied times, including ties between causes.
* ``cr_edge.csv``: hand-made edge cases: group ``a`` has no relapse, group ``c``
  is all censored, and relapses, deaths and censorings share times.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent


def demo_cohort(seed: int = 20261130, n: int = 93) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.choice(["none", "grade 1-2", "grade >=3"], size=n, p=[0.35, 0.45, 0.20])
    age = np.round(rng.normal(58, 11, size=n)).clip(19, 80)
    severe = (group == "grade >=3").astype(float)
    relapse = np.ceil(rng.exponential(420 / np.exp(0.3 * severe), size=n))
    nrm = np.ceil(rng.exponential(1500 / np.exp(1.0 * severe + 0.02 * (age - 58)), size=n))
    censor = np.ceil(rng.uniform(60, 900, size=n))
    time = np.minimum.reduce([relapse, nrm, censor])
    status = np.select([time == relapse, time == nrm], [1, 2], default=0)
    has_crs = group != "none"
    onset = np.where(has_crs, rng.integers(0, 15, size=n), np.nan)
    # an onset after the end of follow-up cannot be observed
    onset = np.where(onset <= time, onset, np.nan)
    # one CRS onset on the day of the event (exposed at its own event)
    same_day = np.flatnonzero(has_crs & (status > 0) & (time <= 14))[0]
    onset[same_day] = time[same_day]
    return pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "time": time.astype(int),
            "status": status,
            "group": group,
            "tox_any": has_crs.astype(int),
            "tox_severe": severe.astype(int),
            "age": age.astype(int),
            "crs_onset": pd.array(onset, dtype="Int64"),
        }
    )


def edge_cases() -> pd.DataFrame:
    rows = [
        # group a: competing deaths and censorings only (no relapse)
        ("a", 2, 2), ("a", 3, 0), ("a", 3, 2), ("a", 5, 0), ("a", 8, 2), ("a", 9, 0),
        # group b: ties between relapse, death and censoring at 4 and 6
        ("b", 1, 1), ("b", 4, 1), ("b", 4, 1), ("b", 4, 2), ("b", 4, 0), ("b", 6, 1),
        ("b", 6, 2), ("b", 6, 2), ("b", 7, 0), ("b", 10, 1), ("b", 12, 0),
        # group c: all censored
        ("c", 3, 0), ("c", 6, 0), ("c", 11, 0),
        # group d: relapses tied with a's deaths, last observation a relapse
        ("d", 2, 1), ("d", 3, 1), ("d", 3, 2), ("d", 6, 0), ("d", 8, 1), ("d", 9, 2),
        ("d", 13, 1),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["group", "time", "status"])


def main() -> None:
    demo_cohort().to_csv(HERE / "cr_demo.csv", index=False)
    edge_cases().to_csv(HERE / "cr_edge.csv", index=False)


if __name__ == "__main__":
    main()
