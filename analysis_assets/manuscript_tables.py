"""The manuscript tables: Table 1 (characteristics) and Table 2 (multivariate Cox), laid out as
a journal prints them, and their cells' number formats.

A manuscript table is a flat DataFrame of text (empty cells are ``""``), the same in DuckDB, in
the CSV, in the .docx (:mod:`analysis_assets.docx_tables`) and in HTML (:func:`table_html`):

* the displayed columns come first; a column under a spanning header is named
  ``"<span>: <header>"`` (``"CRS (any grade) vs none: CRS, N = 76"``), a column without one by
  its header alone (``"Characteristic"``, ``"Overall, N = 93"``, ``"p-value"``);
* then the machine columns (:data:`META_COLUMNS`, not displayed): ``variable`` (the mart column
  or model covariate of the row), ``row_type`` and, in Table 2, ``endpoint``;
* ``row_type`` says how a row is shown: ``heading`` (a block heading, bold: an endpoint of
  Table 2), ``label`` (a characteristic or covariate, bold), ``level`` (a level under its
  label, indented), ``missing`` (the "Unknown" row, indented), ``footnote`` (printed under the
  table; its text is in the first column).

Table 1 is built from the long table ``characteristics``
(:func:`analysis_assets.descriptive_tables.characteristics`) and Table 2 from
``cox_multivariate`` (:func:`analysis_assets.cox_tables.cox_tables`): no statistic is computed
here, only laid out.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd

from analysis_assets import study
from analysis_assets.formatting import format_number, format_p_value, percent, round_half_up
from analysis_assets.labels import VARIABLES, label
from analysis_assets.study import COMPARISONS, COVARIATES, ENDPOINTS, OVERALL

__all__ = [
    "CHARACTERISTIC",
    "META_COLUMNS",
    "SPAN_SEPARATOR",
    "display_digits",
    "format_median_range",
    "format_count_percent",
    "format_hazard_ratio",
    "table1_layout",
    "table2_layout",
    "display_columns",
    "header_rows",
    "footnotes",
    "body",
    "table_html",
]

CHARACTERISTIC = "Characteristic"
SPAN_SEPARATOR = ": "
#: columns of a manuscript table that are not displayed
META_COLUMNS = ("endpoint", "variable", "row_type")
#: ``level`` of the long table's rows: the median (range) of a continuous characteristic, and
#: the patients without a value
MEDIAN_RANGE = "median (range)"
MISSING = "missing"
UNKNOWN = "Unknown"
#: Table 2: hazard ratios and their CI are printed to this many decimals (half-up)
HR_DIGITS = 2
P_HEADER = "p-value"
HR_HEADER = "HR (95% CI)"
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
ABBREVIATIONS = (
    "BM, bone marrow; CAR-T, chimeric antigen receptor T cells; CRS, cytokine release "
    "syndrome; HSCT, haematopoietic stem cell transplantation; ICANS, immune effector "
    "cell-associated neurotoxicity syndrome; IL-6, interleukin-6; Ph, Philadelphia chromosome."
)


# --------------------------------------------------------------------------- cell formats
def display_digits(values) -> int:
    """Decimals a characteristic is printed with: one choice for every cell of its row.

    0 for integer-valued variables; otherwise from the spread between the 5th and 95th
    percentiles (as gtsummary guesses): 0 from 20 up, 1 from 2, 2 from 0.2, else 3.

    Parameters
    ----------
    values : array-like
        The values on the scale they are shown (missing values ignored).

    Returns
    -------
    int
    """
    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().astype(float).to_numpy()
    if v.size == 0 or np.all(v == np.round(v)):
        return 0
    spread = float(np.quantile(v, 0.95) - np.quantile(v, 0.05))
    for threshold, digits in ((20, 0), (2, 1), (0.2, 2)):
        if spread >= threshold:
            return digits
    return 3


def _number(value: float, digits: int) -> str:
    return f"{round_half_up(float(value), digits):,.{digits}f}"


def format_median_range(median, minimum, maximum, digits: int) -> str:
    """``28 (22–70)``: median (minimum–maximum), half-up to ``digits`` decimals.

    Printed without decimals, a median halfway between two integers (``27.5``, of an even
    number of integers) keeps its half; ``–`` when there is no value.

    Parameters
    ----------
    median, minimum, maximum : float
    digits : int

    Returns
    -------
    str
    """
    if pd.isna(median):
        return "–"
    halfway = digits == 0 and (float(median) * 2) % 2 == 1
    shown = _number(median, digits + 1 if halfway else digits)
    return f"{shown} ({_number(minimum, digits)}–{_number(maximum, digits)})"


def format_count_percent(n: int, denominator: int) -> str:
    """``47 (50.5%)``: the count and its percentage of ``denominator`` (half-up, 1 decimal).

    ``0`` alone when the denominator is 0 (no patient of the column has a known value).
    """
    pct = percent(int(n), int(denominator))
    return f"{int(n)}" if pct is None else f"{int(n)} ({pct:.1f}%)"


def _hr_number(value) -> str:
    if pd.isna(value):
        return "n/a"
    if math.isinf(float(value)):
        return "∞"
    return f"{round_half_up(float(value), HR_DIGITS):.{HR_DIGITS}f}"


def format_hazard_ratio(hr, lower, upper) -> str:
    """``0.89 (0.49–1.63)``: HR (95% CI), half-up to :data:`HR_DIGITS` decimals."""
    return f"{_hr_number(hr)} ({_hr_number(lower)}–{_hr_number(upper)})"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _marker(number: int) -> str:
    return str(number).translate(_SUPERSCRIPT)


# --------------------------------------------------------------------------- Table 1
def _span_label(comparison: str) -> str:
    """A comparison's spanning header: its registry label, else its description."""
    if comparison in VARIABLES:
        return label(comparison, unit=False)
    return _capitalised(COMPARISONS[comparison].description)


