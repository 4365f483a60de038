"""The audit of printed numbers (analysis_assets/number_audit.py): the transcription of the
study's numbers is verbatim, the study's misprints are found, the edge cases of rounding, and
the same audit finds nothing in this project's own tables of the session demo."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest

from analysis_assets.column_docs import column_meaning
from analysis_assets.number_audit import (
    CHECK_CENTRE,
    CHECK_P,
    FINDING_COLUMNS,
    MATCH,
    MISMATCH,
    audit_publication,
    check_hazard_ratio,
    check_percentage,
    decimals,
    published_numbers,
    rounding_interval,
)
from analysis_assets.report import results_sentences
from analysis_assets.report_numbers import audit_report_tables, number_audit
from analysis_assets.study import ANALYSES

#: the paper's text (CC BY 4.0), a copy of ../shared/reference/paper-ma-2024-...txt
PAPER = Path(__file__).parent / "reference" / "paper-ma-2024-crs-icans-cart-ball.txt"
#: the tables the report prints that the audit reads
OWN_TABLES = ANALYSES["audit_analysis"].analysis_inputs
WHERE = {"source": "test", "location": "here", "quantity": "q"}


# --------------------------------------------------------------------------- transcription
def test_every_quote_occurs_verbatim_in_the_paper():
    text = PAPER.read_text(encoding="utf-8")
    numbers = published_numbers()
    rows = numbers["percentages"] + numbers["hazard_ratios"]
    assert len(numbers["percentages"]) == 10 and len(numbers["hazard_ratios"]) == 14
    for row in rows:
        assert row["quote"] in text, row["quantity"]


def test_every_transcribed_number_is_in_its_quote():
    """A number changed in the transcription but not in its quote (or the reverse) fails."""
    numbers = published_numbers()
    for row in numbers["percentages"]:
        count = row.get("count_as_printed", str(row["count"]))
        assert f"{count} ({row['printed']}%)" in row["quote"], row["quantity"]
    for row in numbers["hazard_ratios"]:
        quote = row["quote"]
        position = quote.index(row["hazard_ratio"])
        for key in ("ci_lower", "ci_upper", "p_value"):
            found = quote.index(row[key], position + 1)
            assert found > position, (row["quantity"], key)
            position = found


def test_the_paper_copy_is_the_shared_reference_when_present():
    shared = Path(__file__).resolve().parents[2] / "shared" / "reference" / PAPER.name
    if not shared.exists():
        pytest.skip(f"{shared} not on this machine")
    assert shared.read_bytes() == PAPER.read_bytes()


# --------------------------------------------------------------------------- the paper's audit
def test_the_papers_misprints_are_found_and_only_they():
    audit = audit_publication()
    assert list(audit.columns) == FINDING_COLUMNS
    wrong = audit[audit["verdict"] == MISMATCH]
    assert wrong["quantity"].tolist() == [
        "ICANS (any grade), abstract",
        "ICANS (any grade), results",
        "severe ICANS, results",
        "tocilizumab, results",
    ]
    assert wrong["printed"].tolist() == ["5.3%", "5.3%", "2.65%", "48.3%"]
    assert wrong["recomputed"].tolist() == ["17.2%", "17.2%", "8.60%", "48.4%"]
    right = audit[audit["verdict"] == MATCH]
    assert {"81.7%", "20.4%", "16.1%", "54.8%", "92.5%"} <= set(right["printed"])
    # every hazard ratio of the paper agrees with its CI and p
    assert (audit.loc[audit["check"].isin([CHECK_CENTRE, CHECK_P]), "verdict"] == MATCH).all()
    assert (audit["check"] == CHECK_P).sum() == 14


# --------------------------------------------------------------------------- rounding
@pytest.mark.parametrize(
    ("text", "digits", "interval"),
    [
        ("0.250", 3, (0.2495, 0.2505)),
        ("5.3", 1, (5.25, 5.35)),
        ("1,338", 0, (1337.5, 1338.5)),
        ("< 0.001", 3, (0.0, 0.001)),
        ("0", 0, (0.0, 0.5)),
    ],
)
def test_a_printed_number_stands_for_its_rounding_interval(text, digits, interval):
    assert decimals(text) == digits
    assert rounding_interval(text) == pytest.approx(interval, abs=1e-15)


def test_text_that_is_no_number_is_refused():
    with pytest.raises(ValueError, match="not a printed number"):
        rounding_interval("n/a")


@pytest.mark.parametrize(
    ("count", "total", "printed", "verdict"),
    [
        (16, 93, "17.2", MATCH),
        (16, 93, "5.3", MISMATCH),
        (45, 93, "48.4", MATCH),
        (45, 93, "48.3", MISMATCH),
        (8, 93, "8.60", MATCH),
        (8, 93, "8.6", MATCH),
        (8, 93, "2.65", MISMATCH),
        (0, 12, "0.0", MATCH),
        (0, 12, "0", MATCH),
        (0, 12, "0.1", MISMATCH),
        (16, 16, "100.0", MATCH),
        (16, 16, "100", MATCH),
        (15, 16, "100", MISMATCH),  # 93.75
        (1, 8, "13", MATCH),  # 12.5 half up, not to even
        (1, 8, "12", MISMATCH),
        (1, 16, "6.3", MATCH),  # 6.25
        (1, 16, "6.2", MISMATCH),
        (3, 0, "0.0", MISMATCH),  # no denominator
    ],
)
def test_percentage_rounded_half_up_to_the_printed_decimals(count, total, printed, verdict):
    assert check_percentage(count, total, printed, **WHERE).verdict == verdict


# --------------------------------------------------------------------------- hazard ratios
def _verdicts(hr, lower, upper, p):
    return [f.verdict for f in check_hazard_ratio(hr, lower, upper, p, **WHERE)]


def test_a_consistent_hazard_ratio_matches():
    assert _verdicts("2.021", "0.653", "6.256", "0.222") == [MATCH, MATCH]


def test_a_hazard_ratio_off_the_centre_of_its_ci_is_found():
    assert _verdicts("2.100", "0.653", "6.256", "0.222")[0] == MISMATCH
    assert _verdicts("7.000", "0.653", "6.256", None) == [MISMATCH]  # outside its CI


def test_a_p_that_does_not_follow_from_hr_and_ci_is_found():
    assert _verdicts("2.021", "0.653", "6.256", "0.220") == [MATCH, MISMATCH]
    assert _verdicts("2.021", "0.653", "6.256", "0.022") == [MATCH, MISMATCH]


def test_p_printed_as_below_a_bound():
    # ln 3 / ((ln 4.5 - ln 2) / 3.92): z = 5.3, p ~ 1e-7
    assert _verdicts("3.00", "2.00", "4.50", "< 0.001") == [MATCH, MATCH]
    assert _verdicts("3.00", "2.00", "4.50", "0.012") == [MATCH, MISMATCH]
    # p ~ 0.011: not below 0.001
    assert _verdicts("2.00", "1.17", "3.42", "< 0.001") == [MATCH, MISMATCH]


def test_limits_printed_with_fewer_decimals_widen_what_is_allowed():
    # "0.25" stands for 0.245-0.255: p 0.678 and HR 0.785 still agree with it
    assert _verdicts("0.785", "0.25", "2.466", "0.678") == [MATCH, MATCH]
    assert _verdicts("0.79", "0.25", "2.47", "0.68") == [MATCH, MATCH]
    # but not a p that no value of the interval gives
    assert _verdicts("0.785", "0.25", "2.466", "0.600")[1] == MISMATCH


def test_p_printed_without_decimals():
    assert _verdicts("1.00", "0.50", "2.00", "1") == [MATCH, MATCH]
    assert _verdicts("1.00", "0.50", "2.00", "0") == [MATCH, MISMATCH]


def test_a_ratio_printed_as_zero_cannot_be_checked_on_the_log_scale():
    with pytest.raises(ValueError, match="log scale"):
        check_hazard_ratio("0.0", "0.00", "1.00", None, **WHERE)


# --------------------------------------------------------------------------- our own report
@pytest.fixture(scope="module")
def own_tables(demo) -> dict[str, pd.DataFrame]:
    with demo.connect() as conn:
        return {name: conn.execute(f"select * from analysis.{name}").df() for name in OWN_TABLES}


def test_the_same_audit_finds_nothing_in_our_own_tables(own_tables):
    audit = audit_report_tables(own_tables)
    assert set(audit["source"]) == set(OWN_TABLES)  # every table gave numbers to check
    counts = audit.groupby("check").size()
    assert counts.min() >= 30, counts
    wrong = audit[audit["verdict"] != MATCH]
    assert wrong.empty, wrong.to_string()


def test_the_audit_of_our_tables_can_fail(own_tables):
    """A printed cell changed in Table 1, Table 2 or a Cox table is found."""
    tables = {name: df.copy() for name, df in own_tables.items()}
    table1, table2 = tables["table1"], tables["table2"]
    column = next(c for c in table1.columns if c.startswith("Overall, N = "))
    level = table1.index[table1[column].astype(str).str.contains("%")][0]
    count, pct = table1.at[level, column].split(" (")
    table1.at[level, column] = f"{count} ({float(pct.rstrip('%)')) + 0.1:.1f}%)"
    row = table2.index[table2["p-value"].str.match(r"^0\.\d{3}$") & (table2["HR (95% CI)"] != "")]
    table2.at[row[0], "p-value"] = f"{float(table2.at[row[0], 'p-value']) / 2:.3f}"
    tables["cox_univariate"].loc[0, "hazard_ratio"] *= 1.2
    wrong = audit_report_tables(tables)
    wrong = wrong[wrong["verdict"] == MISMATCH]
    assert sorted(set(wrong["source"])) == ["cox_univariate", "table1", "table2"]
    assert len(wrong) == 3


def test_number_audit_table_is_documented_and_ends_with_our_tables(own_tables):
    table = number_audit(own_tables)
    assert list(table.columns) == FINDING_COLUMNS
    assert table["source"].iloc[0] == "publication" and table["source"].iloc[-1] != "publication"
    assert all(column_meaning("number_audit", c) for c in table.columns)


def test_the_report_says_what_was_checked_and_what_does_not_match(own_tables):
    own = audit_report_tables(own_tables)
    assert "Printed numbers" not in results_sentences(own_tables)  # it reads number_audit
    tables = {**own_tables, "number_audit": number_audit(own_tables)}
    first, second = results_sentences(tables)["Printed numbers"]
    assert first.startswith(
        "Of the study's printed numbers, 10 percentages were recomputed from their counts and "
        "denominators and 14 hazard ratios checked against their 95% CI and p"
    )
    assert "4 do not match (ICANS (any grade), abstract: printed 5.3%, recomputed 17.2%;" in first
    assert "tocilizumab, results: printed 48.3%, recomputed 48.4%)" in first
    percentages = int((own["check"] == "percentage from count and denominator").sum())
    assert second == (
        f"The same audit of this report's own tables ({percentages} percentages, "
        f"{int((own['check'] == CHECK_CENTRE).sum())} hazard ratios with CI and p, as "
        "printed): every one matches."
    )


def test_the_refresh_prints_the_audit_in_the_report(demo):
    from cartwh.publish import REPORT

    text = html.unescape((demo.output / REPORT).read_text(encoding="utf-8"))
    section = text.split("<h3>Printed numbers</h3>", 1)[1].split("<h", 1)[0]
    assert "4 do not match (ICANS (any grade), abstract: printed 5.3%" in section
    assert "The same audit of this report's own tables (" in section
    assert section.count("every one matches") == 1
