"""CR and MRD-negative CR rates at day 30 by every comparison of the study (Figure 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis_assets.categorical import compare_categorical, describe_test
from analysis_assets.comparisons import COMPARISONS, group_labels
from analysis_assets.formatting import percent

RESPONSES = {
    "cr_day30": "complete response at day 30",
    "mrd_negative_cr": "MRD-negative complete response at day 30",
}
#: basis -> who is in the denominator
BASES = {
    "all_infused": "every infused patient (a patient without an evaluable assessment "
    "counts as a non-responder)",
    "evaluable": "patients evaluable for response only",
}


def response_rates(mart: pd.DataFrame) -> pd.DataFrame:
    """One row per response, basis, comparison and group: n, responders, rate, test, p.

    The test compares the groups' responder/non-responder table by the study's rule
    (Pearson chi-squared without Yates, or exact Fisher when any expected count < 5).
    """
    rows = []
    for response, description in RESPONSES.items():
        for basis in BASES:
            data = mart if basis == "all_infused" else mart[mart["response_evaluable"] == True]  # noqa: E712
            responded = data[response].astype("boolean").fillna(False).astype(bool)
            for comparison, (comparison_label, order) in COMPARISONS.items():
                labels = group_labels(data, comparison)
                placed = labels.notna()
                groups = [g for g in order if (labels[placed] == g).any()]
                table = np.array(
                    [
                        [
                            int((responded[placed] & (labels[placed] == g)).sum()),
                            int((~responded[placed] & (labels[placed] == g)).sum()),
                        ]
                        for g in groups
                    ]
                )
                result = (
                    compare_categorical(table)
                    if len(groups) >= 2 and table.sum(axis=0).min() > 0
                    else None
                )
                for group, (yes, no) in zip(groups, table):
                    rows.append(
                        {
                            "response": response,
                            "basis": basis,
                            "comparison": comparison,
                            "comparison_label": comparison_label,
                            "group": group,
                            "n": int(yes + no),
                            "responders": int(yes),
                            "rate_pct": percent(int(yes), int(yes + no)),
                            "test": result.test if result else "not applicable (one outcome only)",
                            "test_detail": describe_test(result) if result else None,
                            "p_value": result.p if result else None,
                        }
                    )
    return pd.DataFrame(rows)
