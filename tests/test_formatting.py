"""The study's printing of numbers: one p-value format for figures, sentences and tables."""

from __future__ import annotations

import html
import math
import re

import numpy as np
import pandas as pd
import pytest

from analysis_assets.figures import figure1_response_bars
from analysis_assets.formatting import (
    by_table_name,
    comparison_label,
    format_number,
    format_p,
    format_p_value,
    format_percent,
    median_range,
    strip_schema,
    table_median_range,
    term_label,
)
from analysis_assets.report import render_table, results_sentences

#: p -> as printed: half-up to 3 decimals, "< 0.001" when the rounded value is below 0.001
P_EDGES = [
    (0.0455, "0.046"),
    (0.25, "0.250"),
    (0.00049, "< 0.001"),
    (0.05, "0.050"),
    (0.0005, "0.001"),
    (math.nan, "n/a"),
]
EDGE_COMPARISONS = ("crs", "icans", "crs_and_icans", "crs_grade", "icans_grade", "toxicity_group")


@pytest.mark.parametrize(("p", "printed"), P_EDGES)
def test_p_value_rounding_edges(p, printed):
    assert format_p_value(p) == printed
    assert format_p_value(np.float64(p)) == printed
    assert format_p(p) == ("p < 0.001" if printed.startswith("<") else f"p = {printed}")


def test_p_value_missing_and_large():
    assert format_p_value(None) == format_p_value(pd.NA) == "n/a"
    assert format_p_value(1.0) == "1.000"
    assert format_p_value(0.1) == "0.100"  # no 2-decimal rule above 0.1


def _response_rates() -> pd.DataFrame:
    """Two groups per comparison; each comparison carries one of the edge p-values."""
    rows = []
    for comparison, (p, _) in zip(EDGE_COMPARISONS, P_EDGES):
        for group, n, k in (("a", 10, 8), ("b", 12, 6)):
            rows.append(
                {
                    "response": "cr_day30",
                    "basis": "all_infused",
                    "comparison": comparison,
                    "group": group,
                    "n": n,
                    "responders": k,
                    "rate_pct": 100 * k / n,
                    "test": "fisher",
                    "p_value": p,
                }
            )
    return pd.DataFrame(rows)


def _svg_texts(path) -> str:
    # matplotlib draws text as glyph paths but keeps each string in an SVG comment
    return "\n".join(html.unescape(c) for c in re.findall(r"<!-- (.*?) -->", path.read_text()))


def test_same_p_in_figure_sentence_and_table(tmp_path):
    rates = _response_rates()
    [png, _pdf, svg] = figure1_response_bars(rates, tmp_path)
    assert png.suffix == ".png"
    drawn = _svg_texts(svg)
    verdict, *sentences = results_sentences({"analysis.response_rates": rates})["Response"]
    assert verdict.startswith("The rate of CR at day 30 ")
    sentence = " ".join(sentences)
    table = render_table(rates)
    cells = re.findall(r'<td class="num">([^<]*)</td></tr>', table)  # p_value: last column
    assert len(cells) == len(rates)
    for comparison, (p, printed) in zip(EDGE_COMPARISONS, P_EDGES):
        expected = format_p(p)
        assert f"Fisher's exact test, {expected}" in drawn, (p, expected)
        assert f"by {comparison_label(comparison)}: " in sentence
        said = "not tested" if math.isnan(p) else f"Fisher's exact test, {expected}."
        assert said in sentence, (p, expected)
        in_table = {c for c, row in zip(cells, rates.itertuples()) if row.comparison == comparison}
        assert in_table == {html.escape(printed)}, (p, in_table)


def test_numbers_percent_and_median_range():
    assert format_number(30.25) == "30.3"  # half-up, not banker's
    assert format_number(2.675, 2) == "2.68"
    assert format_number(12.0) == "12" and format_number(1234567) == "1,234,567"
    assert format_number(None) == format_number(math.nan) == "n/a"
    assert format_percent(3, 16) == "18.8%" and format_percent(1, 0) == "n/a"
    assert median_range(pd.Series([22, 28, 70, None]), "years") == "28 years (range 22–70)"
    assert median_range(pd.Series([], dtype=float)) == "n/a"


def test_table_median_range_is_the_frozen_table_format():
    assert table_median_range(pd.Series([1.0e6, 1.1e6, 2.5e6])) == "1.1e+06 (1e+06-2.5e+06)"
    assert table_median_range(pd.Series([5, 1, 14, None])) == "5 (1-14)"
    assert table_median_range(pd.Series([], dtype=float)) == "-"


