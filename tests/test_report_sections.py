"""The report as a list of sections: each section on its own, and a new one added by one entry."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

from analysis_assets import report as report_module
from analysis_assets.figures import forest_plot
from analysis_assets.formatting import term_label
from analysis_assets.report import (
    REPORT_SECTIONS,
    RESULTS_SECTIONS,
    ReportInputs,
    build_report,
    multivariate_sentences,
    results_sentences,
    tables_section,
)
from analysis_assets.study import TABLE_TITLES

COX = pd.DataFrame(
    {
        "endpoint": ["OS", "OS", "OS"],
        "term": [
            "received_steroids",
            "toxicity_group[grade_3_plus]",
            "toxicity_group (overall Wald test)",
        ],
        "description": [
            "received corticosteroids",
            "three-level toxicity group",
            "three-level toxicity group",
        ],
        "hazard_ratio": [0.805, 2.5, np.nan],
        "ci_lower": [0.4, 1.1, np.nan],
        "ci_upper": [1.6, 5.7, np.nan],
        "p_value": [0.5, 0.0455, 0.25],
        "n": [40] * 3,
        "events": [12] * 3,
        "estimable": [True, True, True],
        "note": [None] * 3,
    }
)


def test_results_sections_in_order():
    assert [heading for heading, _ in RESULTS_SECTIONS] == [
        "Cohort",
        "Toxicity and its treatment",
        "Response",
        "Biomarkers",
        "Survival",
        "Multivariate analysis",
        "Robustness",
        "Data completeness",
        "Printed numbers",
    ]


@pytest.mark.parametrize(("heading", "sentences"), RESULTS_SECTIONS)
def test_sentence_sections_are_empty_without_their_tables(heading, sentences):
    assert sentences({}) == []


def test_only_sections_with_something_to_say_are_printed():
    assert list(results_sentences({"analysis.cox_multivariate": COX})) == [
        "Multivariate analysis",
    ]
    assert list(results_sentences({"analysis.follow_up": pd.DataFrame()})) == []


def test_multivariate_sentence_and_forest_plot_use_the_same_term_labels(tmp_path):
    [sentence] = multivariate_sentences({"cox_multivariate": COX})
    assert sentence.startswith("In the multivariate Cox model for OS (n = 40, 12 events): ")
    assert "received corticosteroids HR 0.81 (95% CI 0.40–1.60), p = 0.500" in sentence
    assert (
        "three-level toxicity group: grade ≥ 3 CRS or ICANS vs no CRS/ICANS HR 2.50 "
        "(95% CI 1.10–5.70), p = 0.046" in sentence
    )
    assert "three-level toxicity group (overall Wald test) p = 0.250" in sentence
    svg = next(p for p in forest_plot(COX, tmp_path) if p.suffix == ".svg")
    drawn = " ".join(html.unescape(c) for c in re.findall(r"<!-- (.*?) -->", svg.read_text()))
    drawn = re.sub(r"\s+", " ", drawn)
    for term, description in zip(COX["term"], COX["description"]):
        assert term_label(term, description) in sentence
    # the forest draws a heading per covariate and its levels (reference first), with the
    # same numbers as the sentence (HR half-up, en dash)
    assert "Received corticosteroids No Reference Yes 0.81 (0.40–1.60) 0.500" in drawn
    assert (
        "Toxicity group no CRS/ICANS Reference grade ≥ 3 CRS or ICANS 2.50 (1.10–5.70) 0.046"
        in drawn
    )
    assert "Overall (Wald test) Wald test 0.250" in drawn


def test_tables_section_titles_come_from_the_study():
    inputs = ReportInputs(
        tables={"cox_multivariate": COX, "patient_outcomes": pd.DataFrame({"x": [1]})},
        figures={},
        provenance=None,
    )
    text = "".join(tables_section(inputs))
    assert f"<h3>{html.escape(TABLE_TITLES['cox_multivariate'])}</h3>" in text
    assert 'id="table-cox_multivariate"' in text
    assert "patient_outcomes" not in text  # patient-level tables are never printed


def test_a_new_section_is_one_function_and_one_entry(tmp_path, monkeypatch):
    def robustness_section(inputs: ReportInputs) -> list[str]:
        return ["<h2>Robustness</h2>", f"<p>{len(inputs.tables)} tables checked.</p>"]

    def robustness_sentences(tables) -> list[str]:
        return ["Nothing changed."] if "cox_multivariate" in tables else []

    monkeypatch.setattr(
        report_module,
        "REPORT_SECTIONS",
        REPORT_SECTIONS[:-1] + (robustness_section,) + REPORT_SECTIONS[-1:],
    )
    monkeypatch.setattr(
        report_module,
        "RESULTS_SECTIONS",
        RESULTS_SECTIONS + (("Sensitivity", robustness_sentences),),
    )
    text = build_report({"analysis.cox_multivariate": COX}, [], None, tmp_path / "r.html")
    text = text.read_text(encoding="utf-8")
    assert "<h2>Robustness</h2>\n<p>1 tables checked.</p>" in text
    assert text.index("<h2>Tables</h2>") < text.index("<h2>Robustness</h2>")
    assert "<h3>Sensitivity</h3>\n<p>Nothing changed.</p>" in text


def test_completeness_says_what_was_nulled_held_back_and_left_out():
    from analysis_assets.report import completeness_sentences

    po = pd.DataFrame(
        {
            "sex": ["m", None, "f", "f"],
            "age_at_infusion": [30, 40, 50, 60],
            "crs_max_grade": [0, 1, None, 2],
            "icans_max_grade": [0, 0, 0, 1],
            "os_months": [1.0, 2.0, 3.0, None],
            "os_event": [1, 0, 1, None],
        }
    )
    tables = {
        "patient_outcomes": po,
        "intake_nulled_values": pd.DataFrame(
            {"entity": ["patients"], "column_name": ["sex"], "values": [1]}
        ),
        "intake_rows_held_back": pd.DataFrame({"rule": ["conflicting_duplicate"], "rows": [2]}),
        "cox_multivariate": COX.assign(endpoint="OS", n=2, covariates="sex"),
    }
    lines = completeness_sentences(tables)
    assert lines[0].startswith("At intake, 1 delivered values that broke the extract format")
    assert lines[0].endswith("(Sex (patients): 1).")
    assert "by reason (a row may have several): conflicting duplicate 2." in lines[1]
    assert "Sex on 3 of 4 (1 unknown)" in lines[2]
    assert lines[3].startswith("1 of 4 patients could not be graded for CRS or ICANS")
    assert lines[4] == (
        "The multivariate Cox model of OS used 2 of the 3 patients of its population (all "
        "infused patients); 1 left out for a missing covariate (Sex unknown for 1)."
    )


def test_sections_in_the_order_a_reader_needs_them(tmp_path):
    from tests.analysis_inputs import PROVENANCE, analysis_tables

    text = build_report(analysis_tables(), [], PROVENANCE, tmp_path / "r.html").read_text(
        encoding="utf-8"
    )
    order = [
        "<h1>",
        "<p>Data cut-off: 2023-03-01.</p>",
        '<table id="deliveries">',
        "<h2>Methods</h2>",
        "<h2>Results</h2>",
        "<h2>Tables</h2>",
        "<h2>Provenance</h2>",
    ]
    positions = [text.index(marker) for marker in order]
    assert positions == sorted(positions)
    opening = text[: text.index("<h2>Methods</h2>")]
    for delivery in PROVENANCE.deliveries:
        assert f"<code>{delivery.fingerprint[:12]}</code>" in opening
        assert delivery.fingerprint not in opening  # the whole one is in the provenance table
    assert "1 March 2023" in opening and PROVENANCE.code_version in opening


def test_tables_have_human_headers_and_no_nan():
    inputs = ReportInputs(tables={"cox_multivariate": COX}, figures={}, provenance=None)
    text = "".join(tables_section(inputs))
    headers = re.findall(r"<th>(.*?)</th>", text)
    assert "p" in headers and "HR" in headers and "95% CI, lower" in headers
    assert not {"p_value", "ci_lower", "hazard_ratio", "note"} & set(headers)  # note: all empty
    cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", text)]
    assert "nan" not in cells and "None" not in cells
    assert "Toxicity group: grade ≥ 3 CRS or ICANS" in cells
    assert not any("[" in c for c in cells)


def test_medians_not_reached_print_nr_in_tables_and_sentences():
    medians = pd.DataFrame(
        {
            "endpoint": ["OS"],
            "comparison": ["overall"],
            "group": ["all patients"],
            "n": [20],
            "events": [6],
            "median_months": [np.nan],
            "median_ci_lower": [30.25],
            "median_ci_upper": [None],
        }
    )
    table = "".join(tables_section(ReportInputs({"survival_medians": medians}, {}, None)))
    assert table.count('<td class="num">NR</td>') == 2 and "nan" not in table
    [sentence] = results_sentences({"survival_medians": medians})["Survival"]
    assert "was NR (95% CI 30.3–NR)" in sentence and "(n = 20, 6 events)" in sentence


def test_manuscript_tables_come_first_with_their_own_renderer():
    from analysis_assets.manuscript_tables import table2_layout

    cox = COX.assign(
        covariates="received_steroids + toxicity_group",
        model="multivariate",
        wald_chi_square=[np.nan, np.nan, 2.8],
        wald_df=[np.nan, np.nan, 2],
    )
    table2 = table2_layout(cox)
    inputs = ReportInputs(
        tables={"cox_multivariate": COX, "km_estimates": COX, "table2": table2},
        figures={},
        provenance=None,
    )
    text = "".join(tables_section(inputs))
    assert text.index('id="table-table2"') < text.index('id="table-cox_multivariate"')
    assert '<table class="manuscript-table" id="table-table2">' in text
    assert text.index('<details id="appendix">') < text.index('id="table-km_estimates"')
    assert text.index('<details id="appendix">') > text.index('id="table-table2"')
