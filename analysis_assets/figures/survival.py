"""Kaplan–Meier figures: the multi-panel Figures 2, 3 and S1 of the paper
(``study.SURVIVAL_FIGURES``) and one figure per endpoint and comparison
(``km_{endpoint}_{comparison}``), all drawn by one panel function so that they look alike.

Each panel: step curves per group with '+' at censoring times, the log-rank p, a legend with
the group sizes, and the number at risk under the panel at the x ticks (every
``study.TIME_TICK_MONTHS`` months up to the longest follow-up). Statistics come from
``analysis.km_estimates`` and ``analysis.logrank_tests``; nothing is estimated here.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd

from analysis_assets.figures._common import (
    COLOURS,
    LABEL_SIZE,
    LINE_WIDTH,
    TEXT_SIZE,
    TITLE_SIZE,
    ordered_groups,
    panel_letter,
    save,
    sentence_case,
)
from analysis_assets.formatting import comparison_label, format_p
from analysis_assets.study import (
    ENDPOINTS,
    KM_PANELS,
    SURVIVAL_FIGURES,
)
from analysis_assets.survival import time_ticks

__all__ = [
    "number_at_risk",
    "time_ticks",
    "km_figure",
    "km_figures",
    "survival_figure",
    "survival_figures",
]

# layout of one panel, in inches
_PANEL_WIDTH = 4.0
_PANEL_HEIGHT = 2.7
_LEFT = 2.2  # room for the risk table's group labels
_RIGHT = 0.35
_TOP = 0.55  # title and panel letter
_XLABEL = 0.5  # tick labels and axis label under the curves
_RISK_TITLE = 0.25
_RISK_ROW = 0.19
_GAP = 0.35


def number_at_risk(km_group: pd.DataFrame, times, n: int | None = None) -> list[int]:
    """Number at risk at each of ``times`` from the rows of one KM curve.

    Parameters
    ----------
    km_group : DataFrame
        Rows of ``analysis.km_estimates`` of one curve (``time_months``, ``n_risk``), in any
        order.
    times : sequence of float
        Months (the figures use :func:`time_ticks`).
    n : int, optional
        The group size, shown at t = 0 (default: the ``n_risk`` of the first row).

    Returns
    -------
    list of int
        ``n_risk`` of the first row with ``time_months >= t``, 0 past the last row.
    """
    rows = km_group.sort_values("time_months")
    t_arr = rows["time_months"].to_numpy(dtype=float)
    r_arr = rows["n_risk"].to_numpy(dtype=float)
    n0 = int(n) if n is not None else (int(r_arr[0]) if len(r_arr) else 0)
    out = []
    for t in times:
        if t == 0:
            out.append(n0)
            continue
        idx = np.searchsorted(t_arr, t, side="left")
        out.append(int(r_arr[idx]) if idx < len(t_arr) else 0)
    return out


def _km_steps(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    t = np.concatenate([[0.0], rows["time_months"].to_numpy(dtype=float)])
    s = np.concatenate([[1.0], rows["survival"].to_numpy(dtype=float)])
    return t, s


def _group_sizes(survival_medians: pd.DataFrame | None, endpoint: str, comparison: str):
    if survival_medians is None or survival_medians.empty:
        return {}
    m = survival_medians[
        (survival_medians["endpoint"] == endpoint) & (survival_medians["comparison"] == comparison)
    ]
    return {g: int(n) for g, n in zip(m["group"], m["n"])}


def _panel_title(endpoint: str, comparison: str) -> str:
    spec = ENDPOINTS.get(endpoint)
    name = sentence_case(spec.label) if spec else endpoint
    return f"{name}: {comparison_label(comparison)}"


def _risk_rows(n_groups: int) -> float:
    return _RISK_TITLE + _RISK_ROW * max(n_groups, 1)


def _draw_panel(
    fig,
    rect_inches: tuple[float, float],
    fig_size: tuple[float, float],
    km: pd.DataFrame,
    logrank: pd.DataFrame,
    endpoint: str,
    comparison: str,
    ticks: list[int],
    group_n: dict[str, int],
    rows_in_table: int,
    letter: str | None = None,
):
    """Draw one panel with its risk table; ``rect_inches`` is the panel cell's top-left
    corner (inches from the figure's left and top)."""
    width, height = fig_size
    x0, top = rect_inches
    risk_h = _risk_rows(rows_in_table)
    ax_left = (x0 + _LEFT) / width
    ax_width = _PANEL_WIDTH / width
    km_bottom = height - top - _TOP - _PANEL_HEIGHT
    ax = fig.add_axes(
        (ax_left, km_bottom / height, ax_width, _PANEL_HEIGHT / height),
        label=f"km:{letter or endpoint + '_' + comparison}",
    )
    risk_bottom = km_bottom - _XLABEL - risk_h
    tab = fig.add_axes(
        (ax_left, risk_bottom / height, ax_width, risk_h / height),
        sharex=ax,
        label=f"risk:{letter or endpoint + '_' + comparison}",
    )
    sub = km[(km["endpoint"] == endpoint) & (km["comparison"] == comparison)]
    groups = ordered_groups(comparison, sub["group"])
    handles = []
    for i, g in enumerate(groups):
        rows = sub[sub["group"] == g].sort_values("time_months")
        colour = COLOURS[i % len(COLOURS)]
        t, s = _km_steps(rows)
        n = number_at_risk(rows, (0,), group_n.get(g))[0]
        (line,) = ax.step(
            np.append(t, t[-1]),
            100 * np.append(s, s[-1]),
            where="post",
            color=colour,
            linewidth=LINE_WIDTH,
            label=f"{g} (n = {n})",
        )
        handles.append(line)
        cens = rows[rows["n_censor"] > 0]
        ax.plot(
            cens["time_months"].astype(float),
            100 * cens["survival"].astype(float),
            "+",
            color=colour,
            markersize=7,
            markeredgewidth=1.1,
            linestyle="none",
        )
    ax.set_xlim(0, ticks[-1])
    ax.set_ylim(0, 105)
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
    ax.yaxis.set_major_locator(matplotlib.ticker.FixedLocator([0, 20, 40, 60, 80, 100]))
    spec = ENDPOINTS.get(endpoint)
    ax.set_xlabel(sentence_case(spec.time_axis) if spec else "Months", fontsize=LABEL_SIZE)
    ax.set_ylabel(f"{sentence_case(spec.label) if spec else endpoint} (%)", fontsize=LABEL_SIZE)
    ax.set_title(_panel_title(endpoint, comparison), fontsize=TITLE_SIZE, loc="left")
    ax.legend(handles=handles, loc="lower left", fontsize=TEXT_SIZE, frameon=False)
    lr = logrank[(logrank["endpoint"] == endpoint) & (logrank["comparison"] == comparison)]
    if len(lr):
        ax.text(
            0.98,
            0.97,
            f"Log-rank {format_p(lr['p_value'].iloc[0])}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=LABEL_SIZE,
        )
    if letter:
        panel_letter(ax, letter, x=-(_LEFT - 0.1) / _PANEL_WIDTH, y=1.04, ha="left")
    # number-at-risk table: the same x axis, one row per group, a count under every tick
    tab.set_ylim(-0.6, rows_in_table + 0.1)
    tab.axis("off")
    yaxis = tab.get_yaxis_transform()
    tab.text(
        -0.09,
        rows_in_table,
        "Number at risk",
        transform=yaxis,
        ha="right",
        va="center",
        fontsize=TEXT_SIZE,
        fontweight="bold",
    )
    for i, g in enumerate(groups):
        rows = sub[sub["group"] == g]
        counts = number_at_risk(rows, ticks, group_n.get(g))
        y = rows_in_table - 1 - i
        colour = COLOURS[i % len(COLOURS)]
        tab.text(-0.09, y, str(g), transform=yaxis, ha="right", va="center", fontsize=TEXT_SIZE)
        tab.plot([-0.06], [y], "s", color=colour, markersize=5, transform=yaxis, clip_on=False)
        for t, c in zip(ticks, counts):
            tab.text(
                t,
                y,
                str(c),
                ha="center",
                va="center",
                fontsize=TEXT_SIZE,
                color=colour,
                gid=f"risk-{i}-{t}",
            )
    return ax, tab


def _cell_height(rows_in_table: int) -> float:
    return _TOP + _PANEL_HEIGHT + _XLABEL + _risk_rows(rows_in_table) + _GAP


def _max_groups(km: pd.DataFrame, panels) -> int:
    sizes = [
        km[(km["endpoint"] == e) & (km["comparison"] == c)]["group"].nunique() for e, c in panels
    ]
    return max(sizes + [1])


def max_follow_up(km: pd.DataFrame) -> float:
    """The longest time of ``analysis.km_estimates`` (months), NaN when empty."""
    return float(km["time_months"].max()) if len(km) else float("nan")


def survival_figure(
    km: pd.DataFrame,
    logrank: pd.DataFrame,
    panels,
    survival_medians: pd.DataFrame | None = None,
    ncols: int = 2,
    ticks: list[int] | None = None,
):
    """A multi-panel Kaplan–Meier figure, panels lettered A, B, ... in reading order.

    Parameters
    ----------
    km, logrank : DataFrame
        ``analysis.km_estimates`` and ``analysis.logrank_tests``.
    panels : sequence of (endpoint, comparison)
        One panel each, ``ncols`` per row (OS left, LFS right in the study's figures).
    survival_medians : DataFrame, optional
        Its ``n`` gives each group's size in the legend and at t = 0.
    ncols : int, default 2
    ticks : list of int, optional
        The x ticks (default: :func:`time_ticks` of the longest follow-up in ``km``), the same
        in every panel.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``km:A``, ``risk:A``, ... (the curves and the risk table of each panel).
    """
    panels = list(panels)
    ticks = ticks or time_ticks(max_follow_up(km))
    rows_in_table = _max_groups(km, panels)
    ncols = max(1, min(ncols, len(panels)))
    nrows = max(1, math.ceil(len(panels) / ncols))
    cell_w = _LEFT + _PANEL_WIDTH + _RIGHT
    cell_h = _cell_height(rows_in_table)
    size = (cell_w * ncols, cell_h * nrows)
    fig = plt.figure(figsize=size)
    single = len(panels) == 1
    for k, (endpoint, comparison) in enumerate(panels):
        row, col = divmod(k, ncols)
        _draw_panel(
            fig,
            (col * cell_w, row * cell_h),
            size,
            km,
            logrank,
            endpoint,
            comparison,
            ticks,
            _group_sizes(survival_medians, endpoint, comparison),
            rows_in_table,
            letter=None if single else chr(ord("A") + k),
        )
    return fig


def survival_figures(
    km: pd.DataFrame,
    logrank: pd.DataFrame,
    out_dir: Path,
    survival_medians: pd.DataFrame | None = None,
    figures=SURVIVAL_FIGURES,
) -> list[Path]:
    """Figures 2, 3 and S1: one multi-panel figure per entry of ``study.SURVIVAL_FIGURES``.

    Panels whose (endpoint, comparison) has no Kaplan–Meier rows are left out; every figure
    has the same time axis (ticks to the longest follow-up of ``km``).

    Returns
    -------
    list of Path
        PNG, PDF and SVG of each figure.
    """
    paths: list[Path] = []
    present = set(zip(km["endpoint"], km["comparison"]))
    ticks = time_ticks(max_follow_up(km))
    for stem, panels in figures.items():
        shown = [p for p in panels if p in present]
        if not shown:
            continue
        fig = survival_figure(km, logrank, shown, survival_medians, ticks=ticks)
        paths += save(fig, out_dir, stem)
    return paths


def km_figure(
    km: pd.DataFrame,
    logrank: pd.DataFrame,
    endpoint: str,
    comparison: str,
    out_dir: Path,
    survival_medians: pd.DataFrame | None = None,
    ticks: list[int] | None = None,
) -> list[Path]:
    """One Kaplan–Meier figure (``km_{endpoint}_{comparison}``), styled as the panels of
    :func:`survival_figure`."""
    fig = survival_figure(km, logrank, [(endpoint, comparison)], survival_medians, ticks=ticks)
    return save(fig, out_dir, f"km_{endpoint}_{comparison}")


def km_figures(
    km: pd.DataFrame,
    logrank: pd.DataFrame,
    out_dir: Path,
    panels=KM_PANELS,
    survival_medians: pd.DataFrame | None = None,
) -> list[Path]:
    """Every single Kaplan–Meier figure of ``panels`` (OS and LFS by each comparison)."""
    paths: list[Path] = []
    present = set(zip(km["endpoint"], km["comparison"]))
    ticks = time_ticks(max_follow_up(km))
    for endpoint, comparison in panels:
        if (endpoint, comparison) in present:
            paths += km_figure(km, logrank, endpoint, comparison, out_dir, survival_medians, ticks)
    return paths
