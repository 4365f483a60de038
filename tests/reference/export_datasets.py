"""Export the lifelines data sets used by the R reference to small CSV files.

Run once (``.venv/bin/python tests/reference/export_datasets.py``); the CSVs are
committed so that R (``make_reference.R``) and the tests read exactly the same
data.  Derived columns are made here, never in R, for the same reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from lifelines import datasets

HERE = Path(__file__).resolve().parent


def main() -> None:
    datasets.load_waltons().to_csv(HERE / "waltons.csv", index=False)

    rossi = datasets.load_rossi()
    rossi.to_csv(HERE / "rossi.csv", index=False)

    larynx = datasets.load_larynx()
    stage = np.select(
        [larynx["Stage_II"] == 1, larynx["Stage_III"] == 1, larynx["Stage_IV"] == 1],
        ["II", "III", "IV"],
        default="I",
    )
    larynx = larynx.assign(stage=stage)[["time", "death", "age", "stage"]]
    larynx.to_csv(HERE / "larynx.csv", index=False)

    lung = datasets.load_lung()
    lung = lung[["time", "status", "age", "sex", "ph.ecog"]].rename(columns={"ph.ecog": "ph_ecog"})
    # lifelines' lung has status 0/1 already (R's is 1/2); 3-level group: ECOG 0, 1, >=2
    lung["ecog_grp"] = np.where(
        lung["ph_ecog"].isna(),
        None,
        np.where(lung["ph_ecog"] >= 2, "2+", lung["ph_ecog"].astype("Int64").astype(str)),
    )
    lung.to_csv(HERE / "lung.csv", index=False)

    # Hand-made: KM hits exactly 0.5 on a plateau (10 subjects, 5 deaths by t=5,
    # next death at t=8) -> R median = (5 + 8) / 2 = 6.5.
    plateau = pd.DataFrame(
        {
            "time": [1, 2, 3, 4, 5, 8, 9, 10, 12, 15],
            "status": [1, 1, 1, 1, 1, 1, 0, 1, 0, 0],
        }
    )
    plateau.to_csv(HERE / "plateau.csv", index=False)


if __name__ == "__main__":
    main()