def _group_sizes(long: pd.DataFrame) -> pd.Series:
    """Patients per (comparison, group), in the long table's order."""
    rows = long[long["level"] == MISSING]
    return rows.groupby(["comparison", "group"], sort=False)["denominator"].first().astype(int)


def _table1_columns(sizes: pd.Series) -> list[tuple[str, str | None, str]]:
    """(comparison, group or None for the p column, column name), in display order."""
    columns = []
    for comparison, groups in sizes.groupby(level=0, sort=False):
        span = "" if comparison == OVERALL else _span_label(comparison) + SPAN_SEPARATOR
        for (_, group), n in groups.items():
            name = "Overall" if comparison == OVERALL else _capitalised(group)
            columns.append((comparison, group, f"{span}{name}, N = {n:,}"))
        if comparison != OVERALL:
            columns.append((comparison, None, f"{span}{P_HEADER}"))
    return columns


def _test_markers(long: pd.DataFrame) -> dict[str, str]:
    """Footnote marker of every test used, numbered in the order they appear."""
    notes = long.loc[long["p_value"].notna(), "test_note"].dropna()
    return {note: _marker(i) for i, note in enumerate(dict.fromkeys(notes), start=1)}


def _p_text(p, note, markers: dict[str, str]) -> str:
    if pd.isna(p):
        return format_p_value(None)
    return format_p_value(p) + markers.get(note, "")


def _row(characteristic: str, cells: dict, names: list[str], variable: str, kind: str) -> dict:
    return {CHARACTERISTIC: characteristic, **{n: cells.get(n, "") for n in names}} | {
        "variable": variable,
        "row_type": kind,
    }


