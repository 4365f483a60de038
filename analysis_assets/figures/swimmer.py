"""Swimmer plot: CRS and ICANS grade day by day over the toxicity window, one lane per
patient, and the day of CR anywhere in the response window."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis_assets.figures._common import (
    GRADE_COLOURS,
    ICANS_COLOURS,
    LABEL_SIZE,
    TEXT_SIZE,
    TITLE_SIZE,
    save,
)
from cartwh.parameters import study_parameters

__all__ = ["swimmer_order", "swimmer_plot", "swimmer_figure", "swimmer_cr_marks"]

#: the stem of the swimmer plot (a key of study.FIGURE_CAPTIONS)
SWIMMER_STEM = "swimmer_toxicity_and_response"


def swimmer_order(mart: pd.DataFrame) -> pd.Series:
    """Patient keys sorted by toxicity: worst max CRS/ICANS grade first, then earliest onset."""
    m = mart.copy()
    m["_crs"] = pd.to_numeric(m["crs_max_grade"], errors="coerce").fillna(-1)
    m["_icans"] = pd.to_numeric(m["icans_max_grade"], errors="coerce").fillna(-1)
    m["_worst"] = m[["_crs", "_icans"]].max(axis=1)
    m["_onset"] = pd.to_numeric(m["crs_onset_day"], errors="coerce").fillna(999)
    m = m.sort_values(
        ["_worst", "_crs", "_icans", "_onset", "patient_key"],
        ascending=[False, False, False, True, True],
        kind="mergesort",
    )
    return m["patient_key"].reset_index(drop=True)


def swimmer_cr_marks(mart: pd.DataFrame, first_day: int, last_day: int) -> pd.DataFrame:
    """Patients with a CR day within the response window (``first_day``..``last_day``).

    Returns
    -------
    DataFrame
        ``patient_key``, ``cr_day`` (float).
    """
    cr = mart[["patient_key", "cr_day"]].copy()
    cr["cr_day"] = pd.to_numeric(cr["cr_day"], errors="coerce").astype(float)
    return cr[cr["cr_day"].between(first_day, last_day)].reset_index(drop=True)


def swimmer_plot(
    mart: pd.DataFrame,
    daily_toxicity: pd.DataFrame,
    out_dir: Path,
    days: int | None = None,
    response_window: tuple[int, int] | None = None,
) -> list[Path]:
    """The swimmer plot (``swimmer_toxicity_and_response``), see :func:`swimmer_figure`.

    Returns
    -------
    list of Path
        PNG, PDF and SVG.
    """
    fig = swimmer_figure(mart, daily_toxicity, days, response_window)
    return save(fig, out_dir, SWIMMER_STEM)


def swimmer_figure(
    mart: pd.DataFrame,
    daily_toxicity: pd.DataFrame,
    days: int | None = None,
    response_window: tuple[int, int] | None = None,
):
    """Swimmer plot: one lane per patient, sorted by toxicity.

    Upper half of a lane: the daily CRS grade, lower half: the daily ICANS grade (colour =
    grade) over days 0..``days`` (the toxicity window); a black diamond on the day of CR when
    it lies in the response window (shaded). The x axis covers both windows.

    Parameters
    ----------
    mart, daily_toxicity : DataFrame
        ``mart.patient_outcomes`` (``cr_day``) and ``mart.daily_toxicity``.
    days : int, optional
        Default: ``toxicity_window_days`` of the study parameters.
    response_window : (int, int), optional
        First and last day; default: the study parameters'.

    Returns
    -------
    matplotlib.figure.Figure
        The CR diamonds are the line with gid ``cr-marks``.
    """
    params = study_parameters()
    if days is None:
        days = params.toxicity_window_days
    if response_window is None:
        response_window = (params.response_window_first_day, params.response_window_last_day)
    first, last = response_window
    x_end = max(days, last) + 1
    order = swimmer_order(mart)
    lane = {k: i for i, k in enumerate(order)}
    n = len(order)
    fig, ax = plt.subplots(figsize=(10, max(4.0, 2.2 + 0.13 * n)))
    ax.axvspan(first, last + 1, color="#eeeeee", zorder=0, linewidth=0)
    ax.axvline(days + 1, color="#888888", linestyle=":", linewidth=1.0, zorder=1)
    ax.text(
        (first + last + 1) / 2,
        n + 0.2,
        f"response window (days {first}–{last})",
        ha="center",
        va="bottom",
        fontsize=TEXT_SIZE,
    )
    ax.text(
        (days + 1) / 2,
        n + 0.2,
        f"toxicity window (days 0–{days})",
        ha="center",
        va="bottom",
        fontsize=TEXT_SIZE,
    )
    dt = daily_toxicity[
        daily_toxicity["study_day"].between(0, days) & daily_toxicity["patient_key"].isin(lane)
    ]
    for kind, offset, palette in (
        ("crs_grade", 0.0, GRADE_COLOURS),
        ("icans_grade", -0.4, ICANS_COLOURS),
    ):
        grades = pd.to_numeric(dt[kind], errors="coerce")
        for grade, colour in palette.items():
            hit = dt[grades == grade]
            if len(hit):
                ys = (n - 1 - hit["patient_key"].map(lane)).to_numpy(dtype=float) + offset
                ax.barh(
                    ys,
                    1.0,
                    left=hit["study_day"].to_numpy(dtype=float),
                    height=0.4,
                    align="edge",
                    color=colour,
                    linewidth=0,
                    zorder=2,
                )
    obs = dt.groupby("patient_key")["study_day"].max()
    for key, last_obs in obs.items():
        ax.plot(
            [0, float(last_obs) + 1],
            [n - 1 - lane[key] + 0.0] * 2,
            color="#bbbbbb",
            linewidth=0.4,
            zorder=1,
        )
    cr = swimmer_cr_marks(mart[mart["patient_key"].isin(lane)], first, last)
    ax.plot(
        cr["cr_day"] + 0.5,
        (n - 1 - cr["patient_key"].map(lane)).astype(float),
        "D",
        color="black",
        markersize=3.5,
        linestyle="none",
        zorder=3,
        gid="cr-marks",
    )
    ax.set_xlim(0, x_end)
    ax.set_xticks(sorted({0, 7, 14, 21, 28, days, first, last} | set(range(0, x_end, 7))))
    ax.set_ylim(-0.7, n + 1.2)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    ax.set_ylabel(f"Patients (n = {n}), sorted by toxicity", fontsize=LABEL_SIZE)
    ax.set_xlabel("Day after infusion", fontsize=LABEL_SIZE)
    handles = [Patch(color=c, label=f"CRS grade {g}") for g, c in GRADE_COLOURS.items() if g <= 4]
    handles += [
        Patch(color=c, label=f"ICANS grade {g}") for g, c in ICANS_COLOURS.items() if g <= 4
    ]
    handles.append(
        Line2D([], [], marker="D", color="black", linestyle="none", label="Complete response")
    )
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.06 * 14 / max(4.0, 2.2 + 0.13 * n) * 1.3),
        ncol=5,
        fontsize=TEXT_SIZE,
        frameon=False,
    )
    ax.set_title(
        f"CRS and ICANS grade by day (days 0–{days}) and complete response (days {first}–{last})",
        fontsize=TITLE_SIZE,
        pad=16,
    )
    fig.tight_layout()
    return fig
