"""The study's figures (paper-cohort.md), as plain matplotlib functions.

Every public ``figure_*``/``*_figure`` function takes the mart or analysis tables as
DataFrames, writes one PNG and one SVG per figure into ``out_dir`` and returns the
paths written.  Panels and labels come from :mod:`analysis_assets.study`; numbers and
p-values are printed by :mod:`analysis_assets.formatting`, as in the report.  Output is
deterministic: fixed figure sizes, Agg backend, fixed SVG hash salt and no date in the SVG
metadata; :func:`all_figures` given a provenance writes it into every file's metadata.
"""

from __future__ import annotations

import math
import textwrap
from contextvars import ContextVar
from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from analysis_assets.comparisons import group_labels, group_order  # noqa: E402
from analysis_assets.formatting import (  # noqa: E402
    by_table_name,
    comparison_label,
    format_number,
    format_p,
    term_label,
)
from analysis_assets.provenance import Provenance  # noqa: E402
from analysis_assets.study import (  # noqa: E402
    ENDPOINTS,
    FIGURE1_COMPARISONS,
    FIGURE4_COMPARISONS,
    FIGURE4_VARIABLE,
    KM_PANELS,
    MAIN_BASIS,
    RESPONSES,
    RISK_TIMES,
)
from cartwh.parameters import study_parameters  # noqa: E402

__all__ = [
    "number_at_risk",
    "figure1_response_bars",
    "km_figure",
    "km_figures",
    "figure4_car_copies",
    "forest_plot",
    "swimmer_plot",
    "swimmer_order",
    "cohort_flow_figure",
    "all_figures",
]

matplotlib.rcParams["svg.hashsalt"] = "cartwh"

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
GRADE_COLOURS = {1: "#fdd49e", 2: "#fc8d59", 3: "#d7301f", 4: "#7f0000", 5: "#000000"}
ICANS_COLOURS = {1: "#c6dbef", 2: "#6baed6", 3: "#2171b5", 4: "#08306b", 5: "#000000"}


#: set by all_figures for the figures it draws (saves the figure functions a parameter each)
_PROVENANCE: ContextVar[Provenance | None] = ContextVar("figure_provenance", default=None)


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    provenance = _PROVENANCE.get()
    png_meta = provenance.figure_metadata("png") if provenance else {}
    svg_meta = provenance.figure_metadata("svg") if provenance else {}
    fig.savefig(png, format="png", dpi=100, metadata={"Software": None, **png_meta})
    fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None, **svg_meta})
    plt.close(fig)
    return [png, svg]


def _ordered_groups(comparison: str, present) -> list[str]:
    """Groups in the study's display order, unknown labels appended (sorted)."""
    present = [g for g in pd.unique(pd.Series(list(present), dtype=object)) if pd.notna(g)]
    try:
        order = list(group_order(comparison))
    except KeyError:
        order = []
    return [g for g in order if g in present] + sorted(str(g) for g in present if g not in order)


# --------------------------------------------------------------------------- Figure 1
def figure1_response_bars(
    response_rates: pd.DataFrame,
    out_dir: Path,
    basis: str = MAIN_BASIS,
    comparisons=FIGURE1_COMPARISONS,
) -> list[Path]:
    """Figure 1: CR and MRD-negative CR rates by each comparison.

    One figure per response (``figure1_cr_day30``, ``figure1_mrd_negative_cr``), one panel per
    comparison; bars show the rate with ``responders/n`` written on them, the panel title
    gives the test and its p-value.
    """
    paths: list[Path] = []
    rates = response_rates[response_rates["basis"] == basis]
    for response, spec in RESPONSES.items():
        sub = rates[rates["response"] == response]
        comps = [c for c in comparisons if c in set(sub["comparison"])]
        if not comps:
            continue
        ncol = 4
        nrow = math.ceil(len(comps) / ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(16, 4.2 * nrow), squeeze=False)
        for ax in axes.flat[len(comps) :]:
            ax.set_visible(False)
        for ax, comp in zip(axes.flat, comps):
            rows = sub[sub["comparison"] == comp].set_index("group")
            groups = _ordered_groups(comp, rows.index)
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
                    fontsize=9,
                )
            ax.set_xticks(x, [str(g) for g in groups], fontsize=8)
            ax.set_ylim(0, 115)
            ax.set_ylabel(f"{spec.label} (%)")
            test = str(rows["test"].iloc[0]) if len(rows) else ""
            p = rows["p_value"].iloc[0] if len(rows) else None
            ax.set_title(f"{comparison_label(comp)}\n{test}, {format_p(p)}", fontsize=9)
        fig.suptitle(f"Figure 1. {spec.label} by toxicity and treatment ({basis})")
        fig.tight_layout()
        paths += _save(fig, out_dir, f"figure1_{response}")
    return paths


