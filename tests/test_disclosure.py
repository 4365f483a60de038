"""Small-cell suppression (issue 12): the engine on hand-made tables, a property test with an
independent attacker, and ``cartwh report --external`` on the session demo.

The attacker (:func:`attack`) reads only what is printed — the text table with its ``<t`` and
``*`` marks, and the published row and column totals — and bounds every ``<t`` cell by linear
programming (scipy's HiGHS), minimising and maximising it subject to the printed counts, the
totals, non-negativity and integer bounds 0..grand total, plus what the marks say: ``<t`` is
1..t-1, ``*`` (complementary) is at least t. Two-way tables with margins have a totally
unimodular constraint matrix, so these bounds are attained by integer tables.

Protection criterion: no ``<t`` cell is exactly recoverable (its minimum is below its
maximum). The ``<t`` label itself says 1..t-1; the criterion is that nothing printed narrows
that to a single value. A weaker formulation (the attacker ignoring the marks) follows from it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from analysis_assets import study
from analysis_assets.disclosure import (
    Relation,
    UnprotectableTable,
    suppress,
    suppress_table,
    table_problem,
)
from analysis_assets.disclosure_tables import TABLE_POLICY, suppress_analysis_tables
from tests.conftest import run_cartwh

TOTAL = "total"


def with_totals(cells: list[list[int]]) -> pd.DataFrame:
    """A count table with a row-total column and a column-total row."""
    inner = pd.DataFrame(
        cells,
        index=[f"r{i}" for i in range(len(cells))],
        columns=[f"c{j}" for j in range(len(cells[0]))],
    )
    inner[TOTAL] = inner.sum(axis=1)
    inner.loc[TOTAL] = inner.sum(axis=0)
    return inner


def attack(shown: pd.DataFrame, threshold: int) -> dict[tuple, tuple[float, float]]:
    """Bounds of every ``<threshold`` cell from what ``shown`` prints (see the module)."""
    small, mark = f"<{threshold}", "*"
    unknown = [
        (r, c) for r in shown.index for c in shown.columns if shown.at[r, c] in (small, mark)
    ]
    index = {cell: i for i, cell in enumerate(unknown)}
    # the grand total bounds every cell (when it is printed)
    grand = shown.at[TOTAL, TOTAL]
    ceiling = None if grand in (small, mark) else int(grand)
    a_eq, b_eq = [], []

    def equation(total, members):
        row, rhs = np.zeros(len(unknown)), 0.0
        for cell, sign in [(total, -1.0)] + [(m, 1.0) for m in members]:
            if cell in index:
                row[index[cell]] += sign
            else:
                rhs -= sign * int(shown.at[cell])
        if row.any():
            a_eq.append(row)
            b_eq.append(rhs)

    inner_rows = [r for r in shown.index if r != TOTAL]
    inner_columns = [c for c in shown.columns if c != TOTAL]
    for r in shown.index:
        equation((r, TOTAL), [(r, c) for c in inner_columns])
    for c in shown.columns:
        equation((TOTAL, c), [(r, c) for r in inner_rows])
    bounds = [
        (1, threshold - 1) if shown.at[cell] == small else (threshold, ceiling) for cell in unknown
    ]
    out = {}
    for cell in unknown:
        if shown.at[cell] != small:
            continue
        c = np.zeros(len(unknown))
        c[index[cell]] = 1
        low = linprog(c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds, method="highs")
        high = linprog(-c, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds, method="highs")
        assert low.status == 0 and high.status == 0, (low.message, high.message)
        out[cell] = (low.fun, -high.fun)
    return out


def assert_protected(table: pd.DataFrame, shown: pd.DataFrame, threshold: int) -> None:
    """Every small count is marked, every printed count true, no marked small cell pinned."""
    for r in table.index:
        for c in table.columns:
            value, text = int(table.at[r, c]), shown.at[r, c]
            if 1 <= value < threshold:
                assert text == f"<{threshold}", (r, c, value, text)
            elif text != "*":
                assert text == str(value), (r, c, value, text)
    for cell, (low, high) in attack(shown, threshold).items():
        assert high - low >= 1 - 1e-9, f"{cell} recoverable: {low}..{high}\n{shown}"


# --------------------------------------------------------------------------- hand-made tables
def test_one_small_cell_gets_a_complement_in_its_row_and_its_column():
    table = with_totals([[3, 9, 12], [7, 11, 0]])
    shown = suppress_table(table, 5, row_total=TOTAL, column_total=TOTAL)
    expected = pd.DataFrame(
        [["<5", "*", "12", "24"], ["*", "*", "0", "18"], ["10", "20", "12", "42"]],
        index=table.index,
        columns=table.columns,
    )
    pd.testing.assert_frame_equal(shown, expected)
    assert_protected(table, shown, 5)


def test_zero_is_shown_and_a_table_without_small_cells_is_unchanged():
    table = with_totals([[0, 9, 12], [7, 11, 0]])
    shown = suppress_table(table, 5, row_total=TOTAL, column_total=TOTAL)
    pd.testing.assert_frame_equal(shown, table.astype(str))


def test_a_complement_at_the_threshold_does_not_pin_the_small_cell():
    # row r0 = 1 + 5 + 0: suppressing only the 5 leaves 1 + (>= 5) = 6, i.e. exactly 1
    table = with_totals([[1, 5, 0], [10, 9, 20]])
    shown = suppress_table(table, 5, row_total=TOTAL, column_total=TOTAL)
    assert shown.at["r0", "c0"] == "<5" and shown.at["r0", "c2"] == "0"
    assert_protected(table, shown, 5)
    assert (shown == "*").sum().sum() >= 3


def test_the_threshold_is_a_parameter():
    table = with_totals([[2, 3, 4, 30], [20, 20, 20, 20]])
    shown = suppress_table(table, 3, row_total=TOTAL, column_total=TOTAL)
    # 3 is no longer small: the cheapest complement of its row; 4 stays printed
    assert shown.at["r0", "c0"] == "<3" and shown.at["r0", "c1"] == "*"
    assert shown.at["r0", "c2"] == "4"
    assert "<5" not in shown.to_numpy()
    assert_protected(table, shown, 3)
    assert study.SMALL_CELL_THRESHOLD == 5


def test_a_relation_with_a_hidden_cell_protects_without_printing_more():
    # responders 3 of 17: the hidden non-responders (14) are the free complement
    result = suppress(
        {"n": 17, "responders": 3, "non-responders": 14},
        [Relation("n", ("responders", "non-responders"))],
        5,
        hidden={"non-responders"},
    )
    assert result.primary == {"responders"} and result.complementary == {"non-responders"}


def test_a_relation_that_does_not_hold_is_refused():
    with pytest.raises(ValueError, match="does not hold"):
        suppress({"t": 5, "a": 1, "b": 1}, [Relation("t", ("a", "b"))])


# --------------------------------------------------------------------------- property test
COUNTS = st.one_of(st.just(0), st.integers(1, 12), st.integers(13, 60))


@st.composite
def count_tables(draw):
    rows, columns = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    cells = [[draw(COUNTS) for _ in range(columns)] for _ in range(rows)]
    return with_totals(cells), draw(st.sampled_from([3, 5, 11]))


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(count_tables())
def test_no_suppressed_cell_can_be_recovered_from_what_is_shown(drawn):
    table, threshold = drawn
    try:
        shown = suppress_table(table, threshold, row_total=TOTAL, column_total=TOTAL)
    except UnprotectableTable:
        # refused only when nothing was left to withhold: every count small, zero or withheld
        values, relations = table_problem(table, TOTAL, TOTAL)
        result = suppress(values, relations, threshold)
        assert all(v < threshold or k in result.suppressed for k, v in values.items())
        return
    assert_protected(table, shown, threshold)


def test_a_table_below_the_threshold_is_refused():
    # every count is 1 or 2 and the marks say "<3": the 1 + 1 = 2 is forced
    with pytest.raises(UnprotectableTable):
        suppress_table(with_totals([[1, 1]]), 3, row_total=TOTAL, column_total=TOTAL)


# --------------------------------------------------------------------------- analysis tables
def test_every_suppressed_or_kept_table_is_named_by_the_policy():
    tables = {
        "ph_assumption": pd.DataFrame({"p_value": [0.5]}),
        "unknown": pd.DataFrame({"n": [3]}),
    }
    shown = suppress_analysis_tables(tables)
    assert set(shown) == {"ph_assumption"}  # a table the policy does not name is left out
    assert TABLE_POLICY["km_estimates"][0] == "leave out"


COUNT_COLUMNS = ("n", "denominator", "responders", "events", "excluded_n", "dose_known")
PERCENT_OF = {
    "pct": ("n", "denominator"),
    "rate_pct": ("responders", "n"),
    "pct_of_delivered": ("n", "denominator"),
}


@pytest.fixture(scope="module")
def external(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("external") / "external"
    before = (demo.output / "report.html").read_bytes()
    done = run_cartwh(["report", "--external", "--out", str(out)], demo.env())
    assert done.returncode == 0, done.stderr
    assert (demo.output / "report.html").read_bytes() == before  # the internal report stays
    return out, done


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _count_ok(text: str, threshold: int) -> bool:
    return text in ("", "0", f"<{threshold}", "*") or (text.isdigit() and int(text) >= threshold)


def test_external_tables_show_no_count_from_1_to_4(external):
    out, done = external
    assert str(out / "report.html") in done.stdout
    marks = 0
    for path in sorted((out / "tables").glob("*.csv")):
        for row in _rows(path):
            for column in COUNT_COLUMNS:
                if column in row:
                    assert _count_ok(row[column], 5), (path.name, column, row)
                    marks += row[column] == "<5"
            for pct, counts in PERCENT_OF.items():
                if pct in row and any(row.get(c) in ("<5", "*") for c in counts):
                    assert row[pct] in ("", "*"), (path.name, pct, row)
    assert marks >= 5  # the demo has small cells: the check above is not vacuous
    names = {p.stem for p in (out / "tables").glob("*.csv")}
    assert "km_estimates" not in names and {"characteristics", "table1", "cohort_flow"} <= names
    policy = _rows(out / "disclosure.csv")
    assert {r["table"] for r in policy} >= names


def test_external_table1_prints_no_small_count_nor_its_percentage(external):
    out, _ = external
    cell = re.compile(r"^(<5|\*|[\d,]+)( \((\d+\.\d)%\))?$")
    checked = 0
    for row in _rows(out / "tables" / "table1.csv"):
        if row["row_type"] not in ("level", "missing"):
            continue
        for column, text in row.items():
            if column in ("Characteristic", "variable", "row_type") or "p-value" in column:
                continue
            found = cell.match(text)
            assert found, (column, text)
            count, pct = found.group(1), found.group(3)
            if count in ("<5", "*"):
                assert pct is None, (column, text)
            else:
                assert int(count.replace(",", "")) == 0 or int(count.replace(",", "")) >= 5
            checked += 1
    assert checked > 50


def test_external_group_sizes_agree_across_tables(external):
    # one count printed in three tables is one cell: shown in all or withheld in all, so no
    # table gives away what another withholds
    out, _ = external
    sizes = {
        (r["comparison"], r["group"]): r["denominator"]
        for r in _rows(out / "tables" / "characteristics.csv")
        if r["level"] == "missing"
    }
    compared = 0
    for table, column, value in (
        ("response_rates", "basis", "all_infused"),
        ("survival_medians", "endpoint", "OS"),
    ):
        for r in _rows(out / "tables" / f"{table}.csv"):
            if r[column] == value and (r["comparison"], r["group"]) in sizes:
                assert r["n"] == sizes[(r["comparison"], r["group"])], (table, r)
                compared += 1
    assert compared >= 15
    withheld = [k for k, v in sizes.items() if v == "*"]
    header = ",".join(_rows(out / "tables" / "table1.csv")[0])
    assert header.count("N = *") == len(withheld)


def test_external_report_states_the_suppression(external):
    out, _ = external
    text = (out / "report.html").read_text(encoding="utf-8")
    assert "Small-cell suppression applied (threshold 5)" in text
    assert "&lt;5" in text and "Figures left out." in text
    assert "<svg" not in text and "data:image" not in text


def test_external_threshold_option(demo, tmp_path):
    out = tmp_path / "ext"
    done = run_cartwh(["report", "--external", "--threshold", "11", "--out", str(out)], demo.env())
    assert done.returncode == 0, done.stderr
    rows = _rows(out / "tables" / "toxicity_summary.csv")
    assert all(_count_ok(r["n"], 11) for r in rows)
    assert "threshold 11" in (out / "report.html").read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".ext.*"))  # the staging folder was swapped in, none left


@pytest.mark.parametrize(
    "args, message",
    [
        (["report"], "give --external"),
        (["report", "--external", "--threshold", "1"], "suppresses nothing"),
    ],
)
def test_external_report_usage_errors(demo, tmp_path, args, message):
    done = run_cartwh([*args, "--out", str(tmp_path / "x")], demo.env())
    assert done.returncode == 2
    assert done.stderr.startswith("cartwh: ") and message in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "x").exists()
