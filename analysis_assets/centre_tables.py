"""CR and survival per centre: does one centre carry the study's results? (the robustness
analysis' per-centre view; leave-one-centre-out is in :mod:`analysis_assets.robustness`)."""

from __future__ import annotations

import pandas as pd

from analysis_assets import study
from analysis_assets.formatting import percent
from analysis_assets.survival import km_median, km_table
from analysis_assets.survival_tables import endpoint_frame

__all__ = ["centre_outcomes"]

#: the response of the per-centre rate (the study's main one, over its main basis)
RESPONSE = next(iter(study.RESPONSES))


def centre_outcomes(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per centre: patients, CR at day 30 over every infused patient, and per endpoint the
    patients, events and median (95% CI, R ``quantile(survfit(...), 0.5)``, log-log CI).

    Parameters
    ----------
    outcomes : DataFrame
        ``mart.patient_outcomes``.

    Returns
    -------
    DataFrame
        One row per centre and endpoint: ``centre_code, patients, responders, response_rate_pct,
        endpoint, n, events, median_months, median_ci_lower, median_ci_upper`` (medians not
        reached are missing).
    """
    rows = []
    for centre, patients in outcomes.groupby("centre_code", sort=True):
        responded = patients[RESPONSE].astype("boolean").fillna(False).astype(bool)
        for endpoint in study.ENDPOINTS:
            frame = endpoint_frame(patients, endpoint)
            median = km_median(km_table(frame["months"], frame["event"])) if len(frame) else None
            rows.append(
                {
                    "centre_code": centre,
                    "patients": len(patients),
                    "responders": int(responded.sum()),
                    "response_rate_pct": percent(int(responded.sum()), len(patients)),
                    "endpoint": endpoint,
                    "n": len(frame),
                    "events": int(frame["event"].sum()),
                    "median_months": median.median if median else None,
                    "median_ci_lower": median.ci_lower if median else None,
                    "median_ci_upper": median.ci_upper if median else None,
                }
            )
    return pd.DataFrame(rows)
