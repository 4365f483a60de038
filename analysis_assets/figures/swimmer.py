"""Swimmer plot: CRS and ICANS grade day by day over the toxicity window, one lane per
patient, and the day of CR anywhere in the response window."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from analysis_assets.figures._common import (
    GRADE_COLOURS,
    ICANS_COLOURS,
    LABEL_SIZE,
    TEXT_SIZE,
    TITLE_SIZE,
    many_marks,
    save,
)
from cartwh.parameters import study_parameters

__all__ = [
    "grade_image",
    "swimmer_height",
    "swimmer_order",
    "swimmer_plot",
    "swimmer_figure",
    "swimmer_cr_marks",
]

#: the stem of the swimmer plot (a key of study.FIGURE_CAPTIONS)
SWIMMER_STEM = "swimmer_toxicity_and_response"


#: inches per patient lane, and the tallest figure: a registry's lanes share the height (the
#: PDF and SVG keep one image row per lane and grade, however tall the figure)
LANE_INCHES = 0.13
MAX_HEIGHT_INCHES = 16.0
#: image rows per lane, top to bottom: a gap, CRS (two rows), ICANS (two rows) - the 0.2 / 0.4 /
#: 0.4 of a lane's height
LANE_ROWS = {"gap": (0,), "crs_grade": (1, 2), "icans_grade": (3, 4)}
ROWS_PER_LANE = sum(len(rows) for rows in LANE_ROWS.values())
#: the columns of mart.daily_toxicity the swimmer plot draws from
TOXICITY_COLUMNS = ["patient_key", "study_day", "crs_grade", "icans_grade"]
#: lanes per image: matplotlib draws an image into a PNG through two float32 copies of it
#: (100,000 lanes as one image: 1.3 GB), so a registry's grades are stacked bands of images
IMAGE_BAND_LANES = 10_000


def swimmer_height(n: int) -> float:
    """The figure's height in inches for ``n`` lanes."""
    return max(4.0, min(2.2 + LANE_INCHES * n, MAX_HEIGHT_INCHES))


def grade_image(daily_toxicity: pd.DataFrame, lane: pd.Series, days: int) -> np.ndarray:
    """The grades as an RGBA image: five rows per lane (:data:`LANE_ROWS`), one column per day.

    Parameters
    ----------
    daily_toxicity : DataFrame
        ``patient_key``, ``study_day``, ``crs_grade``, ``icans_grade`` of the lanes' patients.
    lane : Series
        Lane (0 = top) by patient key.
    days : int
        Columns: days 0 .. ``days`` - 1.

    Returns
    -------
    ndarray of shape (5 * lanes, days, 4), uint8
        Transparent where no grade of 1 or more was recorded.
    """
    image = np.zeros((ROWS_PER_LANE * len(lane), days, 4), dtype=np.uint8)
    top = daily_toxicity["patient_key"].map(lane).to_numpy(dtype=int) * ROWS_PER_LANE
    day = daily_toxicity["study_day"].to_numpy(dtype=int)
    for kind, palette in (("crs_grade", GRADE_COLOURS), ("icans_grade", ICANS_COLOURS)):
        grade = pd.to_numeric(daily_toxicity[kind], errors="coerce").to_numpy(dtype=float)
        for value, colour in palette.items():
            hit = grade == value
            for row in LANE_ROWS[kind]:
                image[top[hit] + row, day[hit]] = np.round(np.multiply(to_rgba(colour), 255))
    return image


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
        The grades are the image with gid ``grades`` (above :data:`IMAGE_BAND_LANES` lanes:
        ``grades-1``, ``grades-2``, ... from the top), the CR diamonds the line with gid
        ``cr-marks``.
    """
    params = study_parameters()
    if days is None:
        days = params.toxicity_window_days
    if response_window is None:
        response_window = (params.response_window_first_day, params.response_window_last_day)
    first, last = response_window
    x_end = max(days, last) + 1
    order = swimmer_order(mart)
    lane = pd.Series(range(len(order)), index=order)
    n = len(order)
    height = swimmer_height(n)
    fig, ax = plt.subplots(figsize=(10, height))
    ax.axvspan(first, last + 1, color="#eeeeee", zorder=0, linewidth=0)
    ax.axvline(days + 1, color="#888888", linestyle=":", linewidth=1.0, zorder=1)
    for label, centre in (
        (f"response window (days {first}–{last})", (first + last + 1) / 2),
        (f"toxicity window (days 0–{days})", (days + 1) / 2),
    ):
        ax.text(centre, n + 0.2, label, ha="center", va="bottom", fontsize=TEXT_SIZE)
    dt = daily_toxicity[
        daily_toxicity["study_day"].between(0, days)
        & daily_toxicity["patient_key"].isin(lane.index)
    ]
    last_observed = dt.groupby("patient_key", observed=True)["study_day"].max()
    ax.hlines(
        (n - 1 - lane[last_observed.index]).to_numpy(dtype=float),
        0,
        last_observed.to_numpy(dtype=float) + 1,
        color="#bbbbbb",
        linewidth=0.4,
        zorder=1,
        rasterized=many_marks(len(last_observed)),
    )
    image = grade_image(dt, lane, x_end)
    bands = range(0, n, IMAGE_BAND_LANES)
    for band, first_lane in enumerate(bands, start=1):
        last_lane = min(first_lane + IMAGE_BAND_LANES, n)
        ax.imshow(
            image[first_lane * ROWS_PER_LANE : last_lane * ROWS_PER_LANE],
            extent=(0, x_end, n - last_lane - 0.4, n - first_lane - 0.4),
            origin="upper",
            aspect="auto",
            interpolation="none",
            zorder=2,
            gid="grades" if len(bands) == 1 else f"grades-{band}",
        )
    cr = swimmer_cr_marks(mart[mart["patient_key"].isin(lane.index)], first, last)
    ax.plot(
        cr["cr_day"] + 0.5,
        (n - 1 - cr["patient_key"].map(lane)).astype(float),
        "D",
        color="black",
        markersize=3.5,
        linestyle="none",
        zorder=3,
        gid="cr-marks",
        rasterized=many_marks(len(cr)),
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
        bbox_to_anchor=(0.5, -0.06 * 14 / height * 1.3),
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
