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

from functools import partial
from pathlib import Path

import pandas as pd

from analysis_assets.figures import swimmer
from analysis_assets.figures._common import PROVENANCE, save
from analysis_assets.figures.flow import cohort_flow_figure, flow_figure, flow_tree
from analysis_assets.figures.forest import forest_figure, forest_plot, forest_rows, forest_x_range
from analysis_assets.figures.groups import figure1_response_bars, figure4_car_copies
from analysis_assets.figures.robustness import ROBUSTNESS_TABLES, robustness_figures
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
from analysis_assets.processes import in_processes
from analysis_assets.provenance import Provenance
from analysis_assets.study import KM_PANELS, SURVIVAL_FIGURES

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
    "DRAWN_COLUMNS",
]


def all_figures(
    tables: dict[str, pd.DataFrame],
    out_dir: Path,
    provenance: Provenance | None = None,
    workers: int | None = None,
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
    workers : int, optional
        Processes that draw the figures side by side (default: one per CPU this process may
        use, at most one per figure; 1 draws them in this process). The files are the same
        whatever the number.

    Returns
    -------
    list of Path
        PNG, PDF and SVG of every figure, in the order of the figures.
    """
    jobs = figure_jobs(by_table_name(tables))
    # the figures with a mark per patient start first (the longest at registry scale)
    order = sorted(range(len(jobs)), key=lambda k: jobs[k].func not in _PER_PATIENT)
    drawn = in_processes([partial(_draw, jobs[k], out_dir, provenance) for k in order], workers)
    by_job = dict(zip(order, drawn, strict=True))
    return [path for k in range(len(jobs)) for path in by_job[k]]


def figure_jobs(t: dict[str, pd.DataFrame]) -> list[partial]:
    """One call per figure (or small group of figures), each given its tables; called with
    ``out_dir=``."""
    jobs: list[partial] = []
    if "cohort_flow" in t:
        jobs.append(
            partial(cohort_flow_figure, t["cohort_flow"], exclusions=t.get("cohort_exclusions"))
        )
    jobs.append(partial(figure1_response_bars, t["response_rates"]))
    km, logrank = t["km_estimates"], t["logrank_tests"]
    medians = t.get("survival_medians")
    jobs += [
        partial(survival_figures, km, logrank, survival_medians=medians, figures={stem: panels})
        for stem, panels in SURVIVAL_FIGURES.items()
    ]
    jobs += [
        partial(km_figures, km, logrank, panels=[panel], survival_medians=medians)
        for panel in KM_PANELS
    ]
    jobs.append(partial(figure4_car_copies, t["patient_outcomes"], t["biomarker_tests"]))
    jobs.append(partial(forest_plot, t["cox_multivariate"]))
    # a day per patient: only the columns drawn go to the drawing process
    toxicity = t["daily_toxicity"][DRAWN_COLUMNS["daily_toxicity"]]
    jobs.append(partial(swimmer_plot, t["patient_outcomes"], toxicity))
    jobs.append(partial(robustness_figures, {k: t[k] for k in ROBUSTNESS_TABLES if k in t}))
    return jobs


#: the columns drawn of the mart tables of a row per patient-day (the report reads only these)
DRAWN_COLUMNS = {"daily_toxicity": swimmer.TOXICITY_COLUMNS}

#: the figure functions that draw a mark per patient
_PER_PATIENT = (swimmer_plot, figure4_car_copies)


def _draw(job: partial, out_dir: Path, provenance: Provenance | None) -> list[Path]:
    token = PROVENANCE.set(provenance)
    try:
        return job(out_dir=out_dir)
    finally:
        PROVENANCE.reset(token)
