"""Descriptive tables: the cohort flow, the characteristics by group (long format, the data
of Table 1) and the toxicity and treatment summary. n and denominators everywhere;
percentages computed (half-up)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis_assets.categorical import CategoricalResult, compare_categorical, describe_test
from analysis_assets.comparisons import group_labels, group_order
from analysis_assets.formatting import percent, table_median_range
from analysis_assets.labels import label, level_label, variable
from analysis_assets.manuscript_tables import (
    MEDIAN_RANGE,
    MISSING,
    UNKNOWN,
    display_digits,
    format_count_percent,
    format_median_range,
)
from analysis_assets.rank_tests import compare_continuous
from analysis_assets.study import (
    OVERALL,
    OVERALL_GROUP,
    TABLE1_CATEGORICAL,
    TABLE1_COMPARISONS,
    TABLE1_CONTINUOUS,
)


def cohort_flow(flow: pd.DataFrame) -> pd.DataFrame:
    """``mart.cohort_flow`` with the percentage of the delivered patients kept at each step."""
    flow = flow.sort_values(["centre_code", "step_order"]).copy()
    first = flow.groupby("centre_code")["n"].transform("first")
    flow["denominator"] = first
    flow["pct_of_delivered"] = [percent(int(n), int(d)) for n, d in zip(flow["n"], first)]
    return flow.reset_index(drop=True)


CHARACTERISTICS_COLUMNS = [
    "comparison",
    "group",
    "variable",
    "characteristic",
    "level",
    "level_label",
    "n",
    "denominator",
    "pct",
    "median",
    "minimum",
    "maximum",
    "value",
    "test",
    "test_detail",
    "test_note",
    "p_value",
]


def _scaled(mart: pd.DataFrame, column: str) -> pd.Series:
    """A continuous column on the scale it is shown (cell dose in 10⁶ cells/kg)."""
    return pd.to_numeric(mart[column], errors="coerce") / variable(column).scale


#: codes that say the value is not known (extract format: ``ph_status`` ``unknown``): counted
#: with the missing values, not as a level
UNKNOWN_CODES = ("unknown",)


def _codes(values: pd.Series) -> pd.Series:
    """A categorical column as text codes (booleans as ``yes``/``no``); missing, and the codes
    of :data:`UNKNOWN_CODES`, as None."""
    if pd.api.types.infer_dtype(values, skipna=True) == "boolean":
        coded = values.astype("boolean").map({True: "yes", False: "no"})
    else:
        coded = values.astype("string")
    coded = coded.astype(object).where(values.notna())
    return coded.where(~coded.isin(UNKNOWN_CODES), None)


def _ordered_levels(column: str, codes: pd.Series) -> list[str]:
    """The codes present, in the order of the label registry (others after, sorted)."""
    order = list(variable(column).levels.values())
    present = sorted(set(codes.dropna()))
    labels = {code: level_label(column, code) for code in present}
    rank = {code: order.index(text) for code, text in labels.items() if text in order}
    return sorted(present, key=lambda code: (rank.get(code, len(order)), code))


def _categorical_note(result: CategoricalResult) -> str:
    """The test of a categorical characteristic as its footnote says it."""
    fisher = result.fisher
    if fisher is None:
        return "Pearson's chi-squared test (no continuity correction)"
    if fisher.odds_ratio is not None:
        return "Fisher's exact test"
    if fisher.method == "exact":
        return "Fisher–Freeman–Halton exact test"
    return (
        f"Fisher–Freeman–Halton test, Monte Carlo p-value ({fisher.n_resamples:,} random "
        f"tables with the observed margins, seed {fisher.seed})"
    )


CONTINUOUS_NOTES = {
    "Mann-Whitney U": "Mann–Whitney U test",
    "Kruskal-Wallis": "Kruskal–Wallis test",
}


def _test_columns(result, detail: str | None, note: str | None) -> dict:
    return {
        "test": result.test if result else None,
        "test_detail": detail if result else None,
        "test_note": note if result else None,
        "p_value": result.p if result else np.nan,
    }


def _continuous_rows(
    values: pd.Series, column: str, labels: pd.Series, groups: list[str], digits: int, test: bool
) -> pd.DataFrame:
    """Median (range) per group and the patients without a value; the rank test."""
    stats = values.groupby(labels).agg(["count", "median", "min", "max"]).reindex(groups)
    size = labels.value_counts().reindex(groups).astype(int)
    samples = [values[labels == g].dropna().to_numpy() for g in groups]
    result = None
    if test and sum(len(s) > 0 for s in samples) >= 2:
        result = compare_continuous(*samples)
    known = stats["count"].astype(int)
    summary = pd.DataFrame(
        {
            "group": groups,
            "level": MEDIAN_RANGE,
            "level_label": "Median (range)",
            "n": known.to_numpy(),
            "denominator": size.to_numpy(),
            "median": stats["median"].to_numpy(),
            "minimum": stats["min"].to_numpy(),
            "maximum": stats["max"].to_numpy(),
        }
    )
    summary["value"] = [
        format_median_range(m, lo, hi, digits)
        for m, lo, hi in zip(summary["median"], summary["minimum"], summary["maximum"])
    ]
    missing = _missing_rows(groups, size - known, size)
    rows = pd.concat([summary, missing], ignore_index=True)
    detail = result.test if result else None
    return rows.assign(
        variable=column, **_test_columns(result, detail, CONTINUOUS_NOTES.get(detail, detail))
    )


def _missing_rows(groups: list[str], missing: pd.Series, size: pd.Series) -> pd.DataFrame:
    """The patients of each group without a value: a count of the group, no percentage."""
    n = missing.astype(int).to_numpy()
    return pd.DataFrame(
        {
            "group": groups,
            "level": MISSING,
            "level_label": UNKNOWN,
            "n": n,
            "denominator": size.astype(int).to_numpy(),
            "value": n.astype(str),
        }
    )


def _categorical_rows(
    raw: pd.Series, column: str, labels: pd.Series, groups: list[str], test: bool
) -> pd.DataFrame:
    """n (%) of each level per group over the patients with a known value, the patients
    without one, and chi-squared or Fisher (the study's rule)."""
    codes = _codes(raw)
    levels = _ordered_levels(column, codes)
    counts = pd.crosstab(codes, labels).reindex(index=levels, columns=groups, fill_value=0)
    size = labels.value_counts().reindex(groups).astype(int)
    known = counts.sum(axis=0)
    table = counts.to_numpy()
    result = None
    if test and (table.sum(axis=1) > 0).sum() >= 2 and (table.sum(axis=0) > 0).sum() >= 2:
        result = compare_categorical(table)
    rows = counts.rename_axis(index="level", columns="group").stack().rename("n").reset_index()
    rows["denominator"] = rows["group"].map(known).astype(int)
    rows["level_label"] = rows["level"].map(lambda code: level_label(column, code))
    rows["pct"] = [percent(int(n), int(d)) for n, d in zip(rows["n"], rows["denominator"])]
    rows["value"] = [format_count_percent(n, d) for n, d in zip(rows["n"], rows["denominator"])]
    rows = pd.concat([rows, _missing_rows(groups, size - known, size)], ignore_index=True)
    detail = describe_test(result) if result else None
    note = _categorical_note(result) if result else None
    return rows.assign(variable=column, **_test_columns(result, detail, note))


def _comparison_groups(mart: pd.DataFrame, comparison: str) -> tuple[pd.Series, list[str]]:
    """Every patient's group in a comparison (None: unknown) and the groups present."""
    if comparison == OVERALL:
        return pd.Series(OVERALL_GROUP, index=mart.index, dtype=object), [OVERALL_GROUP]
    labels = group_labels(mart, comparison)
    return labels, [g for g in group_order(comparison) if (labels == g).any()]


def _comparison_rows(mart: pd.DataFrame, comparison: str, digits: dict[str, int]) -> pd.DataFrame:
    """Every characteristic of Table 1 in one comparison."""
    labels, groups = _comparison_groups(mart, comparison)
    test = comparison != OVERALL
    frames = [
        _continuous_rows(_scaled(mart, c), c, labels, groups, digits[c], test)
        for c in TABLE1_CONTINUOUS
    ]
    frames += [_categorical_rows(mart[c], c, labels, groups, test) for c in TABLE1_CATEGORICAL]
    return pd.concat(frames, ignore_index=True).assign(comparison=comparison)


def characteristics(mart: pd.DataFrame) -> pd.DataFrame:
    """Patient characteristics overall and by toxicity group, CRS and ICANS, long format.

    One row per comparison, characteristic, level and group: ``n`` and ``denominator``
    (categorical levels: of the group's patients with a known value; continuous: the patients
    with a value, of the group's patients; the ``missing`` level: the group's patients without
    a value, of the group's patients, with no percentage), ``pct`` half-up, ``median``/``minimum``/
    ``maximum`` on the scale of the label (cell dose in 10⁶ cells/kg), ``value`` as Table 1
    prints it, and per comparison the test (Mann-Whitney U / Kruskal-Wallis; chi-squared or
    Fisher by the study's rule), how its p was obtained and p. Patients whose group is
    unknown are in ``overall`` only. Table 1 (:func:`manuscript_tables.table1_layout`) is
    this table laid out.

    Parameters
    ----------
    mart : DataFrame
        Rows of ``mart.patient_outcomes``.

    Returns
    -------
    DataFrame
        Columns :data:`CHARACTERISTICS_COLUMNS`.
    """
    digits = {c: display_digits(_scaled(mart, c)) for c in TABLE1_CONTINUOUS}
    frames = [
        _comparison_rows(mart, comparison, digits) for comparison in (OVERALL, *TABLE1_COMPARISONS)
    ]
    long = pd.concat(frames, ignore_index=True)
    long["characteristic"] = long["variable"].map(label)
    return long.reindex(columns=CHARACTERISTICS_COLUMNS)


def toxicity_summary(mart: pd.DataFrame) -> pd.DataFrame:
    """Incidence, onset and duration of CRS, severe CRS, ICANS, severe ICANS and both; use and
    doses of tocilizumab and corticosteroids (dexamethasone equivalents)."""
    gradable = mart["crs_max_grade"].notna() & mart["icans_max_grade"].notna()
    crs = pd.to_numeric(mart["crs_max_grade"], errors="coerce")
    icans = pd.to_numeric(mart["icans_max_grade"], errors="coerce")
    measures = [
        ("CRS (any grade)", crs >= 1, crs.notna(), "crs_onset_day", "crs_duration_days"),
        ("severe CRS (grade >= 3)", crs >= 3, crs.notna(), "severe_crs_onset_day", None),
        ("ICANS (any grade)", icans >= 1, icans.notna(), "icans_onset_day", "icans_duration_days"),
        (
            "severe ICANS (grade >= 3 or seizure)",
            mart["severe_icans"].astype("boolean").fillna(False),
            mart["severe_icans"].notna(),
            "severe_icans_onset_day",
            None,
        ),
        (
            "CRS and ICANS",
            mart["concurrent_crs_icans"].astype("boolean").fillna(False),
            gradable,
            None,
            None,
        ),
        (
            "tocilizumab",
            mart["received_tocilizumab"].astype("boolean").fillna(False),
            mart["received_tocilizumab"].notna(),
            "tocilizumab_first_day",
            "tocilizumab_duration_days",
        ),
        (
            "corticosteroids",
            mart["received_steroids"].astype("boolean").fillna(False),
            mart["received_steroids"].notna(),
            "steroid_first_day",
            "steroid_duration_days",
        ),
    ]
    rows = []
    for name, has, known, onset, duration in measures:
        has = has.fillna(False).astype(bool) & known
        n, denominator = int(has.sum()), int(known.sum())
        row = {
            "measure": name,
            "n": n,
            "denominator": denominator,
            "pct": percent(n, denominator),
            "first_day_median_range": table_median_range(pd.to_numeric(mart.loc[has, onset]))
            if onset
            else None,
            "duration_days_median_range": table_median_range(pd.to_numeric(mart.loc[has, duration]))
            if duration
            else None,
            "cumulative_dose_mg_median_range": None,
            "dose_known": None,
        }
        dose_column = {
            "tocilizumab": "tocilizumab_total_mg",
            "corticosteroids": "steroid_dex_equiv_mg",
        }.get(name)
        if dose_column:
            doses = pd.to_numeric(mart.loc[has, dose_column])
            row["cumulative_dose_mg_median_range"] = table_median_range(doses)
            row["dose_known"] = int(doses.notna().sum())
        rows.append(row)
    return pd.DataFrame(rows)
