"""Table 1 and Table 2 as printed (analysis_assets.manuscript_tables), their Word documents
(analysis_assets.docx_tables) and their HTML: on hand-made tables (fast) and on the demo."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import docx
import duckdb
import numpy as np
import pandas as pd
import pytest

from analysis_assets.comparisons import group_labels
from analysis_assets.descriptive_tables import characteristics
from analysis_assets.docx_tables import write_docx
from analysis_assets.formatting import format_p_value
from analysis_assets.labels import label, level_label
from analysis_assets.manuscript_tables import (
    CHARACTERISTIC,
    META_COLUMNS,
    display_digits,
    format_median_range,
    table1_layout,
    table2_layout,
    table_html,
)
from analysis_assets.rank_tests import compare_continuous
from analysis_assets.study import (
    TABLE1_CATEGORICAL,
    TABLE1_COMPARISONS,
    TABLE1_CONTINUOUS,
    TABLE_TITLES,
)
from analysis_assets.tables import write_tables

N_HEADER = re.compile(r"^(?:(?P<span>.+): )?(?P<group>.+), N = (?P<n>[\d,]+)$")
COUNT_PERCENT = re.compile(r"^(?P<n>\d+) \((?P<pct>\d+\.\d)%\)$")
SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"


# --------------------------------------------------------------------------- hand-made inputs
def _codes(text: str) -> list:
    """``"m f -"`` -> ``["m", "f", None]``."""
    return [None if code == "-" else code for code in text.split()]


def _flags(text: str) -> pd.array:
    """``"1 0 -"`` -> booleans with a missing value."""
    return pd.array([None if c == "-" else c == "1" for c in text.split()], dtype="boolean")


def _numbers(text: str) -> list[float]:
    return [np.nan if value == "-" else float(value) for value in text.split()]


def hand_mart() -> pd.DataFrame:
    """17 patients: missing values, a group left unknown, an 'unknown' code, and one patient
    of 16 with extramedullary disease (6.25% -> 6.3% half-up, 6.2% half-even)."""
    n = 17
    crs = pd.array(_numbers("0 1 2 3 1 0 2 1 4 1 0 2 3 1 2 1 -"), dtype="Int32")
    icans = pd.array(_numbers("0 0 1 3 0 0 0 2 0 0 0 1 0 0 0 0 -"), dtype="Int32")
    worst = np.fmax(crs.to_numpy(dtype=float, na_value=np.nan), icans.to_numpy(float, np.nan))
    group = np.select([worst == 0, worst >= 3, worst > 0], ["none", "grade_3_plus", "other"], "")
    return pd.DataFrame(
        {
            "patient_key": [f"p{i:02d}" for i in range(n)],
            "age_at_infusion": pd.array([20 + 3 * i for i in range(n)], dtype="Int64"),
            "prior_therapy_lines": _numbers("1 2 3 2 4 1 2 3 5 2 1 3 2 2 4 3 1"),
            "relapse_count": _numbers("0 1 1 2 0 1 3 0 1 1 0 2 1 0 1 1 2"),
            "bm_blasts_pct_pre": _numbers("5.5 12 40.25 - 80 3 25 60 7.5 33 2 18 90.5 11 45 21 -"),
            "cell_dose_per_kg": [0.4e6 + 0.17e6 * i for i in range(n)],
            "peak_il6_pg_ml": [10.0 * 1.6**i for i in range(n)],
            "peak_ferritin_ng_ml": [300.0 + 250 * i for i in range(n)],
            "sex": _codes("m f m m f f m f m f m f - m f m f"),
            "ph_status": [
                "unknown" if i == 3 else "positive" if i % 5 == 0 else "negative" for i in range(n)
            ],
            "disease_status": ["relapsed", "refractory"] * 8 + ["relapsed"],
            "prior_hsct": [i % 4 == 0 for i in range(n)],
            "bm_blasts_ge_20": _flags("0 0 1 - 1 0 1 1 0 1 0 0 1 0 1 1 -"),
            "extramedullary_pre": _flags("1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 -"),
            "crs_max_grade": crs,
            "icans_max_grade": icans,
            "toxicity_group": pd.Series(group, dtype=object).where(~np.isnan(worst)),
        }
    )


def hand_cox(estimable: bool = True) -> pd.DataFrame:
    """cox_multivariate as cox_tables writes it: OS estimable, LFS as asked."""
    covariates = "bm_blasts_ge_20 + received_steroids + received_tocilizumab + toxicity_group"
    base = {"model": "multivariate", "covariates": covariates}
    terms = [
        ("bm_blasts_ge_20", 0.8904, 0.4853, 1.6335, 0.7071, np.nan, np.nan),
        ("received_steroids", 0.547, 0.271, 1.103, 0.092, np.nan, np.nan),
        ("received_tocilizumab", 1.031, 0.512, 2.076, 0.932, np.nan, np.nan),
        ("toxicity_group[grade_3_plus]", 2.021, 0.653, 6.256, 0.222, np.nan, np.nan),
        ("toxicity_group[other]", 1.379, 0.611, 3.116, 0.439, np.nan, np.nan),
        ("toxicity_group (overall Wald test)", np.nan, np.nan, np.nan, 0.468, 1.52, 2),
    ]
    names = ["term", "hazard_ratio", "ci_lower", "ci_upper", "p_value"]
    names += ["wald_chi_square", "wald_df"]
    rows = [
        {**base, "endpoint": "OS", "n": 90, "events": 45, **dict(zip(names, values))}
        | {"estimable": True, "note": None}
        for values in terms
    ]
    if estimable:
        rows += [{**row, "endpoint": "LFS", "n": 83, "events": 40} for row in rows]
    else:
        rows.append(
            {**base, "endpoint": "LFS", "n": 3, "events": 0, "term": covariates}
            | {"estimable": False, "note": "not estimable: no events"}
        )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def mart() -> pd.DataFrame:
    return hand_mart()


@pytest.fixture(scope="module")
def table1(mart) -> pd.DataFrame:
    return table1_layout(characteristics(mart))


# --------------------------------------------------------------------------- helpers
def _shown(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["row_type"] != "footnote"]


def _p_and_marker(text: str) -> tuple[str, str]:
    return text.rstrip(SUPERSCRIPTS), text[len(text.rstrip(SUPERSCRIPTS)) :]


def _half_up(count: int, total: int) -> float:
    return float((Decimal(100 * count) / Decimal(total)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _column_patients(mart: pd.DataFrame, column: str) -> pd.Series:
    """Which patients a column of Table 1 holds (from its header, independently of the code)."""
    match = N_HEADER.match(column)
    span, group = match["span"], match["group"]
    if span is None:
        return pd.Series(True, index=mart.index)
    comparison = {label("toxicity_group", unit=False): "toxicity_group"}.get(span)
    comparison = comparison or ("crs" if span.startswith("CRS") else "icans")
    labels = group_labels(mart, comparison).fillna("")
    return labels.str.lower() == group.lower()


def _known_codes(mart: pd.DataFrame, column: str) -> pd.Series:
    values = mart[column].astype(object).where(mart[column].notna())
    return values.where(values != "unknown")


def _docx_texts(path) -> tuple[list[str], list[list[str]], list[str]]:
    """Column names (span: header), body cell texts and the footnotes of a Word table."""
    document = docx.Document(str(path))
    [table] = document.tables
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    spanning = rows[1][0] == CHARACTERISTIC
    names = [f"{s}: {h}" if s else h for s, h in zip(rows[0], rows[1])] if spanning else rows[0]
    paragraphs = [p.text for p in document.paragraphs]
    return names, rows[2 if spanning else 1 :], paragraphs[1:]


def assert_docx_matches_csv(docx_path, csv_path) -> None:
    csv = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    names, cells, notes = _docx_texts(docx_path)
    shown = [c for c in csv.columns if c not in META_COLUMNS]
    assert names == shown
    assert cells == _shown(csv)[shown].values.tolist()
    assert notes == csv.loc[csv["row_type"] == "footnote", CHARACTERISTIC].tolist()


# --------------------------------------------------------------------------- Table 1, hand-made
def test_table1_one_row_per_characteristic_and_level_with_unknown_rows(mart, table1):
    labels = table1[table1["row_type"] == "label"]
    assert labels[CHARACTERISTIC].tolist() == [
        label(c) for c in (*TABLE1_CONTINUOUS, *TABLE1_CATEGORICAL)
    ]
    for column in TABLE1_CATEGORICAL:
        rows = table1[(table1["variable"] == column) & (table1["row_type"] == "level")]
        codes = _known_codes(mart, column).dropna()
        expected = {level_label(column, c) for c in codes}
        assert set(rows[CHARACTERISTIC]) == expected and len(rows) == len(expected), column
    unknown = table1[table1["row_type"] == "missing"]
    expected_unknown = {
        c for c in (*TABLE1_CONTINUOUS, *TABLE1_CATEGORICAL) if _known_codes(mart, c).isna().any()
    }
    assert set(unknown["variable"]) == expected_unknown
    assert (unknown[CHARACTERISTIC] == "Unknown").all()
    # an 'unknown' code is unknown, not a level
    assert "unknown" not in set(table1[CHARACTERISTIC]) and "ph_status" in expected_unknown


def test_table1_columns_overall_groups_and_p_with_n_in_headers(mart, table1):
    shown = [c for c in table1.columns if c not in META_COLUMNS]
    assert shown[0] == CHARACTERISTIC and shown[1] == f"Overall, N = {len(mart)}"
    p_columns = [c for c in shown if c.endswith(": p-value")]
    assert len(p_columns) == len(TABLE1_COMPARISONS)
    groups = [c for c in shown[1:] if c not in p_columns]
    for column in groups:
        assert int(N_HEADER.match(column)["n"]) == int(_column_patients(mart, column).sum())
    crs = [c for c in groups if c.startswith("CRS")]
    assert [N_HEADER.match(c)["group"] for c in crs] == ["No CRS", "CRS"]
    assert sum(int(N_HEADER.match(c)["n"]) for c in crs) == len(mart) - 1


def test_table1_percentages_are_count_over_known_half_up(mart, table1):
    levels = table1[table1["row_type"] == "level"]
    groups = [c for c in table1.columns if N_HEADER.match(c)]
    checked = 0
    for row in levels.itertuples(index=False):
        values = dict(zip(table1.columns, row))
        column = values["variable"]
        known_codes = _known_codes(mart, column)
        codes = known_codes.map({c: level_label(column, c) for c in known_codes.dropna().unique()})
        for header in groups:
            members = _column_patients(mart, header)
            known = int(codes[members].notna().sum())
            count = int((codes[members] == values[CHARACTERISTIC]).sum())
            match = COUNT_PERCENT.match(values[header])
            assert match, values[header]
            assert int(match["n"]) == count
            assert float(match["pct"]) == _half_up(count, known)
            checked += 1
    assert checked > 50
    extramedullary = levels[(levels["variable"] == "extramedullary_pre")].set_index(CHARACTERISTIC)
    assert extramedullary.at["Yes", f"Overall, N = {len(mart)}"] == "1 (6.3%)"  # not 6.2%


def test_table1_unknown_rows_count_without_percentage(mart, table1):
    unknown = table1[table1["row_type"] == "missing"].set_index("variable")
    overall = f"Overall, N = {len(mart)}"
    assert unknown.at["bm_blasts_pct_pre", overall] == "2"
    assert unknown.at["ph_status", overall] == "1"  # the code 'unknown'
    assert unknown.at["sex", overall] == "1"
    assert not unknown.drop(columns=["row_type"]).apply(lambda c: c.str.contains("%")).any().any()


def test_table1_p_values_are_the_study_tests_with_footnoted_markers(mart, table1):
    age = table1[table1["variable"] == "age_at_infusion"].iloc[0]
    labels = group_labels(mart, "crs")
    ages = pd.to_numeric(mart["age_at_infusion"]).astype(float)
    expected = compare_continuous(*(ages[labels == g] for g in ("no CRS", "CRS")))
    crs_p = next(c for c in table1.columns if c.startswith("CRS") and c.endswith(": p-value"))
    p, marker = _p_and_marker(age[crs_p])
    assert p == format_p_value(expected.p) and marker
    notes = table1.loc[table1["row_type"] == "footnote", CHARACTERISTIC].tolist()
    assert any(n.startswith(f"{marker} Mann–Whitney U") for n in notes)
    markers = {
        _p_and_marker(text)[1]
        for c in table1.columns
        if c.endswith(": p-value")
        for text in table1.loc[table1["row_type"] == "label", c]
    }
    assert markers and all(any(n.startswith(f"{m} ") for n in notes) for m in markers)
    assert any("1 of 17 patients whose group is unknown" in n for n in notes)


def test_table1_continuous_cells_median_range_on_the_label_scale(table1):
    dose = table1[table1["variable"] == "cell_dose_per_kg"].iloc[0]
    assert "× 10⁶" in dose[CHARACTERISTIC]
    cells = [v for k, v in dose.items() if N_HEADER.match(str(k))]
    assert all(re.fullmatch(r"\d+\.\d{1,2} \(\d+\.\d{1,2}–\d+\.\d{1,2}\)", v) for v in cells)
    assert not table1.map(lambda v: "e+0" in str(v) or "nan" in str(v)).any().any()


def test_cell_formats_round_half_up():
    assert format_median_range(27.5, 22, 70, 0) == "27.5 (22–70)"
    assert format_median_range(1.25, 0.365, 3.0, 1) == "1.3 (0.4–3.0)"
    assert format_median_range(1234.5, 5.0, 25000.4, 0) == "1,234.5 (5–25,000)"
    assert display_digits([1, 2, 3]) == 0 and display_digits([0.4, 1.1, 3.8]) == 1
    assert display_digits([0.11, 0.2, 0.45]) == 2 and display_digits([1.5, 30.2, 90.0]) == 0


# --------------------------------------------------------------------------- Table 2, hand-made
def test_table2_reference_rows_wald_p_and_model_sizes():
    table = table2_layout(hand_cox())
    shown = _shown(table)
    headings = shown[shown["row_type"] == "heading"][CHARACTERISTIC].tolist()
    assert headings[0].startswith("Overall survival") and "N = 90, 45 events" in headings[0]
    assert "N = 83, 40 events" in headings[1]
    os_rows = shown[shown["endpoint"] == "OS"].set_index(CHARACTERISTIC)
    assert os_rows.at["Toxicity group", "p-value"] == "0.468"
    assert os_rows.at["Toxicity group", "HR (95% CI)"] == ""
    assert os_rows.at["No CRS/ICANS", "HR (95% CI)"] == "Reference"
    assert os_rows.at["Grade ≥ 3 CRS or ICANS", "HR (95% CI)"] == "2.02 (0.65–6.26)"
    assert os_rows.at["BM blasts ≥ 20% vs < 20%", "HR (95% CI)"] == "0.89 (0.49–1.63)"
    assert os_rows.at["BM blasts ≥ 20% vs < 20%", "p-value"] == "0.707"
    levels = shown[(shown["endpoint"] == "OS") & (shown["row_type"] == "level")]
    assert levels[CHARACTERISTIC].tolist()[0] == "No CRS/ICANS"  # the reference first
    texts = " ".join(table.drop(columns=list(META_COLUMNS)).to_numpy().ravel())
    assert "[" not in texts and "nan" not in texts.lower() and "_" not in texts
    assert "note" not in table.columns


def test_table2_not_estimable_model_in_words():
    table = table2_layout(hand_cox(estimable=False))
    lfs = table[table["endpoint"] == "LFS"]
    assert lfs[CHARACTERISTIC].tolist()[1] == "Model not estimable: no events"
    assert len(lfs) == 2


# --------------------------------------------------------------------------- export, hand-made
def test_docx_and_csv_hold_the_same_texts(mart, tmp_path):
    tables = {"table1": table1_layout(characteristics(mart)), "table2": table2_layout(hand_cox())}
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        write_tables(conn, tables, tmp_path / "tables")
        stored = conn.execute('select * from analysis."table1"').df()
    assert stored.columns.tolist() == tables["table1"].columns.tolist()
    for name in tables:
        assert_docx_matches_csv(
            tmp_path / "tables" / f"{name}.docx", tmp_path / f"tables/{name}.csv"
        )
    document = docx.Document(str(tmp_path / "tables" / "table1.docx"))
    assert document.paragraphs[0].text == TABLE_TITLES["table1"]
    assert document.sections[0].page_width > document.sections[0].page_height  # landscape
    first_label = document.tables[0].rows[2].cells[0].paragraphs[0]
    assert first_label.runs[0].bold


def test_docx_comparison_fails_on_a_changed_cell(mart, tmp_path):
    table = table2_layout(hand_cox())
    write_docx(table, "Table 2", tmp_path / "t.docx")
    table.loc[1, "p-value"] = "0.999"
    table.to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(AssertionError):
        assert_docx_matches_csv(tmp_path / "t.docx", tmp_path / "t.csv")


def test_table_html_spanning_header_indent_footnotes_escaped(table1):
    evil = table1.copy()
    evil.loc[0, CHARACTERISTIC] = "<script>alert(1)</script>"
    text = table_html(evil, title="Table 1 & more", table_id="t1")
    assert "<script>" not in text and "&lt;script&gt;" in text and "http" not in text
    assert '<caption style="text-align:left;font-weight:bold">Table 1 &amp; more' in text
    assert 'colspan="4"' in text and ">Toxicity group</th>" in text  # 3 groups and p
    assert text.count('<tr class="level">') == int((table1["row_type"] == "level").sum())
    assert "padding-left" in text and text.count("<tfoot>") == 1
    notes = table1.loc[table1["row_type"] == "footnote", CHARACTERISTIC]
    assert all(n.replace("'", "&#x27;") in text for n in notes)


# --------------------------------------------------------------------------- the demo
@pytest.fixture(scope="module")
def demo_tables(demo) -> dict[str, pd.DataFrame]:
    with demo.connect() as conn:
        return {
            name: conn.execute(f"select * from {name}").df()
            for name in (
                "mart.patient_outcomes",
                "analysis.characteristics",
                "analysis.table1",
                "analysis.table2",
                "analysis.cox_multivariate",
            )
        }


def test_demo_table1_rows_p_columns_and_percentages(demo_tables):
    mart, long, table = (
        demo_tables["mart.patient_outcomes"],
        demo_tables["analysis.characteristics"],
        demo_tables["analysis.table1"],
    )
    assert table.equals(table1_layout(long))
    labels = table[table["row_type"] == "label"][CHARACTERISTIC].tolist()
    assert labels == [label(c) for c in (*TABLE1_CONTINUOUS, *TABLE1_CATEGORICAL)]
    levels = long[(long["comparison"] == "overall") & ~long["level"].isin(["missing"])]
    categorical_levels = levels[levels["variable"].isin(TABLE1_CATEGORICAL)]
    assert (table["row_type"] == "level").sum() == len(categorical_levels)
    assert f"Overall, N = {len(mart)}" in table.columns
    assert sum(c.endswith(": p-value") for c in table.columns) == len(TABLE1_COMPARISONS)
    known = long[long["level"] != "missing"].dropna(subset=["pct"])
    assert len(known) > 50
    for row in known.itertuples():
        assert row.pct == _half_up(row.n, row.denominator)
        assert row.value == f"{row.n} ({row.pct:.1f}%)"
    sex = table[(table["variable"] == "sex") & (table["row_type"] != "label")]
    overall = sex.set_index(CHARACTERISTIC)[f"Overall, N = {len(mart)}"]
    male, known_sex = int((mart["sex"] == "m").sum()), int(mart["sex"].notna().sum())
    assert overall["Male"] == f"{male} ({_half_up(male, known_sex):.1f}%)"
    assert int(overall.get("Unknown", "0")) == len(mart) - known_sex


def test_demo_table2_reference_rows_and_wald_p(demo_tables):
    table, cox = demo_tables["analysis.table2"], demo_tables["analysis.cox_multivariate"]
    assert table.equals(table2_layout(cox))
    for endpoint in ("OS", "LFS"):
        rows = table[table["endpoint"] == endpoint].set_index(CHARACTERISTIC)
        model = cox[cox["endpoint"] == endpoint].set_index("term")
        wald = model.at["toxicity_group (overall Wald test)", "p_value"]
        assert rows.at["Toxicity group", "p-value"] == format_p_value(wald)
        assert rows.at["No CRS/ICANS", "HR (95% CI)"] == "Reference"
        heading = rows.index[0]
        assert f"N = {model['n'].iloc[0]}, {model['events'].iloc[0]} events" in heading


def test_demo_publishes_the_documents_with_the_csvs(demo):
    folder = demo.output / "tables"
    for name in ("table1", "table2"):
        assert_docx_matches_csv(folder / f"{name}.docx", folder / f"{name}.csv")
    assert (folder / "characteristics.csv").exists()
    assert not list(demo.output.glob(".next-*")), "a staging folder was left behind"


def test_fisher_footnotes_say_how_p_was_obtained():
    from analysis_assets.categorical import compare_categorical
    from analysis_assets.descriptive_tables import _categorical_note

    table = [[3, 1, 0], [0, 2, 4], [1, 0, 3]]
    exact = _categorical_note(compare_categorical(table))
    monte_carlo = _categorical_note(compare_categorical(table, max_tables=1, n_resamples=2000))
    assert exact == "Fisher–Freeman–Halton exact test"
    assert monte_carlo.startswith("Fisher–Freeman–Halton test, Monte Carlo p-value")
    assert "2,000 random tables" in monte_carlo and "seed 20240501" in monte_carlo
    assert _categorical_note(compare_categorical([[2, 8], [7, 3]])) == "Fisher's exact test"
    chi = _categorical_note(compare_categorical([[20, 30], [35, 15]]))
    assert chi.startswith("Pearson's chi-squared")


def test_table_html_without_spans_has_one_header_row():
    text = table_html(table2_layout(hand_cox()))
    assert text.count("<tr><th") == 1 and "colspan" not in text.split("<tbody>")[0]
    assert '<tr class="heading"><td style="font-weight:bold">Overall survival' in text
