"""Figures comparing groups: Figure 1 (CR and MRD-negative CR rates by each comparison) and
Figure 4 (peak CAR copies by six groupings, panels A–F), each panel with its test and p."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis_assets.comparisons import group_labels
from analysis_assets.figures._common import (
    COLOURS,
    LABEL_SIZE,
    TEXT_SIZE,
    TITLE_SIZE,
    many_marks,
    method_label,
    ordered_groups,
    panel_letter,
    save,
    sentence_case,
)
from analysis_assets.formatting import comparison_label, format_p
from analysis_assets.labels import label
from analysis_assets.study import (
    FIGURE1_COMPARISONS,
    FIGURE4_COMPARISONS,
    FIGURE4_VARIABLE,
    MAIN_BASIS,
    RESPONSES,
)

__all__ = ["figure1_response_bars", "figure4_car_copies"]

#: characters per line of a group label under a bar or box
GROUP_LABEL_WIDTH = 16


def _group_tick(group: str, n: int) -> str:
    return f"{textwrap.fill(str(group), GROUP_LABEL_WIDTH)}\n(n = {n})"


def _test_text(ax, test, p) -> None:
    ax.text(
        0.02,
        0.98,
        f"{method_label(test)}, {format_p(p)}",
        transform=ax.transAxes,
        ha="left",
        va="top",
        fontsize=TEXT_SIZE,
    )


def figure1_response_bars(
    response_rates: pd.DataFrame,
    out_dir: Path,
    basis: str = MAIN_BASIS,
    comparisons=FIGURE1_COMPARISONS,
) -> list[Path]:
    """Figure 1: CR and MRD-negative CR rates by each comparison.

    One figure per response (``figure1_cr_day30``, ``figure1_mrd_negative_cr``: Figures 1A and
    1B, lettered in the order of ``study.RESPONSES``), one panel per comparison: bars give the
    rate (%), ``responders/n`` above each bar, the group and its n under it, the comparison as
    the panel title and its test and p in the panel.

    Returns
    -------
    list of Path
        PNG, PDF and SVG of each figure.
    """
    paths: list[Path] = []
    rates = response_rates[response_rates["basis"] == basis]
    for letter, (response, spec) in zip("ABCDEFGH", RESPONSES.items()):
        sub = rates[rates["response"] == response]
        comps = [c for c in comparisons if c in set(sub["comparison"])]
        if not comps:
            continue
        ncol = min(4, len(comps))
        nrow = math.ceil(len(comps) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.9 * nrow), squeeze=False)
        for ax in axes.flat[len(comps) :]:
            ax.set_visible(False)
        for ax, comp in zip(axes.flat, comps):
            rows = sub[sub["comparison"] == comp].set_index("group")
            groups = ordered_groups(comp, rows.index)
            rows = rows.loc[groups]
            x = np.arange(len(groups))
            ax.bar(
                x,
                rows["rate_pct"].astype(float),
                color=[COLOURS[i % len(COLOURS)] for i in x],
                width=0.6,
            )
            for xi, (_, r) in zip(x, rows.iterrows()):
                ax.text(
                    xi,
                    float(r["rate_pct"]) + 1.5,
                    f"{int(r['responders'])}/{int(r['n'])}",
                    ha="center",
                    va="bottom",
                    fontsize=TEXT_SIZE,
                )
            ax.set_xticks(
                x, [_group_tick(g, int(r["n"])) for g, (_, r) in zip(groups, rows.iterrows())]
            )
            ax.set_ylim(0, 118)
            ax.set_yticks([0, 20, 40, 60, 80, 100])
            ax.set_ylabel(f"{spec.label} (%)", fontsize=LABEL_SIZE)
            ax.set_title(sentence_case(comparison_label(comp)), fontsize=TITLE_SIZE)
            test = rows["test"].iloc[0] if len(rows) else None
            p = rows["p_value"].iloc[0] if len(rows) else None
            _test_text(ax, test, p)
        panel_letter(axes.flat[0], letter, x=-0.2, y=1.12)
        fig.tight_layout()
        paths += save(fig, out_dir, f"figure1_{response}")
    return paths


def figure4_car_copies(
    mart: pd.DataFrame,
    biomarker_tests: pd.DataFrame,
    out_dir: Path,
    comparisons=FIGURE4_COMPARISONS,
    variable: str = FIGURE4_VARIABLE,
) -> list[Path]:
    """Figure 4: peak CAR copies by six groupings (panels A–F), log scale.

    Each panel: a box (median and quartiles) and every patient as a point, the group and its n
    under it, the grouping as the title, and the test and p of ``analysis.biomarker_tests``
    in the panel.

    Returns
    -------
    list of Path
        PNG, PDF and SVG.
    """
    values = pd.to_numeric(mart[variable], errors="coerce")
    ncol = 3
    nrow = max(1, math.ceil(len(comparisons) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 4.0 * nrow), squeeze=False)
    for ax in axes.flat[len(comparisons) :]:
        ax.set_visible(False)
    rng = np.random.default_rng(20240101)
    for k, (ax, comp) in enumerate(zip(axes.flat, comparisons)):
        labels = group_labels(mart, comp)
        ok = values.notna() & (values > 0) & labels.notna()
        groups = ordered_groups(comp, labels[ok])
        data = [values[ok & (labels == g)].to_numpy(dtype=float) for g in groups]
        if groups:
            ax.boxplot(
                data,
                positions=range(len(groups)),
                widths=0.5,
                showfliers=False,
                medianprops={"color": "black", "linewidth": 1.5},
            )
            for i, d in enumerate(data):
                jitter = rng.uniform(-0.12, 0.12, size=len(d))
                ax.plot(
                    i + jitter,
                    d,
                    "o",
                    color=COLOURS[i % len(COLOURS)],
                    alpha=0.75,
                    markersize=4,
                    rasterized=many_marks(len(d)),
                )
            ax.set_xticks(
                range(len(groups)), [_group_tick(g, len(d)) for g, d in zip(groups, data)]
            )
            ax.set_yscale("log")
            ax.set_ylim(ax.get_ylim()[0], ax.get_ylim()[1] * 4)
        t = biomarker_tests[
            (biomarker_tests["variable"] == variable) & (biomarker_tests["comparison"] == comp)
        ]
        _test_text(
            ax, t["test"].iloc[0] if len(t) else None, t["p_value"].iloc[0] if len(t) else None
        )
        ax.set_title(sentence_case(comparison_label(comp)), fontsize=TITLE_SIZE)
        ax.set_ylabel(f"{label(variable)} (log scale)", fontsize=LABEL_SIZE)
        panel_letter(ax, chr(ord("A") + k), x=-0.2, y=1.04)
    fig.tight_layout()
    return save(fig, out_dir, "figure4_car_copies")
