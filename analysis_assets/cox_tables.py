"""Cox proportional-hazards models of the study (Table 2): univariate screening and the
multivariate model, for OS (all patients) and LFS (CR patients), with the Wald test of the
three-level toxicity group as a whole and a proportional-hazards check per model. Covariates
and the multivariate model are those of :mod:`analysis_assets.study`."""

from __future__ import annotations

import pandas as pd

from analysis_assets.cox import CoxResult, cox_fit, ph_test
from analysis_assets.study import COVARIATES, ENDPOINTS, MULTIVARIATE
from analysis_assets.survival_tables import endpoint_frame

COX_COLUMNS = [
    "endpoint",
    "model",
    "covariates",
    "n",
    "events",
    "term",
    "description",
    "hazard_ratio",
    "ci_lower",
    "ci_upper",
    "p_value",
    "wald_chi_square",
    "wald_df",
    "estimable",
    "note",
]


def model_frame(mart: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """The endpoint's patients with the covariates coded for the models (0/1, numbers)."""
    data = endpoint_frame(mart, endpoint)
    out = pd.DataFrame(
        {"months": data["months"].astype(float), "event": data["event"].astype(float)},
        index=data.index,
    )
    out["age_at_infusion"] = pd.to_numeric(data["age_at_infusion"], errors="coerce")
    out["male"] = data["sex"].map({"m": 1.0, "f": 0.0})
    out["prior_therapy_lines"] = pd.to_numeric(data["prior_therapy_lines"], errors="coerce")
    out["cell_dose_1e6_per_kg"] = pd.to_numeric(data["cell_dose_per_kg"], errors="coerce") / 1e6
    for flag in ("bm_blasts_ge_20", "received_steroids", "received_tocilizumab"):
        out[flag] = data[flag].astype("boolean").astype("Float64").astype(float)
    out["toxicity_group"] = data["toxicity_group"]
    return out


def _description(covariate: str) -> str:
    known = COVARIATES.get(covariate)
    return known.description if known else ""


def _rows(result: CoxResult, endpoint: str, model: str, covariates: list[str]) -> list[dict]:
    base = {
        "endpoint": endpoint,
        "model": model,
        "covariates": " + ".join(covariates),
        "n": result.n,
        "events": result.events,
    }
    if not result.estimable:
        return [
            {
                **base,
                "term": " + ".join(covariates),
                "estimable": False,
                "note": f"not estimable: {result.reason}",
            }
        ]
    rows = [
        {
            **base,
            "term": t.term,
            "description": _description(t.term.split("[")[0]),
            "hazard_ratio": t.hr,
            "ci_lower": t.hr_lower,
            "ci_upper": t.hr_upper,
            "p_value": t.p,
            "estimable": True,
        }
        for t in result.terms
    ]
    for name, wald in result.wald.items():
        if wald.df > 1:
            rows.append(
                {
                    **base,
                    "term": f"{name} (overall Wald test)",
                    "description": COVARIATES[name].description,
                    "wald_chi_square": wald.stat,
                    "wald_df": wald.df,
                    "p_value": wald.p,
                    "estimable": True,
                }
            )
    return rows


def cox_tables(mart: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``cox_univariate``, ``cox_multivariate`` and ``ph_assumption`` for OS and LFS.

    Complete cases per model; ``n`` and ``events`` are those of the model. A model that cannot
    be estimated is reported as such, never as a number.
    """
    univariate, multivariate, ph_rows = [], [], []
    for endpoint in ENDPOINTS:
        frame = model_frame(mart, endpoint)
        categorical = {c: v.reference for c, v in COVARIATES.items() if v.reference is not None}
        for covariate in COVARIATES:
            result = cox_fit(
                frame,
                "months",
                "event",
                [covariate],
                categorical={k: v for k, v in categorical.items() if k == covariate},
            )
            univariate += _rows(result, endpoint, "univariate", [covariate])
        covariates = list(MULTIVARIATE)
        result = cox_fit(
            frame,
            "months",
            "event",
            covariates,
            categorical={k: v for k, v in categorical.items() if k in covariates},
        )
        multivariate += _rows(result, endpoint, "multivariate", covariates)
        if result.estimable:
            check = ph_test(result)
            for term, stat, p in zip(check.terms, check.chisq, check.p):
                ph_rows.append(
                    {
                        "endpoint": endpoint,
                        "model": "multivariate",
                        "term": term,
                        "chi_square": stat,
                        "df": 1,
                        "p_value": p,
                        "method": check.method,
                    }
                )
            ph_rows.append(
                {
                    "endpoint": endpoint,
                    "model": "multivariate",
                    "term": "GLOBAL",
                    "chi_square": check.global_chisq,
                    "df": check.global_df,
                    "p_value": check.global_p,
                    "method": check.method,
                }
            )
    return {
        "cox_univariate": pd.DataFrame(univariate, columns=COX_COLUMNS),
        "cox_multivariate": pd.DataFrame(multivariate, columns=COX_COLUMNS),
        "ph_assumption": pd.DataFrame(
            ph_rows, columns=["endpoint", "model", "term", "chi_square", "df", "p_value", "method"]
        ),
    }
