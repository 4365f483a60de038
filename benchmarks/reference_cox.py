"""The study's multivariate Cox model for OS (Table 2) timed three ways on the same design:
our :func:`analysis_assets.cox.cox_fit`, lifelines' ``CoxPHFitter`` called directly (its default
settings), and R's ``coxph`` (Efron ties) via ``Rscript``, the fit timed inside R with
``system.time`` so that R's start-up (reported separately) is not counted.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

R_FIT = """
suppressMessages(library(survival))
d <- read.csv("{csv}")
t <- system.time(fit <- coxph(Surv(months, event) ~ ., data = d, ties = "efron"))
cat(t[["elapsed"]], "\\n")
cat(coef(fit), "\\n")
"""


def model_design(mart: pd.DataFrame) -> tuple[pd.DataFrame, list[str], dict, pd.DataFrame]:
    """OS complete cases of the multivariate model, as :mod:`analysis_assets.cox_tables`
    builds them; the dummy-coded design (months, event, covariates) for lifelines and R."""
    from analysis_assets.cox import _design
    from analysis_assets.cox_tables import model_frame
    from analysis_assets.study import COVARIATES, MULTIVARIATE

    frame = model_frame(mart, "OS")
    covariates = list(MULTIVARIATE)
    categorical = {
        c: COVARIATES[c].reference for c in covariates if COVARIATES[c].reference is not None
    }
    design, _ = _design(frame, "months", "event", covariates, categorical)
    return frame, covariates, categorical, design


def time_cox(mart: pd.DataFrame) -> dict:
    """Seconds of the three fits and the largest coefficient difference from R's."""
    from lifelines import CoxPHFitter

    from analysis_assets.cox import cox_fit

    frame, covariates, categorical, design = model_design(mart)
    started = time.perf_counter()
    ours = cox_fit(frame, "months", "event", covariates, categorical=categorical)
    ours_seconds = time.perf_counter() - started

    started = time.perf_counter()
    direct = CoxPHFitter().fit(design, duration_col="months", event_col="event")
    lifelines_seconds = time.perf_counter() - started

    out = {
        "n": int(len(design)),
        "events": int(design["event"].sum()),
        "estimable": bool(ours.estimable),
        "ours_seconds": round(ours_seconds, 3),
        "lifelines_seconds": round(lifelines_seconds, 3),
    }
    with tempfile.TemporaryDirectory(prefix="cartwh-bench-cox-") as folder:
        csv = Path(folder) / "design.csv"
        # R's read.csv turns "toxicity_group[x]" into "toxicity_group.x."; the order stays
        design.to_csv(csv, index=False)
        started = time.perf_counter()
        subprocess.run(["Rscript", "-e", "suppressMessages(library(survival))"], check=True)
        out["r_startup_seconds"] = round(time.perf_counter() - started, 3)
        done = subprocess.run(
            ["Rscript", "-e", R_FIT.format(csv=csv)], capture_output=True, text=True, check=True
        )
    elapsed, coefficients = done.stdout.strip().splitlines()[:2]
    out["r_coxph_seconds"] = round(float(elapsed), 3)
    r_coef = np.array([float(v) for v in coefficients.split()])
    ours_coef = np.array([t.coef for t in ours.terms]) if ours.estimable else np.array([])
    direct_coef = direct.params_.to_numpy()
    if len(ours_coef) == len(r_coef):
        out["max_coef_difference_ours_vs_r"] = float(np.max(np.abs(ours_coef - r_coef)))
    out["max_coef_difference_lifelines_vs_r"] = float(np.max(np.abs(direct_coef - r_coef)))
    out["ours_over_r"] = round(ours_seconds / max(float(elapsed), 1e-3), 2)
    out["ours_over_lifelines"] = round(ours_seconds / lifelines_seconds, 2)
    return out