# --------------------------------------------------------------------------- KM
def number_at_risk(km_group: pd.DataFrame, times=RISK_TIMES, n: int | None = None) -> list[int]:
    """Number at risk at each of ``times`` from the rows of one KM curve.

    n_risk of the first row with ``time_months >= t``, 0 past the last row; at t = 0 the
    group size ``n`` (default: the n_risk of the first row).
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


def km_figure(
    km: pd.DataFrame,
    logrank: pd.DataFrame,
    endpoint: str,
    comparison: str,
    out_dir: Path,
    group_n: dict[str, int] | None = None,
) -> list[Path]:
    """One Kaplan-Meier figure (``km_{endpoint}_{comparison}``).

    Step curves per group, '+' at censoring times, the log-rank test in the panel and the
    number at risk at RISK_TIMES in a table under the axis, aligned to the time ticks.
    """
    sub = km[(km["endpoint"] == endpoint) & (km["comparison"] == comparison)]
    groups = _ordered_groups(comparison, sub["group"])
    fig = plt.figure(figsize=(8, 6.5))
    nlines = max(len(groups), 1)
    ax = fig.add_axes([0.20, 0.17 + 0.04 * nlines, 0.76, 0.75 - 0.04 * nlines])
    tmax = float(sub["time_months"].max()) if len(sub) else float(RISK_TIMES[-1])
    xmax = max(float(RISK_TIMES[-1]), tmax) * 1.02
    for i, g in enumerate(groups):
        rows = sub[sub["group"] == g].sort_values("time_months")
        colour = COLOURS[i % len(COLOURS)]
        t, s = _km_steps(rows)
        ax.step(
            np.append(t, t[-1]),
            np.append(s, s[-1]),
            where="post",
            color=colour,
            label=f"{g} (n={number_at_risk(rows, (0,), (group_n or {}).get(g))[0]})",
        )
        cens = rows[rows["n_censor"] > 0]
        ax.plot(
            cens["time_months"].astype(float),
            cens["survival"].astype(float),
            "+",
            color=colour,
            markersize=8,
            linestyle="none",
        )
    ax.set_xlim(0, xmax)
    ax.set_ylim(0, 1.05)
    ax.set_xticks(list(RISK_TIMES))
    spec = ENDPOINTS.get(endpoint)
    ax.set_xlabel(spec.time_axis if spec else "months")
    ax.set_ylabel(spec.label if spec else endpoint)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    lr = logrank[(logrank["endpoint"] == endpoint) & (logrank["comparison"] == comparison)]
    if len(lr):
        r = lr.iloc[0]
        ax.text(
            0.98,
            0.97,
            f"log-rank chi2 = {format_number(r['chi_square'], 2)}, df = {int(r['df'])}\n"
            f"{format_p(r['p_value'])}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=9,
        )
    ax.set_title(f"{endpoint} by {comparison_label(comparison)}", fontsize=11)
    # number-at-risk table: same x axis, one text row per group
    bottom = ax.get_position()
    tab = fig.add_axes([bottom.x0, 0.02, bottom.width, 0.04 * nlines + 0.02], sharex=ax)
    tab.set_ylim(-0.5, nlines + 0.5)
    tab.axis("off")
    tab.text(
        -0.02,
        nlines,
        "Number at risk",
        transform=tab.get_yaxis_transform(),
        ha="right",
        va="center",
        fontsize=9,
        fontweight="bold",
    )
    for i, g in enumerate(groups):
        rows = sub[sub["group"] == g]
        counts = number_at_risk(rows, RISK_TIMES, (group_n or {}).get(g))
        y = nlines - 1 - i
        tab.text(
            -0.02,
            y,
            str(g),
            transform=tab.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=8,
            color=COLOURS[i % len(COLOURS)],
        )
        for t, c in zip(RISK_TIMES, counts):
            tab.text(t, y, str(c), ha="center", va="center", fontsize=8)
    return _save(fig, out_dir, f"km_{endpoint}_{comparison}")


def km_figures(
    km: pd.DataFrame,
    logrank: pd.DataFrame,
    out_dir: Path,
    panels=KM_PANELS,
    survival_medians: pd.DataFrame | None = None,
) -> list[Path]:
    """Figures 2-3 and OS/LFS by tocilizumab and steroids: one figure per endpoint x comparison."""
    paths: list[Path] = []
    present = set(zip(km["endpoint"], km["comparison"]))
    for endpoint, comparison in panels:
        if (endpoint, comparison) not in present:
            continue
        group_n = None
        if survival_medians is not None:
            m = survival_medians[
                (survival_medians["endpoint"] == endpoint)
                & (survival_medians["comparison"] == comparison)
            ]
            group_n = {g: int(n) for g, n in zip(m["group"], m["n"])}
        paths += km_figure(km, logrank, endpoint, comparison, out_dir, group_n)
    return paths


# --------------------------------------------------------------------------- Figure 4
def figure4_car_copies(
    mart: pd.DataFrame,
    biomarker_tests: pd.DataFrame,
    out_dir: Path,
    comparisons=FIGURE4_COMPARISONS,
    variable: str = FIGURE4_VARIABLE,
) -> list[Path]:
    """Figure 4: box-and-point plots of peak CAR copies (log scale), one panel per comparison."""
    values = pd.to_numeric(mart[variable], errors="coerce")
    fig, axes = plt.subplots(2, 3, figsize=(14, 8), squeeze=False)
    for ax in axes.flat[len(comparisons) :]:
        ax.set_visible(False)
    rng = np.random.default_rng(20240101)
    for ax, comp in zip(axes.flat, comparisons):
        labels = group_labels(mart, comp)
        ok = values.notna() & (values > 0) & labels.notna()
        groups = _ordered_groups(comp, labels[ok])
        data = [values[ok & (labels == g)].to_numpy(dtype=float) for g in groups]
        if groups:
            ax.boxplot(data, positions=range(len(groups)), widths=0.5, showfliers=False)
            for i, d in enumerate(data):
                jitter = rng.uniform(-0.12, 0.12, size=len(d))
                ax.plot(
                    i + jitter, d, "o", color=COLOURS[i % len(COLOURS)], alpha=0.7, markersize=4
                )
            ax.set_xticks(
                range(len(groups)), [f"{g}\n(n={len(d)})" for g, d in zip(groups, data)], fontsize=8
            )
            ax.set_yscale("log")
        t = biomarker_tests[
            (biomarker_tests["variable"] == variable) & (biomarker_tests["comparison"] == comp)
        ]
        test = str(t["test"].iloc[0]) if len(t) else "no test"
        p = t["p_value"].iloc[0] if len(t) else None
        ax.set_title(f"{comparison_label(comp)}\n{test}, {format_p(p)}", fontsize=9)
        ax.set_ylabel("peak CAR copies (copies/ug DNA, log)")
    fig.suptitle(f"Figure 4. Peak CAR copies (available for {int((values > 0).sum())} patients)")
    fig.tight_layout()
    return _save(fig, out_dir, "figure4_car_copies")


# --------------------------------------------------------------------------- Table 2 forest
#: characters per line of the forest plot's term labels (longer labels wrap)
FOREST_LABEL_WIDTH = 46


def forest_plot(cox_multivariate: pd.DataFrame, out_dir: Path) -> list[Path]:
    """Table 2 as a forest plot: HR and 95% CI on a log axis, one panel per endpoint.

    Rows without a hazard ratio (overall Wald tests) and non-estimable terms are shown as
    text instead of a point.
    """
    endpoints = [e for e in ("OS", "LFS") if e in set(cox_multivariate["endpoint"])]
    endpoints += sorted(set(cox_multivariate["endpoint"]) - set(endpoints))
    nmax = max([int((cox_multivariate["endpoint"] == e).sum()) for e in endpoints] + [1])
    height = 1.0 + (0.45 * nmax + 0.9) * max(len(endpoints), 1)
    fig, axes = plt.subplots(max(len(endpoints), 1), 1, figsize=(11, height), squeeze=False)
    for ax, endpoint in zip(axes.flat, endpoints):
        rows = cox_multivariate[cox_multivariate["endpoint"] == endpoint].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        hr_vals = []
        for yi, (_, r) in zip(y, rows.iterrows()):
            hr = pd.to_numeric(r.get("hazard_ratio"), errors="coerce")
            estimable = bool(r.get("estimable")) if pd.notna(r.get("estimable")) else False
            if estimable and pd.notna(hr):
                lo, hi = float(r["ci_lower"]), float(r["ci_upper"])
                ax.plot([lo, hi], [yi, yi], color="black", linewidth=1.2)
                ax.plot([float(hr)], [yi], "s", color=COLOURS[0], markersize=7)
                hr_vals += [lo, hi]
                text = (
                    f"{format_number(hr, 2)} ({format_number(lo, 2)}-{format_number(hi, 2)}), "
                    f"{format_p(r['p_value'])}"
                )
            elif not estimable:
                note = r.get("note")
                text = "not estimable" + (f" ({note})" if isinstance(note, str) and note else "")
            else:
                text = f"overall Wald {format_p(r['p_value'])}"
            ax.text(1.02, yi, text, transform=ax.get_yaxis_transform(), va="center", fontsize=8)
        ax.set_xscale("log")
        finite = [v for v in hr_vals if np.isfinite(v) and v > 0]
        lo = min(finite + [0.5]) / 1.3
        hi = max(finite + [2.0]) * 1.3
        ax.set_xlim(lo, hi)
        ax.xaxis.set_major_locator(
            matplotlib.ticker.FixedLocator(
                [v for v in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if lo <= v <= hi]
            )
        )
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
        ax.set_yticks(
            y,
            [
                textwrap.fill(term_label(t, d), FOREST_LABEL_WIDTH)
                for t, d in zip(rows["term"], rows["description"])
            ],
            fontsize=8,
        )
        ax.set_ylim(-0.7, len(rows) - 0.3)
        n = int(rows["n"].iloc[0]) if len(rows) else 0
        ev = int(rows["events"].iloc[0]) if len(rows) else 0
        ax.set_title(f"{endpoint}: multivariate Cox (n = {n}, events = {ev})", fontsize=10)
        ax.set_xlabel("hazard ratio (95% CI), log scale")
    fig.suptitle("Table 2. Multivariate Cox models")
    fig.subplots_adjust(
        left=0.30, right=0.68, hspace=0.35, top=1 - 0.6 / height, bottom=0.7 / height
    )
    return _save(fig, out_dir, "table2_forest")


# --------------------------------------------------------------------------- swimmer
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


def swimmer_plot(
    mart: pd.DataFrame, daily_toxicity: pd.DataFrame, out_dir: Path, days: int | None = None
) -> list[Path]:
    """Swimmer plot of days 0..``days``: one lane per patient (sorted by toxicity).

    ``days`` defaults to the study's toxicity window (``toxicity_window_days``).

    Upper half of a lane: daily CRS grade, lower half: daily ICANS grade (colour = grade);
    a black diamond marks the day CR was reached (when within the window).
    """
    if days is None:
        days = study_parameters().toxicity_window_days
    order = swimmer_order(mart)
    lane = {k: i for i, k in enumerate(order)}
    n = len(order)
    fig, ax = plt.subplots(figsize=(10, 14))
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
                )
    obs = dt.groupby("patient_key")["study_day"].max()
    for key, last in obs.items():
        ax.plot(
            [0, float(last) + 1],
            [n - 1 - lane[key] + 0.0] * 2,
            color="#cccccc",
            linewidth=0.4,
            zorder=0,
        )
    cr = mart[["patient_key", "cr_day"]].copy()
    cr["cr_day"] = pd.to_numeric(cr["cr_day"], errors="coerce")
    cr = cr[cr["cr_day"].notna() & (cr["cr_day"] <= days)]
    ax.plot(
        cr["cr_day"].astype(float) + 0.5,
        (n - 1 - cr["patient_key"].map(lane)).astype(float),
        "D",
        color="black",
        markersize=3.5,
        linestyle="none",
    )
    ax.set_xlim(0, days + 1)
    ax.set_ylim(-0.7, n)
    ax.set_yticks([])
    ax.set_ylabel(f"patients (n = {n}), sorted by toxicity")
    ax.set_xlabel("day after infusion")
    handles = [Patch(color=c, label=f"CRS grade {g}") for g, c in GRADE_COLOURS.items() if g <= 4]
    handles += [
        Patch(color=c, label=f"ICANS grade {g}") for g, c in ICANS_COLOURS.items() if g <= 4
    ]
    handles.append(Line2D([], [], marker="D", color="black", linestyle="none", label="CR reached"))
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.04),
        ncol=5,
        fontsize=8,
        frameon=False,
    )
    ax.set_title(f"CRS and ICANS over the first {days} days")
    fig.tight_layout()
    return _save(fig, out_dir, "swimmer_first_30_days")


def cohort_flow_figure(cohort_flow: pd.DataFrame, out_dir: Path) -> list[Path]:
    """CONSORT-style flow: one box per step (overall n, % of delivered, n per centre)."""
    overall = cohort_flow[cohort_flow["centre_code"] == "all"].sort_values("step_order")
    centres = cohort_flow[cohort_flow["centre_code"] != "all"]
    steps = len(overall)
    fig, ax = plt.subplots(figsize=(7.0, 1.3 * max(steps, 1) + 0.4))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, steps)
    ax.axis("off")
    for i, row in enumerate(overall.itertuples()):
        y = steps - i - 0.5
        per_centre = centres[centres["step_order"] == row.step_order].sort_values("centre_code")
        detail = ", ".join(f"{c} {n}" for c, n in zip(per_centre["centre_code"], per_centre["n"]))
        pct = getattr(row, "pct_of_delivered", None)
        text = f"{row.step}\nn = {row.n}" + (f" ({pct}% of delivered)" if pct is not None else "")
        ax.text(
            0.5,
            y,
            text + (f"\n{detail}" if detail else ""),
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round,pad=0.5", "facecolor": "#f4f6fa", "edgecolor": "#4a5a75"},
        )
        if i < steps - 1:
            ax.annotate(
                "",
                xy=(0.5, y - 0.62),
                xytext=(0.5, y - 0.38),
                arrowprops={"arrowstyle": "->", "color": "#4a5a75"},
            )
    ax.set_title("Cohort flow")
    return _save(fig, out_dir, "cohort_flow")


def all_figures(
    tables: dict[str, pd.DataFrame], out_dir: Path, provenance: Provenance | None = None
) -> list[Path]:
    """Every figure, from tables keyed by table name (``schema.`` prefix optional); with a
    provenance, it is in each file's metadata (PNG text chunks, SVG Dublin Core)."""
    token = _PROVENANCE.set(provenance)
    try:
        return _all_figures(by_table_name(tables), out_dir)
    finally:
        _PROVENANCE.reset(token)


def _all_figures(t: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    paths: list[Path] = []
    if "cohort_flow" in t:
        paths += cohort_flow_figure(t["cohort_flow"], out_dir)
    paths += figure1_response_bars(t["response_rates"], out_dir)
    paths += km_figures(
        t["km_estimates"], t["logrank_tests"], out_dir, survival_medians=t.get("survival_medians")
    )
    paths += figure4_car_copies(t["patient_outcomes"], t["biomarker_tests"], out_dir)
    paths += forest_plot(t["cox_multivariate"], out_dir)
    paths += swimmer_plot(t["patient_outcomes"], t["daily_toxicity"], out_dir)
    return paths
