"""Analysis tables in the report: human column headers and cell values, no ``nan``; the main
tables first, long technical ones in a collapsed appendix."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from analysis_assets.formatting import (
    column_label,
    comparison_label,
    format_p_value,
    is_missing,
    round_half_up,
    test_label,
)
from analysis_assets.labels import VARIABLES, label
from analysis_assets.manuscript_tables import table_html
from analysis_assets.report.common import ReportInputs, escape
from analysis_assets.study import COVARIATES, REPORT_MART_TABLES, RESPONSES, TABLE_TITLES

__all__ = [
    "COLUMN_HEADERS",
    "APPENDIX_TABLES",
    "COLLAPSE_ROWS",
    "TABLE_RENDERERS",
    "header",
    "render_table",
    "tables_section",
]

#: tables longer than this go to the collapsed appendix
COLLAPSE_ROWS = 60
#: technical tables shown in the collapsed appendix whatever their length
APPENDIX_TABLES: tuple[str, ...] = (
    "characteristics",
    "km_estimates",
    "cox_univariate",
    "ph_assumption",
)
#: the manuscript tables, printed first
FIRST_TABLES: tuple[str, ...] = ("table1", "table2")
#: tables printed elsewhere in the report
NOT_PRINTED: tuple[str, ...] = (*REPORT_MART_TABLES, "provenance")
#: table -> its own renderer (the manuscript tables: spanning headers, indented levels,
#: footnotes); the others use :func:`render_table`
TABLE_RENDERERS: dict[str, Callable[[pd.DataFrame], str]] = {
    name: partial(table_html, table_id=f"table-{name}") for name in FIRST_TABLES
}

#: column -> header; a column not listed gets its label (:func:`column_label`)
COLUMN_HEADERS: dict[str, str] = {
    "p_value": "p",
    "ci_lower": "95% CI, lower",
    "ci_upper": "95% CI, upper",
    "median_ci_lower": "Median, 95% CI lower",
    "median_ci_upper": "Median, 95% CI upper",
    "median_months": "Median, months",
    "hazard_ratio": "HR",
    "chi_square": "χ²",
    "wald_chi_square": "Wald χ²",
    "wald_df": "Wald df",
    "df": "df",
    "n": "n",
    "n_risk": "At risk",
    "n_event": "Events",
    "n_censor": "Censored",
    "events": "Events",
    "endpoint": "Endpoint",
    "comparison": "Comparison",
    "comparison_label": "Comparison",
    "group": "Group",
    "groups": "Groups",
    "term": "Term",
    "description": "Description",
    "estimable": "Estimable",
    "note": "Note",
    "test": "Test",
    "test_detail": "Test (detail)",
    "statistic": "Statistic",
    "variable": "Variable",
    "median": "Median",
    "min": "Minimum",
    "max": "Maximum",
    "response": "Response",
    "basis": "Denominator",
    "responders": "Responders",
    "rate_pct": "Rate, %",
    "responders / n": "Responders / n",
    "time_months": "Time, months",
    "survival": "Survival",
    "method": "Method",
    "model": "Model",
    "covariates": "Covariates",
    "centre_code": "Centre",
    "step": "Step",
    "step_order": "Step order",
    "denominator": "Denominator",
    "pct_of_delivered": "% of delivered",
    "characteristic": "Characteristic",
    "level": "Level",
    "value": "Value",
    "measure": "Measure",
    "pct": "%",
    "entity": "Entity",
    "column_name": "Field",
    "values": "Values",
    "rule": "Rule",
    "rows": "Rows",
    "first_day_median_range": "First day, median (range)",
    "duration_days_median_range": "Duration, days, median (range)",
    "cumulative_dose_mg_median_range": "Cumulative dose, mg, median (range)",
    "dose_known": "Dose known",
}


def header(column: str) -> str:
    """The header of a column (:data:`COLUMN_HEADERS`, else its label; survival_12m ->
    ``Survival at 12 months``)."""
    column = str(column)
    if column in COLUMN_HEADERS:
        return COLUMN_HEADERS[column]
    if column.startswith("survival_") and "m" in column:
        month, _, rest = column[len("survival_") :].partition("m")
        if month.isdigit():
            suffix = {"_ci_lower": ", 95% CI lower", "_ci_upper": ", 95% CI upper"}.get(rest, "")
            return f"Survival at {month} months{suffix}"
    if column in VARIABLES:
        return label(column)
    text = column_label(column)
    return text[:1].upper() + text[1:]


def covariate_label(name: str) -> str:
    """A model covariate: its variable's label, else the study's description of it."""
    name = name.strip()
    if name in VARIABLES:
        return label(name, unit=False)
    return COVARIATES[name].description if name in COVARIATES else column_label(name)


def term_cell(term: str) -> str:
    """``toxicity_group[other]`` -> ``Toxicity group: grade 1–2 CRS and/or ICANS``."""
    term = str(term)
    name, bracket, level = term.partition("[")
    if bracket:
        level = level.rstrip("]")
        levels = COVARIATES[name].level_labels if name in COVARIATES else {}
        return f"{covariate_label(name)}: {levels.get(level, level)}"
    if term.endswith(" (overall Wald test)"):
        return f"{covariate_label(term.split(' (')[0])} (overall Wald test)"
    return " + ".join(covariate_label(part) for part in term.split("+"))


#: column -> how its stored codes are printed
_CODES: dict[str, Callable[[str], str]] = {
    "comparison": comparison_label,
    "test": test_label,
    "variable": lambda v: label(v),
    "response": lambda r: RESPONSES[r].label if r in RESPONSES else r,
    "column_name": column_label,
    "rule": lambda r: str(r).replace("_", " "),
    "entity": lambda e: str(e).replace("_", " "),
    "basis": lambda b: str(b).replace("_", " "),
    "term": term_cell,
    "covariates": term_cell,
}


def _number(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value.is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{round_half_up(value, 0):,.0f}"
    return f"{round_half_up(value, 3):g}"


#: median columns: a missing value is a median (or CI limit) not reached
NOT_REACHED_COLUMNS: tuple[str, ...] = ("median_months", "median_ci_lower", "median_ci_upper")


def _cell(column: str, value) -> tuple[str, bool]:
    if column.startswith("p_value") or column == "p":
        return format_p_value(value), True
    if is_missing(value):
        return ("NR", True) if column in NOT_REACHED_COLUMNS else ("", False)
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}", True
    if isinstance(value, (float, np.floating)):
        return _number(float(value)), True
    if column in _CODES:
        return _CODES[column](value), False
    return str(value).replace(">=", "≥").replace("<=", "≤"), False


def render_table(df: pd.DataFrame, table_id: str = "") -> str:
    """A DataFrame as an escaped HTML table: human headers, numbers right-aligned and half-up,
    p-values as the study prints them, missing values empty.

    Parameters
    ----------
    df : DataFrame
    table_id : str, default ""
        The table's html id.

    Returns
    -------
    str
    """
    ident = f' id="{escape(table_id)}"' if table_id else ""
    parts = [f"<table{ident}><thead><tr>"]
    parts += [f"<th>{escape(header(c))}</th>" for c in df.columns]
    parts.append("</tr></thead><tbody>")
    for row in df.itertuples(index=False):
        parts.append("<tr>")
        for col, value in zip(df.columns, row):
            text, numeric = _cell(str(col), value)
            cls = ' class="num"' if numeric else ""
            parts.append(f"<td{cls}>{escape(text)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _count(value) -> str:
    """A count as printed: the number, or a suppression mark (``<5``, ``*``) as it is."""
    return str(value) if isinstance(value, str) else f"{int(value)}"


def _shown(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The columns worth printing: no column without any value, denominators added."""
    if len(df):
        keep = [c for c in df.columns if c in NOT_REACHED_COLUMNS or df[c].notna().any()]
        df = df.loc[:, keep]
    if name == "response_rates" and {"responders", "n"} <= set(df.columns):
        df = df.copy()
        pos = list(df.columns).index("responders") + 1
        pairs = [f"{_count(a)}/{_count(b)}" for a, b in zip(df["responders"], df["n"])]
        df.insert(pos, "responders / n", pairs)
    return df


def _table_block(name: str, df: pd.DataFrame) -> str:
    renderer = TABLE_RENDERERS.get(name)
    table = renderer(df) if renderer else render_table(_shown(name, df), f"table-{name}")
    # a wide table scrolls inside its box instead of overflowing the page
    return f'<h3>{escape(TABLE_TITLES.get(name, name))}</h3><div class="wide">{table}</div>'


def tables_section(inputs: ReportInputs) -> list[str]:
    """The analysis tables: main ones in full, technical and long ones in a collapsed
    appendix; patient-level tables and the provenance are never printed here."""
    main, appendix = [], []
    order = {name: i for i, name in enumerate(FIRST_TABLES)}
    for name in sorted(inputs.tables, key=lambda n: order.get(n, len(order))):
        df = inputs.tables[name]
        if name in NOT_PRINTED:
            continue
        long = name not in FIRST_TABLES and (name in APPENDIX_TABLES or len(df) > COLLAPSE_ROWS)
        (appendix if long else main).append(_table_block(name, df))
    parts = ["<h2>Tables</h2>", *main]
    if appendix:
        parts.append(
            '<details id="appendix"><summary>Appendix: technical tables '
            f"({len(appendix)})</summary>{''.join(appendix)}</details>"
        )
    return parts
