"""The external report: what may leave the consortium, rendered from small-cell-suppressed
tables only (:func:`analysis_assets.disclosure_tables.suppress_analysis_tables`).

It holds the opening (cut-off, code version, deliveries), the Methods, a disclosure-control
section (the rule, the threshold and the decision for every analysis table), the suppressed
tables and the provenance table. Left out, and said so in the report: the results in words
(written from patient-level tables), and the figures — their number-at-risk tables, flow
counts, annotations and patient-level drawings (swimmer plot, Kaplan–Meier steps) are not
re-rendered from suppressed counts yet.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis_assets.disclosure import COMPLEMENTARY_MARK, primary_label
from analysis_assets.disclosure_tables import LEAVE_OUT, TABLE_POLICY
from analysis_assets.report import CSS
from analysis_assets.report.common import ReportInputs, escape
from analysis_assets.report.methods import methods_section
from analysis_assets.report.opening import TITLE
from analysis_assets.report.tables_html import render_table, tables_section

__all__ = ["EXTERNAL_TITLE", "suppression_sentence", "build_external_report", "policy_table"]

EXTERNAL_TITLE = f"{TITLE} (external, small cells suppressed)"
#: what the external report leaves out besides the tables the policy leaves out
LEFT_OUT_PARTS: tuple[tuple[str, str], ...] = (
    (
        "Figures",
        "Kaplan–Meier figures (with their number-at-risk tables), the cohort flow diagram, "
        "the forest plot, the response and CAR copy figures and the swimmer plot print counts "
        "or single patients and are not yet drawn from suppressed counts; they are in the "
        "internal report only.",
    ),
    (
        "Results in words",
        "The internal report's sentences are computed from patient-level tables; the external "
        "report gives the suppressed tables only.",
    ),
)


def suppression_sentence(threshold: int) -> str:
    """The rule, in one sentence the report and its CSV folder both state."""
    return (
        f"Small-cell suppression applied (threshold {threshold}): counts from 1 to "
        f"{threshold - 1} are shown as “{primary_label(threshold)}” (0 is shown); further "
        f"counts are withheld as “{COMPLEMENTARY_MARK}” (complementary suppression) so that no "
        "suppressed count can be recovered from totals, other tables, percentages or the "
        "numbers of excluded patients, and percentages, medians, ranges and estimates that "
        f"would reveal a suppressed count are withheld as “{COMPLEMENTARY_MARK}” too."
    )


def policy_table(names: list[str]) -> pd.DataFrame:
    """Decision and reason for every analysis table ``names`` of the warehouse."""
    rows = [
        (name, *TABLE_POLICY.get(name, (LEAVE_OUT, "not reviewed for disclosure: left out")))
        for name in names
    ]
    return pd.DataFrame(rows, columns=["table", "decision", "reason"])


def _opening(provenance: pd.DataFrame | None, threshold: int) -> list[str]:
    parts = [f"<h1>{escape(EXTERNAL_TITLE)}</h1>"]
    parts.append(
        f'<p class="disclosure"><strong>{escape(suppression_sentence(threshold))}</strong></p>'
    )
    if provenance is not None and len(provenance):
        first = provenance.iloc[0]
        cutoff = pd.Timestamp(first["cutoff"]).date().isoformat()
        parts.append(
            f"<p>Data cut-off: {escape(cutoff)}; code version {escape(first['code_version'])}.</p>"
        )
    return parts


def _disclosure_section(policy: pd.DataFrame, threshold: int) -> list[str]:
    parts = ["<h2>Disclosure control</h2>", f"<p>{escape(suppression_sentence(threshold))}</p>"]
    parts.append(
        "<p>Every analysis table was reviewed: suppressed, kept (no counts of patients) or "
        "left out.</p>"
    )
    parts.append(render_table(policy, "table-disclosure-policy"))
    parts += [
        f"<p><strong>{escape(h)} left out.</strong> {escape(t)}</p>" for h, t in LEFT_OUT_PARTS
    ]
    return parts


def build_external_report(
    tables: dict[str, pd.DataFrame], policy: pd.DataFrame, threshold: int, out_path: Path
) -> Path:
    """Write the external report to ``out_path`` and return it.

    Parameters
    ----------
    tables : dict of name -> DataFrame
        The output of :func:`~analysis_assets.disclosure_tables.suppress_analysis_tables`
        (nothing else: every number printed comes from these).
    policy : DataFrame
        :func:`policy_table` of the warehouse's analysis tables.
    threshold : int
    out_path : Path
    """
    provenance = tables.get("provenance")
    inputs = ReportInputs({k: v for k, v in tables.items() if k != "provenance"}, {}, None)
    doc = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(EXTERNAL_TITLE)}</title>",
        f"<style>{CSS}</style></head><body>",
        *_opening(provenance, threshold),
        *methods_section(inputs),
        *_disclosure_section(policy, threshold),
        *tables_section(inputs),
    ]
    if provenance is not None:
        doc += ["<h2>Provenance</h2>", render_table(provenance, "table-provenance")]
    doc.append("</body></html>")
    out_path.write_text("\n".join(doc), encoding="utf-8")
    return out_path