def test_labels():
    assert comparison_label("crs") == "CRS (any grade) vs none"
    assert comparison_label("bm_blasts_ge_20") == "BM blasts ≥ 20%"  # its label
    assert comparison_label("not_a_column") == "not_a_column"
    group = "three-level toxicity group"
    assert (
        term_label("toxicity_group[grade_3_plus]", group)
        == "three-level toxicity group: grade ≥ 3 CRS or ICANS vs no CRS/ICANS"
    )
    assert term_label("toxicity_group[other]", group) == (
        "three-level toxicity group: grade 1–2 CRS and/or ICANS vs no CRS/ICANS"
    )
    assert term_label("toxicity_group (overall Wald test)", group) == (
        "three-level toxicity group (overall Wald test)"
    )
    assert term_label("received_steroids", "received corticosteroids") == (
        "received corticosteroids"
    )
    assert term_label("unknown[x]", "something") == "something: x vs reference"


def test_schema_prefix():
    assert strip_schema("analysis.table1") == "table1" and strip_schema("table1") == "table1"
    assert by_table_name({"mart.patient_outcomes": 1, "logrank_tests": 2}) == {
        "patient_outcomes": 1,
        "logrank_tests": 2,
    }


def test_count_of_states_the_denominator_and_rounds_half_up():
    from analysis_assets.formatting import count_of

    assert count_of(75, 92, "gradable patients") == "75 of 92 gradable patients (81.5%)"
    assert count_of(3, 16) == "3 of 16 (18.8%)"  # 18.75 -> 18.8 (half-up)
    assert count_of(1, 8) == "1 of 8 (12.5%)" and count_of(0, 0) == "0 of 0 (n/a)"


def test_estimates_with_ci_print_nr_when_not_reached():
    from analysis_assets.formatting import format_estimate_ci

    assert format_estimate_ci(40.05, 30.2, None, "months") == "40.1 months (95% CI 30.2–NR)"
    assert format_estimate_ci(None, 12.0, math.nan, "months") == "NR (95% CI 12–NR)"
    assert format_estimate_ci(0.5, 0.25, 0.75, level=90) == "0.5 (90% CI 0.3–0.8)"  # half-up


def test_column_and_test_labels_and_dates():
    from datetime import date

    from analysis_assets.formatting import (
        column_label,
        format_date,
        format_power_of_ten,
        test_label,
    )

    assert column_label("peak_il6_pg_ml") == "Peak IL-6, pg/mL"  # the registry's label
    assert column_label("il6_pg_ml") == "il6, pg/mL"  # an extract-format field, in words
    assert column_label("copies_per_ug_gdna") == "copies per µg gDNA"
    assert "_" not in column_label("some_raw_field")
    assert test_label("fisher") == "Fisher's exact test" and test_label("other") == "other"
    assert format_date(date(2023, 3, 1)) == "1 March 2023"
    assert format_power_of_ten(1e-10) == "10⁻¹⁰" and format_power_of_ten(2.5e-4) == "2.5 × 10⁻⁴"
    assert format_power_of_ten(3) == "3"


def test_a_delivered_field_is_named_by_the_extract_format():
    from analysis_assets.labels import field_label
    from models.extract_format import ENTITIES

    assert field_label("daily_observations", "tmax_c") == "Highest temperature that day, °C"
    assert field_label("daily_observations", "hypotension") == "Hypotension"
    assert field_label("patients", "sex") == "Sex"  # the study's own label
    assert field_label("labs", "no_such_field") == "no such field"
    # every field has a label of words: no snake_case reaches the report's intake sentence
    for name, entity in ENTITIES.items():
        for column in entity.columns:
            text = field_label(name, column.name)
            assert text and "_" not in text, (name, column.name, text)


def test_table1_group_columns_are_documented_at_registry_scale():
    """A group of 1,000 or more prints its N with a thousands comma; the analyst package's
    codebook must still give the column a meaning (publication stops otherwise)."""
    from analysis_assets.column_docs import column_meaning

    for header in (
        "Overall, N = 93",
        "Overall, N = 10,000",
        "CRS (any grade) vs none: CRS, N = 1,076",
    ):
        meaning = column_meaning("table1", header)
        assert meaning and header.rsplit("N = ", 1)[1] in meaning, header
    assert column_meaning("table1", "Overall, N = 10000,0") is None
