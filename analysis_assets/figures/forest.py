"""Table 2 as a forest plot: OS and LFS stacked on one common log x-range, a row per level
with the reference levels at HR 1 ("Reference", no CI), the HR (95% CI) and p printed beside
each row, and what could not be estimated said in words."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import matplotlib.transforms
import numpy as np
import pandas as pd

from analysis_assets.figures._common import (
    COLOURS,
    LABEL_SIZE,
    LINE_WIDTH,
    TEXT_SIZE,
    TITLE_SIZE,
    save,
    sentence_case,
)
from analysis_assets.formatting import format_number, format_p_value, term_label
from analysis_assets.labels import VARIABLES, label, level_label, variable
from analysis_assets.study import COVARIATES, ENDPOINTS

__all__ = ["forest_plot", "forest_figure", "forest_rows", "forest_x_range"]

#: the heading of a binary covariate whose own label names one of its levels (private:
#: candidate for analysis_assets.labels)
FOREST_HEADINGS = {"bm_blasts_ge_20": label("bm_blasts_pct_pre", unit=False)}
#: hazard ratios the x axis may show as ticks
HR_TICKS = (0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)
REFERENCE = "Reference"


@dataclass(frozen=True)
class ForestRow:
    """One line of the forest plot."""

    kind: str  # heading | reference | level | wald | note
    text: str
    hr: float = float("nan")
    lower: float = float("nan")
    upper: float = float("nan")
    p: float = float("nan")
    value: str = ""  # the HR (95% CI) column


def hazard_ratio_axis(ax, lo: float, hi: float) -> None:
    """The x axis of a forest plot: log scale from ``lo`` to ``hi``, ticks at :data:`HR_TICKS`
    printed plainly, labelled."""
    ax.set_xscale("log")
    ax.set_xlim(lo, hi)
    ax.tick_params(axis="x", labelbottom=True)
    ax.xaxis.set_major_locator(
        matplotlib.ticker.FixedLocator([v for v in HR_TICKS if lo <= v <= hi])
    )
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel("Hazard ratio (95% CI), log scale", fontsize=LABEL_SIZE)


def _num(value) -> float:
    v = pd.to_numeric(value, errors="coerce")
    return float(v) if pd.notna(v) else float("nan")


def _heading(covariate: str, description: str) -> str:
    if covariate in FOREST_HEADINGS:
        return FOREST_HEADINGS[covariate]
    if covariate in VARIABLES:
        return label(covariate)
    return sentence_case(description or covariate)


def _ci_text(hr: float, lo: float, hi: float) -> str:
    return f"{format_number(hr, 2)} ({format_number(lo, 2)}–{format_number(hi, 2)})"


def _estimate_row(text: str, r) -> ForestRow:
    hr, lo, hi, p = (_num(r.get(c)) for c in ("hazard_ratio", "ci_lower", "ci_upper", "p_value"))
    estimable = r.get("estimable")
    if (pd.notna(estimable) and not bool(estimable)) or not np.isfinite(hr):
        note = r.get("note")
        why = f": {note}" if isinstance(note, str) and note else ""
        return ForestRow("note", text, value=f"not estimable{why}")
    return ForestRow("level", text, hr, lo, hi, p, _ci_text(hr, lo, hi))


def _is_reference_row(r, covariate: str, reference) -> bool:
    """A reference level the table lists itself: flagged, named as the covariate's reference,
    or HR 1 without a CI."""
    flag = r.get("reference")
    if flag is not None and pd.notna(flag) and bool(flag):
        return True
    if reference is not None and str(r["term"]) == f"{covariate}[{reference}]":
        return True
    hr, lo = _num(r.get("hazard_ratio")), _num(r.get("ci_lower"))
    return hr == 1.0 and not np.isfinite(lo)


def forest_rows(cox: pd.DataFrame) -> list[ForestRow]:
    """The lines of one endpoint's forest: per covariate a heading, its reference level
    (``Reference`` at HR 1), its other levels with HR (95% CI) and p, and for a categorical
    covariate its overall Wald test.

    Parameters
    ----------
    cox : DataFrame
        Rows of ``analysis.cox_multivariate`` of one endpoint (reference rows may be present
        or not: a missing one is added).

    Returns
    -------
    list of ForestRow
    """
    out: list[ForestRow] = []
    cox = cox.reset_index(drop=True)
    terms = cox["term"].astype(str)
    if len(cox) and (terms.str.contains(r" \+ ") & ~cox["estimable"].astype(bool)).all():
        note = cox["note"].iloc[0]
        return [ForestRow("note", "Model not estimable", value=str(note or "not estimable"))]
    names = terms.str.replace(" (overall Wald test)", "", regex=False).str.partition("[")[0]
    for covariate in pd.unique(names):
        rows = cox[names == covariate]
        description = str(rows["description"].iloc[0]) if "description" in rows else ""
        spec = COVARIATES.get(covariate)
        reference = spec.reference if spec else None
        bracketed = rows[rows["term"].astype(str).str.contains(r"\[", regex=True)]
        wald = rows[rows["term"].astype(str).str.contains("overall", regex=False)]
        plain = rows.drop(bracketed.index).drop(wald.index)
        levels = variable(covariate).levels
        if len(bracketed) or reference is not None:
            out.append(ForestRow("heading", _heading(covariate, description)))
            level_of = {
                str(t)[len(covariate) + 1 : -1]: r
                for t, r in zip(bracketed["term"], bracketed.to_dict("records"))
            }
            listed = [c for c, r in level_of.items() if _is_reference_row(r, covariate, reference)]
            if reference is not None and reference not in level_of and not listed:
                listed = [reference]  # the table does not list its reference level: add it
            order = [c for c in levels if c in level_of or c in listed]
            order += [c for c in [*listed, *level_of] if c not in order]
            for code in dict.fromkeys(order):
                text = level_label(covariate, code)
                if code in listed:
                    out.append(ForestRow("reference", text, hr=1.0, value=REFERENCE))
                else:
                    out.append(_estimate_row(text, level_of[code]))
            for r in wald.to_dict("records"):
                chi, df = _num(r.get("wald_chi_square")), _num(r.get("wald_df"))
                value = (
                    f"Wald χ² = {format_number(chi, 2)}, df = {format_number(df)}"
                    if np.isfinite(chi)
                    else "Wald test"
                )
                out.append(
                    ForestRow("wald", "Overall (Wald test)", p=_num(r.get("p_value")), value=value)
                )
        elif len(levels) == 2 and set(levels) == {True, False}:
            out.append(ForestRow("heading", _heading(covariate, description)))
            out.append(ForestRow("reference", levels[False], hr=1.0, value=REFERENCE))
            for r in plain.to_dict("records"):
                out.append(_estimate_row(levels[True], r))
        else:
            for r in plain.to_dict("records"):
                out.append(_estimate_row(sentence_case(term_label(r["term"], description)), r))
    return out


def forest_x_range(rows_by_endpoint: dict[str, list[ForestRow]]) -> tuple[float, float]:
    """One log x-range for every panel: all CIs, 0.5 and 2 included, with a margin."""
    bounds = [0.5, 2.0]
    for rows in rows_by_endpoint.values():
        for r in rows:
            bounds += [v for v in (r.lower, r.upper, r.hr) if np.isfinite(v) and v > 0]
    return min(bounds) / 1.25, max(bounds) * 1.25


def _endpoint_title(endpoint: str, cox: pd.DataFrame) -> str:
    spec = ENDPOINTS.get(endpoint)
    name = sentence_case(spec.label) if spec else endpoint
    if not len(cox):
        return name
    n, events = _num(cox["n"].iloc[0]), _num(cox["events"].iloc[0])
    population = spec.population if spec else "patients"
    return f"{name} ({population}): n = {format_number(n)}, {format_number(events)} events"


def forest_plot(cox_multivariate: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Table 2 as a forest plot (``table2_forest``), see :func:`forest_figure`.

    Returns
    -------
    list of Path
        PNG, PDF and SVG.
    """
    return save(forest_figure(cox_multivariate), out_dir, "table2_forest")


