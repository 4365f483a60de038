"""CR and MRD-negative CR rates at day 30 by every comparison of the study (Figure 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis_assets.categorical import compare_categorical, describe_test
from analysis_assets.comparisons import group_labels
from analysis_assets.formatting import percent
from analysis_assets.study import BASES, COMPARISONS, RESPONSES


def response_rates(mart: pd.DataFrame) -> pd.DataFrame:
    """One row per response, basis, comparison and group: n, responders, rate, test, p.

    Responses, bases and comparisons are those of :mod:`analysis_assets.study`. The test
    compares the groups' responder/non-responder table by the study's rule (Pearson
    chi-squared without Yates, or exact Fisher when any expected count < 5).
    """
    rows = []
    for response in RESPONSES:
        for basis in BASES:
            data = mart if basis == "all_infused" else mart[mart["response_evaluable"] == True]
            responded = data[response].astype("boolean").fillna(False).astype(bool)
            for comparison, spec in COMPARISONS.items():
                labels = group_labels(data, comparison)
                placed = labels.notna()
                groups = [g for g in spec.groups if (labels[placed] == g).any()]
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
                            "comparison_label": spec.description,
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
