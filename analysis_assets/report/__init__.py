"""One self-contained HTML report a co-author can paste from: opening, Methods, Results,
Figures, Tables, Provenance.

The report is a list of sections (:data:`REPORT_SECTIONS`), each a function of the report's
inputs returning HTML; the results in words are a list of sentence sections
(:data:`RESULTS_SECTIONS`), each a function of the tables returning plain-text sentences.
A new section is one function and one entry in one of these lists. The sections live in the
modules of this package (opening, methods, results, completeness, figures_html, tables_html).

Every number in the text is computed from the tables passed in and printed by
:mod:`analysis_assets.formatting` (half-up); the Methods are generated from
:data:`analysis_assets.study.METHODS` and :data:`analysis_assets.study.R_PARITY`. Figures are
inline SVG (PNG when there is no SVG). No external URL, no script; all text is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from analysis_assets.formatting import by_table_name
from analysis_assets.provenance import PROVENANCE_FILE, Provenance
from analysis_assets.report.audit import audit_sentences
from analysis_assets.report.common import ReportInputs, Tables, escape
from analysis_assets.report.completeness import completeness_sentences
from analysis_assets.report.figures_html import figures_section
from analysis_assets.report.methods import methods_section, methods_sentences
from analysis_assets.report.opening import TITLE, header_section, provenance_section
from analysis_assets.report.results import (
    DENOMINATOR_POLICY,
    biomarker_sentences,
    cohort_sentences,
    multivariate_sentences,
    response_sentences,
    survival_sentences,
    toxicity_sentences,
)
from analysis_assets.report.robustness import robustness_sentences
from analysis_assets.report.tables_html import render_table, tables_section

__all__ = [
    "ReportInputs",
    "RESULTS_SECTIONS",
    "REPORT_SECTIONS",
    "build_report",
    "results_sentences",
    "render_table",
    "methods_sentences",
    "completeness_sentences",
    "multivariate_sentences",
    "tables_section",
]

CSS = """
body{font-family:Georgia,serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.45}
h1,h2,h3{font-family:Helvetica,Arial,sans-serif}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:12px;
font-family:Helvetica,Arial,sans-serif}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eee}
td.num{text-align:right}
figure{margin:1em 0 2em}
figure img,figure svg{max-width:100%;height:auto}
figcaption{font-size:13px;color:#444}
.prov td:first-child{font-weight:bold}
details summary{cursor:pointer;font-family:Helvetica,Arial,sans-serif;font-weight:bold}
.wide{overflow-x:auto}
.manuscript-table{border-top:2px solid #000;border-bottom:2px solid #000;font-size:13px}
.manuscript-table th,.manuscript-table td{border:none;background:none;padding:2px 10px}
.manuscript-table thead tr:last-child th{border-bottom:1px solid #000}
"""

#: the results in words, in order: (heading, function of the tables by bare name)
RESULTS_SECTIONS: tuple[tuple[str, Callable[[Tables], list[str]]], ...] = (
    ("Cohort", cohort_sentences),
    ("Toxicity and its treatment", toxicity_sentences),
    ("Response", response_sentences),
    ("Biomarkers", biomarker_sentences),
    ("Survival", survival_sentences),
    ("Multivariate analysis", multivariate_sentences),
    ("Robustness", robustness_sentences),
    ("Data completeness", completeness_sentences),
    ("Printed numbers", audit_sentences),
)


def results_sentences(tables: Tables) -> dict[str, list[str]]:
    """The results in words, by section; every number computed from ``tables`` (plain text).

    Parameters
    ----------
    tables : dict of name -> DataFrame
        Mart and analysis tables (``schema.`` prefix optional); a ``provenance`` table (as
        :meth:`Provenance.table`) gives the cut-off date of the follow-up sentence.

    Returns
    -------
    dict of heading -> list of str
        The sections of :data:`RESULTS_SECTIONS` that have something to say, in order.
    """
    t = by_table_name(tables)
    out = {}
    for heading, sentences in RESULTS_SECTIONS:
        lines = sentences(t)
        if lines:
            out[heading] = lines
    return out


def results_section(inputs: ReportInputs) -> list[str]:
    """Results: the denominator policy, then the results in words (:data:`RESULTS_SECTIONS`)."""
    parts = ["<h2>Results</h2>", f'<p class="policy">{escape(DENOMINATOR_POLICY)}</p>']
    for heading, lines in results_sentences(inputs.tables).items():
        parts.append(f"<h3>{escape(heading)}</h3>")
        parts += [f"<p>{escape(line)}</p>" for line in lines]
    return parts


#: the report from top to bottom
REPORT_SECTIONS: tuple[Callable[[ReportInputs], list[str]], ...] = (
    header_section,
    methods_section,
    results_section,
    figures_section,
    tables_section,
    provenance_section,
)


def _inputs(tables: Tables, figures: list[Path], provenance: Provenance | None) -> ReportInputs:
    grouped: dict[str, list[Path]] = {}
    for f in map(Path, figures):
        grouped.setdefault(f.stem, []).append(f)
    tables = by_table_name(tables)
    if provenance is not None and "provenance" not in tables:
        tables["provenance"] = provenance.table()
    return ReportInputs(tables, grouped, provenance)


def build_report(
    tables: Tables, figures: list[Path], provenance: Provenance | None, out_path: Path
) -> Path:
    """Write the HTML results report to ``out_path`` and return it.

    Parameters
    ----------
    tables : dict of name -> DataFrame
        Mart and analysis tables (``schema.`` prefix optional).  Patient-level tables
        (patient_outcomes, daily_toxicity) feed the text only; all others are printed.
    figures : list of Path
        SVG, PNG and other files; files sharing a stem are one figure (the SVG is inlined,
        else the PNG embedded).
    provenance : Provenance or None
        Printed in the opening (cut-off, deliveries, code version, cohort summary) and as the
        provenance table at the end, and written as ``provenance.json`` beside the report;
        None leaves them out.
    out_path : Path

    Returns
    -------
    Path
    """
    out_path = Path(out_path)
    inputs = _inputs(tables, figures, provenance)
    doc = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(TITLE)}</title>",
        f"<style>{CSS}</style></head><body>",
    ]
    for section in REPORT_SECTIONS:
        doc += section(inputs)
    doc.append("</body></html>")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(doc), encoding="utf-8")
    if provenance is not None:
        (out_path.parent / PROVENANCE_FILE).write_text(
            json.dumps(provenance.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
    return out_path
