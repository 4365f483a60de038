"""The study's figures (paper-cohort.md), as plain matplotlib functions.

Every public figure function takes the mart or analysis tables as DataFrames, writes one
300-dpi PNG, one PDF and one SVG per figure into ``out_dir`` and returns the paths written.
Panels come from :mod:`analysis_assets.study`, labels from :mod:`analysis_assets.labels`,
numbers and p-values from :mod:`analysis_assets.formatting`, as in the report. Output is
deterministic: fixed figure sizes, Agg backend, fixed SVG hash salt and no date in any file;
:func:`all_figures` given a provenance writes it into every file's metadata.

Modules: ``survival`` (Figures 2, 3, S1 and the single Kaplan–Meier figures), ``groups``
(Figures 1 and 4), ``forest`` (Table 2), ``swimmer``, ``flow`` (the cohort flow),
``robustness`` (naive vs landmark vs time-dependent forest plot, cumulative incidence) and
``_common`` (style, saving).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analysis_assets.figures._common import PROVENANCE, save
from analysis_assets.figures.flow import cohort_flow_figure, flow_figure, flow_tree
from analysis_assets.figures.forest import forest_figure, forest_plot, forest_rows, forest_x_range
from analysis_assets.figures.groups import figure1_response_bars, figure4_car_copies
from analysis_assets.figures.robustness import robustness_figures
from analysis_assets.figures.survival import (
    km_figure,
    km_figures,
    number_at_risk,
    survival_figure,
    survival_figures,
    time_ticks,
)
from analysis_assets.figures.swimmer import (
    swimmer_cr_marks,
    swimmer_figure,
    swimmer_height,
    swimmer_order,
    swimmer_plot,
)
from analysis_assets.formatting import by_table_name
from analysis_assets.provenance import Provenance

__all__ = [
    "number_at_risk",
    "time_ticks",
    "figure1_response_bars",
    "survival_figure",
    "survival_figures",
    "km_figure",
    "km_figures",
    "figure4_car_copies",
    "forest_plot",
    "forest_figure",
    "forest_rows",
    "forest_x_range",
    "swimmer_plot",
    "swimmer_figure",
    "swimmer_height",
    "swimmer_order",
    "swimmer_cr_marks",
    "cohort_flow_figure",
    "flow_figure",
    "flow_tree",
    "robustness_figures",
    "save",
    "all_figures",
]


def all_figures(
    tables: dict[str, pd.DataFrame], out_dir: Path, provenance: Provenance | None = None
) -> list[Path]:
    """Every figure, from tables keyed by table name (``schema.`` prefix optional).

    Parameters
    ----------
    tables : dict of DataFrame
        The analysis tables and the patient-level mart tables; ``cohort_flow``,
        ``cohort_exclusions`` (the reasons in the flow's exclusion boxes) and
        ``survival_medians`` are optional.
    out_dir : Path
    provenance : Provenance, optional
        Written into each file's metadata (PNG text chunks, PDF document information, SVG
        Dublin Core).

    Returns
    -------
    list of Path
        PNG, PDF and SVG of every figure.
    """
    token = PROVENANCE.set(provenance)
    try:
        return _all_figures(by_table_name(tables), out_dir)
    finally:
        PROVENANCE.reset(token)


def _all_figures(t: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    paths: list[Path] = []
    if "cohort_flow" in t:
        paths += cohort_flow_figure(t["cohort_flow"], out_dir, t.get("cohort_exclusions"))
    paths += figure1_response_bars(t["response_rates"], out_dir)
    medians = t.get("survival_medians")
    paths += survival_figures(t["km_estimates"], t["logrank_tests"], out_dir, medians)
    paths += km_figures(t["km_estimates"], t["logrank_tests"], out_dir, survival_medians=medians)
    paths += figure4_car_copies(t["patient_outcomes"], t["biomarker_tests"], out_dir)
    paths += forest_plot(t["cox_multivariate"], out_dir)
    paths += swimmer_plot(t["patient_outcomes"], t["daily_toxicity"], out_dir)
    paths += robustness_figures(t, out_dir)
    return paths