def _characteristic_rows(part: pd.DataFrame, columns, markers: dict[str, str]) -> list[dict]:
    """The label row, the level rows and the Unknown row of one characteristic."""
    names = [name for _, _, name in columns]
    variable, characteristic = part["variable"].iloc[0], part["characteristic"].iloc[0]
    cell = part.set_index(["level", "comparison", "group"])
    tests = part.groupby("comparison", sort=False)[["p_value", "test_note"]].first()
    p_cells = {
        name: _p_text(*tests.loc[comparison], markers)
        for comparison, group, name in columns
        if group is None
    }

    def values(level: str, column: str = "value") -> dict:
        return {
            name: str(cell.at[(level, comparison, group), column])
            for comparison, group, name in columns
            if group is not None and (level, comparison, group) in cell.index
        }

    levels = [lv for lv in dict.fromkeys(part["level"]) if lv != MISSING]
    continuous = levels == [MEDIAN_RANGE]
    first = values(MEDIAN_RANGE) if continuous else {}
    rows = [_row(characteristic, first | p_cells, names, variable, "label")]
    if not continuous:
        labels = part.drop_duplicates("level").set_index("level")["level_label"]
        rows += [_row(labels[lv], values(lv), names, variable, "level") for lv in levels]
    missing = part[(part["level"] == MISSING) & (part["comparison"] == OVERALL)]
    if int(missing["n"].sum()) > 0:
        rows.append(_row(UNKNOWN, values(MISSING, "n"), names, variable, "missing"))
    return rows


def _table1_footnotes(sizes: pd.Series, markers: dict[str, str]) -> list[str]:
    overall = int(sizes.loc[OVERALL].iloc[0])
    notes = [
        "Median (range) for continuous characteristics; n (%) for categorical ones, with "
        "the percentage of the patients of the column whose value is known. Unknown: patients "
        "without a value, not in the percentages nor in the tests.",
        "p: continuous characteristics, Mann–Whitney U test (two groups) or Kruskal–Wallis "
        "test (three); categorical ones, Pearson's chi-squared test, or Fisher's exact test "
        f"when an expected count is below {format_number(study.METHODS.fisher_min_expected)} "
        "(Fisher–Freeman–Halton for more than two rows or columns).",
    ]
    notes += [f"{marker} {note}." for note, marker in markers.items()]
    for comparison, groups in sizes.groupby(level=0, sort=False):
        left_out = overall - int(groups.sum())
        if comparison != OVERALL and left_out > 0:
            notes.append(
                f"{_span_label(comparison)}: {left_out} of {overall} patients whose group is "
                "unknown are counted in the Overall column only."
            )
    return [*notes, ABBREVIATIONS]


