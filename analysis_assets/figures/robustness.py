"""Figures of the robustness analyses: naive vs landmark vs time-dependent hazard ratios as one
forest plot (``robustness_forest``), and the cumulative incidence of relapse and non-relapse
mortality by toxicity group with the number at risk (``cumulative_incidence_by_toxicity``).
Statistics come from ``analysis.robustness_estimates``, ``analysis.cumulative_incidence``,
``analysis.cumulative_incidence_at_ticks`` and ``analysis.competing_risks_tests``."""

from __future__ import annotations

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
from analysis_assets.figures.forest import hazard_ratio_axis
from analysis_assets.formatting import comparison_label, format_number, format_p, format_p_value
from analysis_assets.study import (
    CIF_FIGURE_COMPARISON,
    COMPETING_CAUSES,
    ENDPOINTS,
    LANDMARK_DAY,
    ROBUSTNESS_EXPOSURES,
)

__all__ = [
    "forest_lines",
    "robustness_forest_figure",
    "cumulative_incidence_figure",
    "robustness_figures",
]

#: method -> (label in the plot, marker); the landmark row is the main landmark day's
METHOD_STYLE = {
    "naive": ("Naive (from day 0, as published)", "s"),
    "landmark": (f"Landmark (day {LANDMARK_DAY})", "o"),
    "time_dependent": ("Time-dependent Cox", "D"),
}


def forest_lines(estimates: pd.DataFrame, endpoint: str) -> pd.DataFrame:
    """The rows of one endpoint's panel: per exposure its naive, main landmark and
    time-dependent estimates (sensitivity rows left out), in the study's order."""
    e = estimates[(estimates["endpoint"] == endpoint) & ~estimates["sensitivity"].astype(bool)]
    order = {x: i for i, x in enumerate(ROBUSTNESS_EXPOSURES)}
    methods = {m: i for i, m in enumerate(METHOD_STYLE)}
    e = e.assign(_x=e["exposure"].map(order), _m=e["method"].map(methods))
    return e.sort_values(["_x", "_m"]).drop(columns=["_x", "_m"]).reset_index(drop=True)


