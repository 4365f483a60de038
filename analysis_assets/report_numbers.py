"""The numbers this project's own tables print, audited as the study's are
(:mod:`analysis_assets.number_audit`): the same audit must find nothing here.

Percentages: Table 1 (its denominator from the printed N of the column and the
characteristic's Unknown row: the report's denominator policy), ``characteristics``,
``toxicity_summary`` and ``response_rates``; hazard ratios with CI and p: Table 2 and the Cox
tables as the report's tables print them.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from analysis_assets.number_audit import (
    audit_hazard_ratios,
    audit_percentages,
    audit_publication,
    empty_findings,
)

__all__ = ["PERCENTAGES", "HAZARD_RATIOS", "audit_report_tables", "number_audit"]

_COUNT_PERCENT = re.compile(r"^(?P<count>[0-9][0-9,]*) \((?P<pct>[0-9.]+)%\)$")
_HR_CI = re.compile(
    r"^(?P<hr>[0-9][0-9.,]*) \((?P<lower>[0-9][0-9.,]*)–(?P<upper>[0-9][0-9.,]*)\)$"
)
_GROUP_N = re.compile(r", N = (?P<n>[0-9][0-9,]*)$")
_CELL = re.compile(r"<td[^>]*>(.*?)</td>")


def _count_percent(cells: pd.Series) -> pd.DataFrame:
    """``"47 (50.5%)"`` cells split into count and printed percentage (others dropped)."""
    parts = cells.astype(str).str.extract(_COUNT_PERCENT)
    parts["count"] = parts["count"].str.replace(",", "")
    return parts.dropna()


def _printed_by_report(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The cells of ``columns`` as the report's generic tables print them
    (:func:`analysis_assets.report.tables_html.render_table`)."""
    # imported here: the report package imports this module for its audit section
    from analysis_assets.report.tables_html import render_table

    body = render_table(df[columns].reset_index(drop=True)).split("<tbody>", 1)[1]
    cells = [html.unescape(c) for c in _CELL.findall(body)]
    return pd.DataFrame(
        np.array(cells, dtype=object).reshape(len(df), len(columns)), columns=columns
    )