def table1_layout(characteristics: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as ``gtsummary::tbl_summary(by=) |> add_overall() |> add_p()``, merged.

    One row per characteristic (bold), its levels indented below it, and an "Unknown" row when
    a value is missing; the columns Overall, then per comparison its groups and p, with N in
    every header; the tests as footnote markers on the p-values, and footnotes (statistics,
    tests, patients left out of a comparison, abbreviations) as ``footnote`` rows.

    Parameters
    ----------
    characteristics : DataFrame
        The long table of :func:`analysis_assets.descriptive_tables.characteristics`.

    Returns
    -------
    DataFrame
        Text only; see the module's docstring for its columns.
    """
    sizes = _group_sizes(characteristics)
    columns = _table1_columns(sizes)
    markers = _test_markers(characteristics)
    names = [name for _, _, name in columns]
    rows = []
    for _, part in characteristics.groupby("variable", sort=False):
        rows += _characteristic_rows(part, columns, markers)
    rows += [_row(note, {}, names, "", "footnote") for note in _table1_footnotes(sizes, markers)]
    return pd.DataFrame(rows, columns=[CHARACTERISTIC, *names, "variable", "row_type"])


# --------------------------------------------------------------------------- Table 2
def _t2_row(text: str, endpoint: str, variable: str, kind: str, hr: str = "", p: str = "") -> dict:
    return {
        CHARACTERISTIC: text,
        HR_HEADER: hr,
        P_HEADER: p,
        "endpoint": endpoint,
        "variable": variable,
        "row_type": kind,
    }


def _endpoint_heading(endpoint: str, n: int, events: int) -> str:
    known = ENDPOINTS.get(endpoint)
    name = f"{_capitalised(known.label)} ({known.population})" if known else endpoint
    return f"{name}: N = {n:,}, {events:,} events"


def _term_cells(terms: pd.DataFrame, term: str) -> tuple[str, str]:
    row = terms.loc[term]
    return (
        format_hazard_ratio(row["hazard_ratio"], row["ci_lower"], row["ci_upper"]),
        format_p_value(row["p_value"]),
    )


def _covariate_rows(terms: pd.DataFrame, endpoint: str, covariate: str) -> list[dict]:
    """One row for a covariate with one term; a heading, the reference and one row per level
    for a categorical one."""
    known = COVARIATES.get(covariate)
    if known is None or known.reference is None:
        text = _capitalised(known.description) if known else label(covariate)
        return [_t2_row(text, endpoint, covariate, "label", *_term_cells(terms, covariate))]
    wald = f"{covariate} (overall Wald test)"
    p = format_p_value(terms.at[wald, "p_value"]) if wald in terms.index else ""
    rows = [_t2_row(label(covariate, unit=False), endpoint, covariate, "label", p=p)]
    for level, level_text in known.level_labels.items():
        term = f"{covariate}[{level}]"
        if level == known.reference:
            rows.append(
                _t2_row(_capitalised(level_text), endpoint, covariate, "level", "Reference")
            )
        elif term in terms.index:
            cells = _term_cells(terms, term)
            rows.append(_t2_row(_capitalised(level_text), endpoint, covariate, "level", *cells))
    return rows


def _endpoint_rows(part: pd.DataFrame, endpoint: str) -> list[dict]:
    first = part.iloc[0]
    heading = _endpoint_heading(endpoint, int(first["n"]), int(first["events"]))
    rows = [_t2_row(heading, endpoint, "", "heading")]
    if not part["estimable"].astype(bool).all():
        reason = str(first["note"]).removeprefix("not estimable: ")
        return rows + [_t2_row(f"Model not estimable: {reason}", endpoint, "", "level")]
    terms = part.set_index("term")
    covariates = str(first["covariates"]).split(" + ")
    for covariate in covariates:
        rows += _covariate_rows(terms, endpoint, covariate)
    return rows


def _table2_footnotes(cox: pd.DataFrame) -> list[str]:
    notes = [
        "HR, hazard ratio; CI, confidence interval. One multivariate Cox proportional-hazards "
        "model per endpoint (Efron's method for ties) on the patients with every covariate "
        f"known (N); 95% Wald CI; p, Wald test. HR and CI rounded half-up to {HR_DIGITS} "
        "decimals."
    ]
    walds = cox[cox["term"].astype(str).str.endswith("(overall Wald test)")]
    for term, df in walds.drop_duplicates("term")[["term", "wald_df"]].itertuples(index=False):
        covariate = str(term).split(" (")[0]
        notes.append(
            f"{label(covariate, unit=False)}: p on its row is the joint Wald test of its levels "
            f"({int(df)} df); each level's HR is against the reference level."
        )
    return [*notes, ABBREVIATIONS]


def table2_layout(cox_multivariate: pd.DataFrame) -> pd.DataFrame:
    """Table 2 as in the paper: per endpoint a heading with N and events of its model, per
    covariate ``HR (95% CI)`` and p; a categorical covariate as a heading row with its overall
    Wald p, a "Reference" row and one row per other level. A model that cannot be estimated
    says so in words.

    Parameters
    ----------
    cox_multivariate : DataFrame
        The table ``cox_multivariate`` of :func:`analysis_assets.cox_tables.cox_tables`.

    Returns
    -------
    DataFrame
        Text only; columns ``Characteristic``, ``HR (95% CI)``, ``p-value`` and the machine
        columns ``endpoint``, ``variable``, ``row_type``.
    """
    rows = []
    for endpoint, part in cox_multivariate.groupby("endpoint", sort=False):
        rows += _endpoint_rows(part, str(endpoint))
    rows += [_t2_row(note, "", "", "footnote") for note in _table2_footnotes(cox_multivariate)]
    return pd.DataFrame(rows, columns=[CHARACTERISTIC, HR_HEADER, P_HEADER, *META_COLUMNS])


# --------------------------------------------------------------------------- rendering
def display_columns(df: pd.DataFrame) -> list[str]:
    """The displayed columns of a manuscript table (all but :data:`META_COLUMNS`)."""
    return [c for c in df.columns if c not in META_COLUMNS]


def header_rows(columns: list[str]) -> tuple[list[tuple[str, int]], list[str]]:
    """The spanning header (text, number of columns) and the column headers.

    ``["Characteristic", "CRS: No CRS, N = 17", "CRS: p-value"]`` ->
    ``([("", 1), ("CRS", 2)], ["Characteristic", "No CRS, N = 17", "p-value"])``; the spanning
    row is empty (all texts ``""``) when no column has a span.
    """
    split = [c.split(SPAN_SEPARATOR, 1) if SPAN_SEPARATOR in c else ["", c] for c in columns]
    spans: list[tuple[str, int]] = []
    for span, _ in split:
        if spans and span and spans[-1][0] == span:
            spans[-1] = (span, spans[-1][1] + 1)
        else:
            spans.append((span, 1))
    return spans, [header for _, header in split]


def body(df: pd.DataFrame) -> pd.DataFrame:
    """The rows shown in the table (all but the footnotes)."""
    return df[df["row_type"] != "footnote"]


def footnotes(df: pd.DataFrame) -> list[str]:
    """The footnotes printed under the table, in order."""
    return df.loc[df["row_type"] == "footnote", CHARACTERISTIC].astype(str).tolist()


_ROW_STYLE = {
    "heading": "font-weight:bold",
    "label": "font-weight:bold",
    "level": "padding-left:1.5em",
    "missing": "padding-left:1.5em",
}
_NUMBER_STYLE = "text-align:center;white-space:nowrap"


def _header_html(header: str) -> str:
    """A column header, its ``N = ...`` on a line of its own."""
    name, separator, n = header.partition(", N = ")
    return html.escape(name) + (f"<br>N = {html.escape(n)}" if separator else "")


def _html_header(columns: list[str]) -> str:
    spans, headers = header_rows(columns)
    parts = ["<thead>"]
    if any(text for text, _ in spans):
        parts.append("<tr>")
        for text, width in spans:
            rule = "border-bottom:1px solid #000;" if text else ""
            parts.append(
                f'<th colspan="{width}" style="{rule}text-align:center">{html.escape(text)}</th>'
            )
        parts.append("</tr>")
    cells = "".join(
        f'<th style="text-align:{"left" if i == 0 else "center"}">{_header_html(h)}</th>'
        for i, h in enumerate(headers)
    )
    parts.append(f"<tr>{cells}</tr></thead>")
    return "".join(parts)


def _html_row(texts: list[str], kind: str) -> str:
    first = f'<td style="{_ROW_STYLE.get(kind, "")}">{html.escape(texts[0])}</td>'
    rest = "".join(f'<td style="{_NUMBER_STYLE}">{html.escape(t)}</td>' for t in texts[1:])
    return f'<tr class="{html.escape(kind)}">{first}{rest}</tr>'


def table_html(df: pd.DataFrame, title: str | None = None, table_id: str | None = None) -> str:
    """A manuscript table as one escaped HTML ``<table>``: caption, spanning header, bold
    labels, indented levels, centred numbers and the footnotes in ``<tfoot>``.

    Inline styles only (no class needs a stylesheet), no script, no external URL.

    Parameters
    ----------
    df : DataFrame
        A manuscript table (:func:`table1_layout`, :func:`table2_layout`), as read back from
        DuckDB or the CSV (missing cells are shown empty).
    title : str, optional
        The caption (e.g. ``study.TABLE_TITLES["table1"]``).
    table_id : str, optional
        The ``id`` attribute.

    Returns
    -------
    str
    """
    columns = display_columns(df)
    text = df[columns].fillna("").astype(str)
    ident = f' id="{html.escape(table_id)}"' if table_id else ""
    parts = [f'<table class="manuscript-table"{ident}>']
    if title:
        parts.append(f'<caption style="text-align:left;font-weight:bold">{html.escape(title)}')
        parts.append("</caption>")
    parts.append(_html_header(columns) + "<tbody>")
    shown = body(df)
    for texts, kind in zip(text.loc[shown.index].values.tolist(), shown["row_type"]):
        parts.append(_html_row(texts, str(kind)))
    parts.append("</tbody><tfoot>")
    parts += [
        f'<tr><td colspan="{len(columns)}" style="font-size:90%">{html.escape(note)}</td></tr>'
        for note in footnotes(df)
    ]
    parts.append("</tfoot></table>")
    return "".join(parts)
