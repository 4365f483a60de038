"""The CONSORT-style cohort flow (``cohort_flow``): nested boxes (each step a subset of its
parent step, ``mart.cohort_flow.parent_step_order``) and a side box per exclusion with its
reason and count."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd

from analysis_assets.figures._common import TEXT_SIZE, save, sentence_case
from analysis_assets.formatting import format_number

__all__ = ["cohort_flow_figure", "flow_figure", "flow_tree"]

_BOX = {"boxstyle": "round,pad=0.45", "facecolor": "#f4f6fa", "edgecolor": "#4a5a75"}
_EXCLUDED_BOX = {"boxstyle": "round,pad=0.45", "facecolor": "#fbf3f2", "edgecolor": "#9a5b52"}
_ARROW = {"arrowstyle": "-|>", "color": "#4a5a75", "linewidth": 1.0, "shrinkA": 0, "shrinkB": 0}
_COLUMN = 2.3  # x distance between two branches
_SIDE = 1.2  # x distance from an arrow to its exclusion box
_HALF_BOX = 0.42  # half a box's height, in y units
_LEVEL = 2.4  # y distance between a step and its subsets (room for a tall exclusion box)
_WRAP = 34


def flow_tree(cohort_flow: pd.DataFrame, centre: str = "all") -> pd.DataFrame:
    """The steps of one centre with their parent step, excluded patients and reason.

    Parameters
    ----------
    cohort_flow : DataFrame
        ``mart.cohort_flow`` or ``analysis.cohort_flow``; without ``parent_step_order`` the
        steps are taken as a chain (each the subset of the one before it).
    centre : str, default "all"

    Returns
    -------
    DataFrame
        ``step_order``, ``step``, ``n``, ``parent_step_order``, ``excluded_n``,
        ``excluded_reason``, ``analysis_population``, sorted by step_order; ``excluded_n`` =
        the parent's n - n when the table lacks it.
    """
    steps = cohort_flow[cohort_flow["centre_code"] == centre].sort_values("step_order").copy()
    steps = steps.reset_index(drop=True)
    if "parent_step_order" not in steps:
        steps["parent_step_order"] = steps["step_order"].shift(1)
    n_of = dict(zip(steps["step_order"], steps["n"]))
    if "excluded_n" not in steps:
        steps["excluded_n"] = [
            n_of[p] - n if pd.notna(p) and p in n_of else None
            for p, n in zip(steps["parent_step_order"], steps["n"])
        ]
    for column in ("excluded_reason", "analysis_population"):
        if column not in steps:
            steps[column] = None
    return steps[
        [
            "step_order",
            "step",
            "n",
            "parent_step_order",
            "excluded_n",
            "excluded_reason",
            "analysis_population",
        ]
    ]


def _layout(tree: pd.DataFrame) -> dict[int, tuple[float, int]]:
    """(x, depth) of every step: leaves side by side in step order, a parent above the middle
    of its children."""
    children: dict = {}
    roots = []
    for step, parent in zip(tree["step_order"], tree["parent_step_order"]):
        if pd.isna(parent) or parent not in set(tree["step_order"]):
            roots.append(step)
        else:
            children.setdefault(int(parent), []).append(step)
    pos: dict[int, tuple[float, int]] = {}
    next_leaf = [0.0]

    def place(step, depth):
        kids = children.get(int(step), [])
        for kid in kids:
            place(kid, depth + 1)
        if kids:
            x = sum(pos[int(k)][0] for k in kids) / len(kids)
        else:
            x = next_leaf[0]
            next_leaf[0] += _COLUMN
        pos[int(step)] = (x, depth)

    for root in roots:
        place(root, 0)
    return pos


def _centre_line(cohort_flow: pd.DataFrame, step_order) -> str:
    centres = cohort_flow[
        (cohort_flow["centre_code"] != "all") & (cohort_flow["step_order"] == step_order)
    ].sort_values("centre_code")
    return "  ".join(
        f"{c} {format_number(n)}" for c, n in zip(centres["centre_code"], centres["n"])
    )


def _excluded_text(n, reason, by_reason: pd.DataFrame | None = None) -> str:
    """The exclusion box: what is excluded and how many, then the count of every reason that
    has patients (``mart.cohort_exclusions``) or, without them, the reason in words."""
    reason = str(reason) if isinstance(reason, str) and reason else "excluded"
    head, _, detail = reason.partition(": ")
    text = f"{sentence_case(head)} (n = {format_number(n)})"
    if by_reason is not None and (by_reason["n"] > 0).any():
        shown = by_reason[by_reason["n"] > 0].sort_values("reason_order")
        lines = [
            textwrap.fill(f"{r}: {format_number(k)}", _WRAP + 6, subsequent_indent="  ")
            for r, k in zip(shown["reason"], shown["n"])
        ]
        return text + "\n" + "\n".join(lines)
    return text + ("\n" + textwrap.fill(detail, _WRAP) if detail else "")


def _reasons(exclusions: pd.DataFrame | None, step_order) -> pd.DataFrame | None:
    if exclusions is None or exclusions.empty:
        return None
    part = exclusions[
        (exclusions["centre_code"] == "all") & (exclusions["step_order"] == step_order)
    ]
    return part if len(part) else None


def cohort_flow_figure(
    cohort_flow: pd.DataFrame, out_dir: Path, exclusions: pd.DataFrame | None = None
) -> list[Path]:
    """The cohort flow as a CONSORT diagram (``cohort_flow``), see :func:`flow_figure`.

    Returns
    -------
    list of Path
        PNG, PDF and SVG.
    """
    return save(flow_figure(cohort_flow, exclusions), out_dir, "cohort_flow")


def flow_figure(cohort_flow: pd.DataFrame, exclusions: pd.DataFrame | None = None):
    """One box per step (n, the analyses it is the population of, n per centre), arrows from
    each step to its subsets, and beside each arrow a box with the patients left out and why.

    Parameters
    ----------
    cohort_flow : DataFrame
        ``mart.cohort_flow`` or ``analysis.cohort_flow`` (all centres).
    exclusions : DataFrame, optional
        ``mart.cohort_exclusions``: each exclusion box then counts its reasons.

    Returns
    -------
    matplotlib.figure.Figure
        Boxes are texts with gid ``step-<step_order>`` and ``excluded-<step_order>``.
    """
    tree = flow_tree(cohort_flow)
    pos = _layout(tree)
    xs = [x for x, _ in pos.values()] or [0.0]
    depth = max([d for _, d in pos.values()] + [0])
    x_min, x_max = min(xs) - _SIDE - 0.8, max(xs) + _SIDE + 0.8
    fig_w = max(7.0, 1.75 * (x_max - x_min))
    fig_h = 0.6 + 1.0 * (_LEVEL * depth + 1.2)
    fig, ax = plt.subplots(figsize=(fig_w, fig_h))
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(-_LEVEL * depth - 0.6, 0.6)
    ax.axis("off")
    for r in tree.itertuples():
        x, d = pos[int(r.step_order)]
        y = -_LEVEL * d
        lines = [sentence_case(str(r.step)), f"n = {format_number(r.n)}"]
        if isinstance(r.analysis_population, str) and r.analysis_population:
            lines.append(f"(population of the {r.analysis_population})")
        detail = _centre_line(cohort_flow, r.step_order)
        if detail:
            lines.append(detail)
        ax.text(
            x,
            y,
            "\n".join(lines),
            ha="center",
            va="center",
            fontsize=TEXT_SIZE,
            bbox=_BOX,
            gid=f"step-{int(r.step_order)}",
        )
        if pd.isna(r.parent_step_order) or int(r.parent_step_order) not in pos:
            continue
        px, _ = pos[int(r.parent_step_order)]
        py = y + _LEVEL
        # the branches leave the parent right under its box, so that the exclusion box of
        # the branch straight below (between the branch line and its step) crosses no line
        split = py - _HALF_BOX - 0.15
        branching = int((tree["parent_step_order"] == r.parent_step_order).sum()) > 1
        if abs(px - x) > 1e-9:
            ax.plot([px, px], [py - _HALF_BOX, split], color=_ARROW["color"], linewidth=1.0)
            ax.plot([px, x], [split, split], color=_ARROW["color"], linewidth=1.0)
            start = split
        else:
            start = py - _HALF_BOX
        ax.annotate("", xy=(x, y + _HALF_BOX), xytext=(x, start), arrowprops=_ARROW)
        side = -1 if x < px else 1
        ey = (split + y + _HALF_BOX) / 2 if branching else y + _LEVEL / 2
        ex = x + side * _SIDE
        ax.annotate(
            _excluded_text(r.excluded_n, r.excluded_reason, _reasons(exclusions, r.step_order)),
            xy=(x, ey),
            xytext=(ex, ey),
            ha="center",
            va="center",
            fontsize=TEXT_SIZE - 0.5,
            bbox=_EXCLUDED_BOX,
            arrowprops={**_ARROW, "arrowstyle": "<|-"},
            gid=f"excluded-{int(r.step_order)}",
        )
    return fig