def forest_figure(cox_multivariate: pd.DataFrame):
    """One panel per endpoint (OS above LFS): hazard ratios with 95% CI on one common log
    x-range, reference levels as an open diamond at HR 1, a dashed line at HR 1, the
    characteristic, HR (95% CI) and p as text columns.

    Parameters
    ----------
    cox_multivariate : DataFrame
        ``analysis.cox_multivariate``.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``forest:OS``, ``forest:LFS``.
    """
    endpoints = [e for e in ENDPOINTS if e in set(cox_multivariate["endpoint"])]
    endpoints += sorted(set(cox_multivariate["endpoint"]) - set(endpoints))
    tables = {e: cox_multivariate[cox_multivariate["endpoint"] == e] for e in endpoints}
    rows = {e: forest_rows(t) for e, t in tables.items()}
    lo, hi = forest_x_range(rows)
    heights = [len(rows[e]) + 2.3 for e in endpoints] or [1]
    fig_h = 0.8 + 0.26 * sum(heights)
    fig, axes = plt.subplots(
        max(len(endpoints), 1),
        1,
        figsize=(11, fig_h),
        squeeze=False,
        sharex=True,
        gridspec_kw={"height_ratios": heights, "hspace": 0.9 / max(len(endpoints), 1)},
    )
    fig.subplots_adjust(left=0.33, right=0.65, top=1 - 0.55 / fig_h, bottom=0.55 / fig_h)
    for ax, endpoint in zip(axes.flat, endpoints):
        lines = rows[endpoint]
        ax.set_label(f"forest:{endpoint}")
        to_fig = matplotlib.transforms.blended_transform_factory(fig.transFigure, ax.transData)
        y_top = len(lines) - 1
        for k, r in enumerate(lines):
            y = y_top - k
            bold = r.kind == "heading"
            indent = 0.0 if bold or r.kind == "note" and r.text == "Model not estimable" else 0.015
            ax.text(
                0.02 + indent,
                y,
                r.text,
                transform=to_fig,
                ha="left",
                va="center",
                fontsize=TEXT_SIZE,
                fontweight="bold" if bold else "normal",
            )
            if r.kind == "level":
                ax.plot([r.lower, r.upper], [y, y], color="black", linewidth=LINE_WIDTH * 0.8)
                ax.plot([r.hr], [y], "s", color=COLOURS[0], markersize=6)
            elif r.kind == "reference":
                ax.plot(
                    [1.0],
                    [y],
                    "D",
                    markerfacecolor="white",
                    markeredgecolor="black",
                    markersize=5,
                    gid="reference",
                )
            ax.text(0.67, y, r.value, transform=to_fig, ha="left", va="center", fontsize=TEXT_SIZE)
            if np.isfinite(r.p):
                ax.text(
                    0.93,
                    y,
                    format_p_value(r.p),
                    transform=to_fig,
                    ha="left",
                    va="center",
                    fontsize=TEXT_SIZE,
                )
        header_y = y_top + 1.1
        for x, text in ((0.02, "Characteristic"), (0.67, "HR (95% CI)"), (0.93, "p")):
            ax.text(
                x,
                header_y,
                text,
                transform=to_fig,
                ha="left",
                va="center",
                fontsize=TEXT_SIZE,
                fontweight="bold",
            )
        ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.text(
            0.02,
            y_top + 2.3,
            _endpoint_title(endpoint, tables[endpoint]),
            transform=to_fig,
            ha="left",
            va="center",
            fontsize=TITLE_SIZE,
            fontweight="bold",
        )
        ax.set_ylim(-0.7, y_top + 1.6)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        hazard_ratio_axis(ax, lo, hi)
    return fig