def _table1_percentages(table1: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as printed: per group column, the denominator is the N of its header minus the
    characteristic's Unknown row (the stated denominator policy)."""
    sizes = {
        column: int(found["n"].replace(",", ""))
        for column in table1.columns
        if (found := _GROUP_N.search(str(column)))
    }
    cells = table1[table1["row_type"].isin(["level", "missing"])].melt(
        id_vars=["Characteristic", "variable", "row_type"],
        value_vars=list(sizes),
        var_name="column",
        value_name="cell",
    )
    missing = cells[cells["row_type"] == "missing"]
    unknown = pd.Series(
        missing["cell"].astype(str).str.replace(",", "").astype(int).to_numpy(),
        index=pd.MultiIndex.from_frame(missing[["variable", "column"]]),
    )
    levels = cells[cells["row_type"] == "level"]
    parts = _count_percent(levels["cell"])
    levels = levels.loc[parts.index]
    known = (
        levels["column"].map(sizes)
        - unknown.reindex(
            pd.MultiIndex.from_frame(levels[["variable", "column"]]), fill_value=0
        ).to_numpy()
    )
    return pd.DataFrame(
        {
            "location": levels["column"],
            "quantity": levels["variable"] + ": " + levels["Characteristic"],
            "count": parts["count"].astype(int),
            "denominator": known.astype(int),
            "printed": parts["pct"],
        }
    )


def _characteristics_percentages(long: pd.DataFrame) -> pd.DataFrame:
    parts = _count_percent(long["value"])
    rows = long.loc[parts.index]
    return pd.DataFrame(
        {
            "location": rows["comparison"] + ", " + rows["group"],
            "quantity": rows["variable"] + ": " + rows["level_label"].astype(str),
            "count": parts["count"].astype(int),
            "denominator": rows["denominator"].astype(int),
            "printed": parts["pct"],
        }
    )


def _rates(df: pd.DataFrame, what: pd.Series, count: str, total: str, pct: str) -> pd.DataFrame:
    """Rows of a table with a count, its denominator and the percentage the report prints."""
    shown = df[pct].notna().to_numpy()
    df, what = df[shown].reset_index(drop=True), what[shown].reset_index(drop=True)
    return pd.DataFrame(
        {
            "location": what,
            "quantity": what,
            "count": df[count].astype(int),
            "denominator": df[total].astype(int),
            "printed": _printed_by_report(df, [pct])[pct],
        }
    )


def _toxicity_percentages(summary: pd.DataFrame) -> pd.DataFrame:
    return _rates(summary, summary["measure"], "n", "denominator", "pct")


def _response_percentages(rates: pd.DataFrame) -> pd.DataFrame:
    what = rates["response"] + " (" + rates["basis"] + "), " + rates["comparison"]
    return _rates(rates, what + ", " + rates["group"], "responders", "n", "rate_pct")


def _table2_hazard_ratios(table2: pd.DataFrame) -> pd.DataFrame:
    parts = table2["HR (95% CI)"].astype(str).str.extract(_HR_CI).dropna()
    rows = table2.loc[parts.index]
    where = rows["endpoint"] + ", " + rows["Characteristic"]
    return pd.DataFrame(
        {
            "location": where,
            "quantity": where,
            "hazard_ratio": parts["hr"],
            "ci_lower": parts["lower"],
            "ci_upper": parts["upper"],
            "p_value": rows["p-value"],
        }
    )


def _cox_hazard_ratios(cox: pd.DataFrame) -> pd.DataFrame:
    columns = ["hazard_ratio", "ci_lower", "ci_upper", "p_value"]
    finite = cox[columns[:3]].apply(pd.to_numeric, errors="coerce")
    cox = cox[np.isfinite(finite).all(axis=1) & (finite > 0).all(axis=1)].reset_index(drop=True)
    where = cox["endpoint"] + ", " + cox["term"]
    return pd.DataFrame({"location": where, "quantity": where, **_printed_by_report(cox, columns)})


#: table -> the rows of its printed percentages
PERCENTAGES = {
    "table1": _table1_percentages,
    "characteristics": _characteristics_percentages,
    "toxicity_summary": _toxicity_percentages,
    "response_rates": _response_percentages,
}
#: table -> the rows of its printed hazard ratios, CIs and p
HAZARD_RATIOS = {
    "table2": _table2_hazard_ratios,
    "cox_univariate": _cox_hazard_ratios,
    "cox_multivariate": _cox_hazard_ratios,
}


def audit_report_tables(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The same audit on this project's analysis tables, as the report prints them.

    Percentages: ``table1`` (denominator from its printed N and Unknown rows),
    ``characteristics``, ``toxicity_summary`` and ``response_rates``; hazard ratios: ``table2``
    and ``cox_univariate`` / ``cox_multivariate`` as printed by the report's tables. A table
    that is absent is skipped; HRs that are not finite positive numbers (a model not estimable)
    are not printed as numbers and not checked.

    Parameters
    ----------
    tables : dict of name -> DataFrame
        Analysis tables by bare name.

    Returns
    -------
    DataFrame
        :data:`FINDING_COLUMNS`; ``source`` is the table's name.
    """
    parts = [
        audit_percentages(extract(tables[name]), name)
        for name, extract in PERCENTAGES.items()
        if name in tables
    ] + [
        audit_hazard_ratios(extract(tables[name]), name)
        for name, extract in HAZARD_RATIOS.items()
        if name in tables
    ]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else empty_findings()


def number_audit(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The analysis table ``number_audit``: the study's printed numbers, then this project's
    own tables (:func:`audit_report_tables`), one row per check."""
    return pd.concat([audit_publication(), audit_report_tables(tables)], ignore_index=True)