def robustness_forest_figure(estimates: pd.DataFrame):
    """One panel per endpoint (OS, then LFS): each exposure's hazard ratio (95% CI, log
    scale) by method, with the HR (95% CI) and p printed beside it.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``robustness:OS``, ``robustness:LFS``.
    """
    endpoints = [e for e in ("OS", "LFS") if (estimates["endpoint"] == e).any()]
    lines = {e: forest_lines(estimates, e) for e in endpoints}
    finite = pd.concat(lines.values())[["hazard_ratio", "ci_lower", "ci_upper"]].to_numpy(float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    lo = min([0.5, *finite]) / 1.25
    hi = max([2.0, *finite]) * 1.25
    heights = [len(lines[e]) + len(ROBUSTNESS_EXPOSURES) + 2 for e in endpoints]
    fig_h = 1.0 + 0.22 * sum(heights)
    fig, axes = plt.subplots(
        len(endpoints),
        1,
        figsize=(11, fig_h),
        squeeze=False,
        sharex=True,
        gridspec_kw={"height_ratios": heights, "hspace": 0.5},
    )
    fig.subplots_adjust(left=0.36, right=0.64, top=1 - 0.5 / fig_h, bottom=0.6 / fig_h)
    to_fig = matplotlib.transforms.blended_transform_factory
    for ax, endpoint in zip(axes.flat, endpoints):
        ax.set_label(f"robustness:{endpoint}")
        tf = to_fig(fig.transFigure, ax.transData)
        y = heights[endpoints.index(endpoint)] - 2.5
        top = y + 1.2
        for exposure, rows in lines[endpoint].groupby("exposure", sort=False):
            ax.text(
                0.02,
                y,
                sentence_case(ROBUSTNESS_EXPOSURES[exposure].description),
                transform=tf,
                ha="left",
                va="center",
                fontsize=TEXT_SIZE,
                fontweight="bold",
            )
            y -= 1
            for r in rows.itertuples():
                label, marker = METHOD_STYLE[r.method]
                colour = COLOURS[list(METHOD_STYLE).index(r.method)]
                ax.text(
                    0.035,
                    y,
                    f"{label}: n = {r.n}, {r.events} events",
                    transform=tf,
                    ha="left",
                    va="center",
                    fontsize=TEXT_SIZE,
                )
                if r.estimable and np.isfinite(r.hazard_ratio):
                    ax.plot(
                        [r.ci_lower, r.ci_upper], [y, y], color=colour, linewidth=LINE_WIDTH * 0.8
                    )
                    ax.plot([r.hazard_ratio], [y], marker, color=colour, markersize=5)
                    value = (
                        f"{format_number(r.hazard_ratio, 2)} ({format_number(r.ci_lower, 2)}"
                        f"–{format_number(r.ci_upper, 2)})"
                    )
                    ax.text(
                        0.93,
                        y,
                        format_p_value(r.p_value),
                        transform=tf,
                        ha="left",
                        va="center",
                        fontsize=TEXT_SIZE,
                    )
                else:
                    value = f"not estimable: {r.note}"
                ax.text(0.66, y, value, transform=tf, ha="left", va="center", fontsize=TEXT_SIZE)
                y -= 1
            y -= 0.4
        for x, text in ((0.02, "Exposure and method"), (0.66, "HR (95% CI)"), (0.93, "p")):
            ax.text(
                x,
                top,
                text,
                transform=tf,
                ha="left",
                va="center",
                fontsize=TEXT_SIZE,
                fontweight="bold",
            )
        spec = ENDPOINTS[endpoint]
        ax.text(
            0.02,
            top + 1.3,
            f"{sentence_case(spec.label)} ({spec.population}): exposed vs not exposed",
            transform=tf,
            ha="left",
            va="center",
            fontsize=TITLE_SIZE,
            fontweight="bold",
        )
        ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_ylim(y + 0.3, top + 1.8)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        hazard_ratio_axis(ax, lo, hi)
    return fig


def cumulative_incidence_figure(
    curves: pd.DataFrame,
    at_ticks: pd.DataFrame,
    tests: pd.DataFrame,
    comparison: str = CIF_FIGURE_COMPARISON,
):
    """Cumulative incidence of relapse (A) and of non-relapse mortality (B) by group from the
    CR, with Gray's p and the number at risk at the ticks under each panel.

    Returns
    -------
    matplotlib.figure.Figure
        Axes labelled ``cif:A``, ``risk:A``, ``cif:B``, ``risk:B``.
    """
    sub = curves[curves["comparison"] == comparison]
    risk = at_ticks[at_ticks["comparison"] == comparison]
    groups = ordered_groups(comparison, risk["group"])
    ticks = sorted(risk["time_months"].unique())
    fig = plt.figure(figsize=(12, 5.2))
    for k, cause in enumerate(COMPETING_CAUSES.values()):
        letter = chr(ord("A") + k)
        left = 0.2 + 0.5 * k
        ax = fig.add_axes((left, 0.42, 0.28, 0.48), label=f"cif:{letter}")
        tab = fig.add_axes((left, 0.04, 0.28, 0.22), sharex=ax, label=f"risk:{letter}")
        for i, g in enumerate(groups):
            rows = sub[(sub["cause"] == cause) & (sub["group"] == g)].sort_values("time_months")
            last = float(risk[risk["group"] == g]["time_months"].max())
            t = np.concatenate([[0.0], rows["time_months"].to_numpy(float)])
            f = np.concatenate([[0.0], rows["estimate"].to_numpy(float)])
            ends = risk[(risk["group"] == g) & (risk["n_risk"] > 0)]["time_months"].max()
            end = max(float(t[-1]), float(ends) if pd.notna(ends) else float(t[-1]))
            ax.step(
                np.append(t, min(end, last)),
                100 * np.append(f, f[-1]),
                where="post",
                color=COLOURS[i % len(COLOURS)],
                linewidth=LINE_WIDTH,
                label=str(g),
            )
        ax.set_xlim(0, ticks[-1])
        ax.set_ylim(0, 100)
        ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
        ax.set_xlabel("Months since complete response", fontsize=LABEL_SIZE)
        ax.set_ylabel(f"Cumulative incidence of {cause} (%)", fontsize=LABEL_SIZE)
        ax.set_title(
            sentence_case(cause),
            loc="left",
            fontsize=TITLE_SIZE,
        )
        gray = tests[
            (tests["cause"] == cause)
            & (tests["comparison"] == comparison)
            & (tests["test"] == "Gray's test")
        ]
        if len(gray) and pd.notna(gray["p_value"].iloc[0]):
            ax.text(
                0.98,
                0.97,
                f"Gray's test {format_p(gray['p_value'].iloc[0])}",
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=LABEL_SIZE,
            )
        ax.legend(
            loc="upper left",
            fontsize=TEXT_SIZE,
            frameon=False,
            title=sentence_case(comparison_label(comparison)),
            title_fontsize=TEXT_SIZE,
        )
        panel_letter(ax, letter, x=-0.62, y=1.06, ha="left")
        tab.set_ylim(-0.6, len(groups) + 0.1)
        tab.axis("off")
        yaxis = tab.get_yaxis_transform()
        tab.text(
            -0.05,
            len(groups),
            "Number at risk",
            transform=yaxis,
            ha="right",
            va="center",
            fontsize=TEXT_SIZE,
            fontweight="bold",
        )
        for i, g in enumerate(groups):
            y = len(groups) - 1 - i
            colour = COLOURS[i % len(COLOURS)]
            tab.text(-0.05, y, str(g), transform=yaxis, ha="right", va="center", fontsize=TEXT_SIZE)
            counts = risk[risk["group"] == g].set_index("time_months")["n_risk"]
            for t in ticks:
                tab.text(
                    t,
                    y,
                    str(int(counts.get(t, 0))),
                    ha="center",
                    va="center",
                    fontsize=TEXT_SIZE,
                    color=colour,
                )
    return fig


#: the tables :func:`robustness_figures` draws from
ROBUSTNESS_TABLES = (
    "robustness_estimates",
    "cumulative_incidence",
    "cumulative_incidence_at_ticks",
    "competing_risks_tests",
)


def robustness_figures(t: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Both robustness figures, when their tables are there (PNG, PDF and SVG each); no
    cumulative incidence figure without a curve (no patient in CR yet)."""
    paths: list[Path] = []
    if "robustness_estimates" in t:
        paths += save(
            robustness_forest_figure(t["robustness_estimates"]), out_dir, "robustness_forest"
        )
    if "cumulative_incidence" in t and not t["cumulative_incidence"].empty:
        fig = cumulative_incidence_figure(
            t["cumulative_incidence"],
            t["cumulative_incidence_at_ticks"],
            t["competing_risks_tests"],
        )
        paths += save(fig, out_dir, "cumulative_incidence_by_toxicity")
    return paths
