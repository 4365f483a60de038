"""The results section "Printed numbers": the audit of the study's printed numbers and of this
report's own tables, in words, from the analysis table ``number_audit``
(:mod:`analysis_assets.number_audit`)."""

from __future__ import annotations

import pandas as pd

from analysis_assets.number_audit import CHECK_CENTRE, CHECK_PERCENTAGE, MISMATCH, PUBLICATION
from analysis_assets.report.common import Tables

__all__ = ["audit_sentences"]


def _counts(findings: pd.DataFrame) -> tuple[int, int]:
    """Percentages and hazard ratios checked (a hazard ratio's p is a check of its own)."""
    percentages = int((findings["check"] == CHECK_PERCENTAGE).sum())
    return percentages, int((findings["check"] == CHECK_CENTRE).sum())


def _verdict(findings: pd.DataFrame) -> str:
    wrong = findings[findings["verdict"] == MISMATCH]
    if not len(wrong):
        return "every one matches"
    listed = "; ".join(
        f"{r.quantity}: printed {r.printed}, recomputed {r.recomputed}"
        for r in wrong.itertuples(index=False)
    )
    return f"{len(wrong)} do not match ({listed})"


def audit_sentences(t: Tables) -> list[str]:
    """How many printed numbers of the study were checked and which do not match, and the same
    for this report's own tables, from the analysis table ``number_audit``; nothing without it.

    Parameters
    ----------
    t : dict of name -> DataFrame
        Tables by bare name.

    Returns
    -------
    list of str
    """
    findings = t.get("number_audit")
    if findings is None or not len(findings):
        return []
    from_paper = findings["source"] == PUBLICATION
    paper, own = findings[from_paper], findings[~from_paper]
    percentages, ratios = _counts(paper)
    own_percentages, own_ratios = _counts(own)
    return [
        f"Of the study's printed numbers, {percentages} percentages were recomputed from their "
        f"counts and denominators and {ratios} hazard ratios checked against their 95% CI and "
        f"p on the log scale: {_verdict(paper)}.",
        f"The same audit of this report's own tables ({own_percentages} percentages, "
        f"{own_ratios} hazard ratios with CI and p, as printed): {_verdict(own)}.",
    ]
