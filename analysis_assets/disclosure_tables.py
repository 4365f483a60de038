"""Small-cell suppression of the study's analysis tables, for outputs that leave the consortium.

:data:`TABLE_POLICY` is the one place that decides, per ``analysis.*`` table, whether it is
suppressed, kept as it is (no counts of patients) or left out; a table it does not name is
left out. :func:`suppress_analysis_tables` applies it: every count of every suppressed table
becomes one cell of a single problem of :mod:`analysis_assets.disclosure`, so a count printed
in two tables (a group's size in Table 1, the response rates and the survival table) is one
cell, and a relation of one table protects (or betrays) a cell of another. Percentages are
shown only when their count and denominator are; medians, ranges and estimates of a group
whose size is withheld are withheld with it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

import pandas as pd

from analysis_assets import study
from analysis_assets.disclosure import (
    COMPLEMENTARY_MARK,
    Relation,
    SuppressionResult,
    suppress,
)

__all__ = [
    "TABLE_POLICY",
    "SUPPRESS",
    "KEEP",
    "LEAVE_OUT",
    "WITHHELD",
    "suppress_analysis_tables",
]

SUPPRESS, KEEP, LEAVE_OUT = "suppress", "keep", "leave out"
#: how a percentage, median, range or estimate withheld with its count is printed
WITHHELD = COMPLEMENTARY_MARK
OVERALL, ALL = study.OVERALL, study.OVERALL_GROUP

#: the same patients under two comparisons: (comparison, group) -> the one its cells are keyed by
SAME_GROUPS: dict[tuple[str, str], tuple[str, str]] = {
    ("crs_grade", "no CRS"): ("crs", "no CRS"),
    ("icans_grade", "no ICANS"): ("icans", "no ICANS"),
}
#: a group and the subgroups it is the sum of: (comparison, group) -> (comparison, subgroups)
NESTED_GROUPS: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("crs", "CRS"): ("crs_grade", ("grade 1–2 CRS", "grade ≥ 3 CRS")),
    ("icans", "ICANS"): ("icans_grade", ("grade 1–2 ICANS", "grade ≥ 3 ICANS")),
}
#: a toxicity_summary measure -> the group of the same patients (same count, one cell)
TOXICITY_GROUPS: dict[str, tuple[str, str]] = {
    "CRS (any grade)": ("crs", "CRS"),
    "severe CRS (grade >= 3)": ("crs_grade", "grade ≥ 3 CRS"),
    "ICANS (any grade)": ("icans", "ICANS"),
    "CRS and ICANS": ("crs_and_icans", "CRS and ICANS"),
    "tocilizumab": ("tocilizumab", "tocilizumab"),
    "corticosteroids": ("steroids", "steroids"),
}
#: table -> (decision, why); a table not named here is left out
TABLE_POLICY: dict[str, tuple[str, str]] = {
    "characteristics": (SUPPRESS, "counts and percentages per level, group sizes, unknowns"),
    "table1": (SUPPRESS, "Table 1 laid out from the suppressed characteristics"),
    "toxicity_summary": (SUPPRESS, "patients with each toxicity and treatment"),
    "response_rates": (SUPPRESS, "responders and group sizes per comparison"),
    "cohort_flow": (SUPPRESS, "patients at each step and excluded, per centre"),
    "survival_medians": (SUPPRESS, "patients and events per group"),
    "logrank_tests": (SUPPRESS, "patients per test"),
    "follow_up": (SUPPRESS, "patients in the follow-up estimate"),
    "biomarker_tests": (SUPPRESS, "patients with a value per group"),
    "cox_univariate": (SUPPRESS, "patients and events per model"),
    "cox_multivariate": (SUPPRESS, "patients and events per model"),
    "table2": (SUPPRESS, "Table 2 headings (patients, events) from cox_multivariate"),
    "ph_assumption": (KEEP, "test statistics only, no counts"),
    "provenance": (KEEP, "deliveries, fingerprints, code version: no patient counts"),
    "km_estimates": (
        LEAVE_OUT,
        "one row per event or censoring time: at-risk and event counts of single patients; "
        "the number at risk under the Kaplan–Meier figures is left out with the figures",
    ),
    "robustness_estimates": (
        LEAVE_OUT,
        "patients, exposed patients and events per model, landmark cohorts nested in the "
        "published ones (their differences are small counts); not yet registered for "
        "complementary suppression",
    ),
    "robustness_sensitivity": (
        LEAVE_OUT,
        "patients and events per model without one centre: their differences with the whole "
        "cohort are a centre's counts",
    ),
    "centre_outcomes": (
        LEAVE_OUT,
        "patients, responders and events per centre: a small centre's counts",
    ),
    "number_audit": (
        LEAVE_OUT,
        "the counts and denominators behind every percentage of the internal tables, unsuppressed",
    ),
    "km_at_ticks": (
        LEAVE_OUT,
        "the number at risk under the Kaplan–Meier figures, left out with the figures",
    ),
    "cumulative_incidence": (
        LEAVE_OUT,
        "one row per event time: the estimate's steps reveal single patients",
    ),
    "cumulative_incidence_at_ticks": (
        LEAVE_OUT,
        "at-risk, event and censored counts per group and tick (a risk table, left out with "
        "the figures)",
    ),
    "competing_risks_tests": (
        LEAVE_OUT,
        "patients and events of each cause per comparison (non-relapse deaths are small "
        "counts); not yet registered for complementary suppression",
    ),
}


@dataclass
class _Problem:
    """The cells, relations and hidden cells of every table, collected for one suppression."""

    values: dict[Hashable, int] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    hidden: set[Hashable] = field(default_factory=set)
    #: kind of count -> (comparison, group) -> its cell
    by_group: dict[tuple, dict[tuple, Hashable]] = field(default_factory=dict)

    def cell(self, key: Hashable, value, hidden: bool = False) -> Hashable:
        """Register a count; the key used (another one when ``key`` already holds another
        value: two meanings that happen to share a name stay two cells)."""
        value = int(value)
        while key in self.values and self.values[key] != value:
            key = (key, "other")
        self.values[key] = value
        if hidden:
            self.hidden.add(key)
        return key

    def group_cell(
        self, kind: tuple, comparison: str, group: str, value, hidden: bool = False
    ) -> Hashable:
        """A count of one group of one comparison: the same patients under two comparisons
        (:data:`SAME_GROUPS`) are one cell."""
        comparison, group = SAME_GROUPS.get((comparison, group), (comparison, group))
        key = self.cell((*kind, comparison, group), value, hidden)
        self.by_group.setdefault(kind, {})[(comparison, group)] = key
        return key

    def nest(self) -> None:
        """A group = the sum of its subgroups (:data:`NESTED_GROUPS`), for every kind of count
        registered for all of them."""
        for cells in self.by_group.values():
            for parent, (comparison, subgroups) in NESTED_GROUPS.items():
                children = [cells.get((comparison, g)) for g in subgroups]
                if parent in cells and None not in children:
                    self.relation(cells[parent], children, ("nested", *parent, *children))

    def relation(
        self, total: Hashable, members: list[Hashable], name: tuple, rest_hidden: bool = False
    ) -> None:
        """``total = sum(members) + rest``: the rest (patients of the total in none of the
        groups) is a cell of its own, known to a reader (Table 1 prints it in a footnote)
        unless ``rest_hidden``; none when it is 0 (the reader knows the sum is exact)."""
        rest = self.values[total] - sum(self.values[m] for m in members)
        if rest < 0:  # the members are not parts of that total: no relation to publish
            return
        if rest == 0:
            self.relations.append(Relation(total, tuple(members)))
            return
        left = self.cell(("unassigned", *name), rest, hidden=rest_hidden)
        self.relations.append(Relation(total, (*members, left)))


@dataclass
class _Bindings:
    """Where each cell is printed: count cells, percentages and values withheld with them."""

    counts: list[tuple[object, str, Hashable]] = field(default_factory=list)
    derived: list[tuple[object, str, tuple[Hashable, ...], bool]] = field(default_factory=list)

    def count(self, row, column: str, key: Hashable) -> None:
        self.counts.append((row, column, key))

    def withheld_with(self, row, columns, *keys: Hashable) -> None:
        """A percentage or estimate that, beside the other cells, reveals its counts: withheld
        when any of them is."""
        self.derived += [(row, c, keys, False) for c in columns]

    def withheld_with_small(self, row, columns, key: Hashable) -> None:
        """A median or range of a group: a few patients' own values when the group is small;
        withheld with a ``<threshold`` count only (a withheld larger count is not narrowed by
        its group's median)."""
        self.derived += [(row, c, (key,), True) for c in columns]


def _present(df: pd.DataFrame, columns) -> list[str]:
    return [c for c in columns if c in df.columns]


def _groups_sum(p: _Problem, totals: dict, parts: dict, name: tuple) -> None:
    """For each comparison: the overall cell = sum of its groups' cells (+ the unassigned)."""
    for (comparison, *rest), members in parts.items():
        total = totals.get(tuple(rest))
        if comparison != OVERALL and total is not None:
            p.relation(total, members, (*name, comparison, *rest))


# --------------------------------------------------------------------------- the tables
def _characteristics(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    known: dict[tuple, Hashable] = {}
    levels: dict[tuple, list] = {}
    missing: dict[tuple, Hashable] = {}
    sizes: dict[tuple, Hashable] = {}
    by_level_total, by_level_parts = {}, {}
    stats = _present(df, ["median", "minimum", "maximum", "value"])
    for i, r in df.iterrows():
        group = (r.comparison, r.group)
        if r.level == "missing":
            n_size = p.group_cell(("N",), *group, r.denominator)
            key = p.group_cell(("missing", r.variable), *group, r.n)
            missing[(*group, r.variable)] = key
            sizes[group] = n_size
            b.count(i, "n", key), b.count(i, "denominator", n_size)
            b.withheld_with(i, ["value"], key)
        elif r.level == "median (range)":
            key = p.group_cell(("known", r.variable), *group, r.n)
            known[(*group, r.variable)] = key
            size = p.group_cell(("N",), *group, r.denominator)
            b.count(i, "n", key), b.count(i, "denominator", size)
            b.withheld_with_small(i, stats, key)
        else:
            key = p.group_cell(("level", r.variable, r.level), *group, r.n)
            denominator = p.group_cell(("known", r.variable), *group, r.denominator)
            known[(*group, r.variable)] = denominator
            levels.setdefault((*group, r.variable), []).append(key)
            b.count(i, "n", key), b.count(i, "denominator", denominator)
            b.withheld_with(i, _present(df, ["pct", "value"]), key, denominator)
            cell_name = (r.variable, r.level)
            if r.comparison == OVERALL:
                by_level_total[cell_name] = key
            by_level_parts.setdefault((r.comparison, *cell_name), []).append(key)
    for name, members in levels.items():
        p.relation(known[name], members, ("known", *name))
    for (comparison, group, variable), key in missing.items():
        if (comparison, group, variable) in known:
            p.relation(
                sizes[(comparison, group)],
                [known[(comparison, group, variable)], key],
                ("size", comparison, group, variable),
            )
    _groups_sum(p, by_level_total, by_level_parts, ("level",))
    for cells in (known, missing):
        totals = {(v,): k for (c, g, v), k in cells.items() if c == OVERALL}
        parts: dict[tuple, list] = {}
        for (c, _g, v), k in cells.items():
            parts.setdefault((c, v), []).append(k)
        _groups_sum(p, totals, parts, ("groups",))
    totals = {(): sizes[(OVERALL, ALL)]} if (OVERALL, ALL) in sizes else {}
    parts = {}
    for (c, _g), k in sizes.items():
        parts.setdefault((c,), []).append(k)
    _groups_sum(p, totals, parts, ("sizes",))


def _with_rest(p: _Problem, total, part, name: tuple) -> None:
    """``total = part + hidden rest`` (non-responders, patients without an event, ...)."""
    p.relation(total, [part], name, rest_hidden=True)


def _response_rates(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    totals_n, parts_n, totals_r, parts_r = {}, {}, {}, {}
    for i, r in df.iterrows():
        size_kind = ("N",) if r.basis == study.MAIN_BASIS else ("evaluable", r.response)
        n = p.group_cell(size_kind, r.comparison, r.group, r.n)
        responders = p.group_cell(
            ("responders", r.response, r.basis), r.comparison, r.group, r.responders
        )
        _with_rest(p, n, responders, ("non-responders", r.response, r.basis, r.comparison, r.group))
        b.count(i, "n", n), b.count(i, "responders", responders)
        b.withheld_with(i, ["rate_pct"], n, responders)
        parts_n.setdefault((r.comparison, r.response, r.basis), []).append(n)
        parts_r.setdefault((r.comparison, r.response, r.basis), []).append(responders)
    for response, basis in {(k[1], k[2]) for k in parts_n}:
        first = next(k for k in parts_n if k[1:] == (response, basis))
        n_all = sum(p.values[k] for k in parts_n[first])
        r_all = sum(p.values[k] for k in parts_r[first])
        totals_n[(response, basis)] = p.cell(
            ("N", OVERALL, ALL) if basis == study.MAIN_BASIS else ("evaluable", response, OVERALL),
            n_all,
            hidden=basis != study.MAIN_BASIS,
        )
        totals_r[(response, basis)] = p.cell(("responders", response, basis, OVERALL), r_all, True)
    _groups_sum(p, totals_n, parts_n, ("response n",))
    _groups_sum(p, totals_r, parts_r, ("responders",))


def _survival_size(p: _Problem, endpoint: str, comparison: str, group: str, n) -> Hashable:
    """Patients of a survival analysis: all infused ones (the group's size) for OS."""
    kind = ("N",) if endpoint == "OS" else ("at risk", endpoint)
    return p.group_cell(kind, comparison, group, n)


def _survival_medians(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    estimates = [c for c in df.columns if c.startswith(("median", "survival_"))]
    totals_n, parts_n, totals_e, parts_e = {}, {}, {}, {}
    for i, r in df.iterrows():
        n = _survival_size(p, r.endpoint, r.comparison, r.group, r.n)
        events = p.group_cell(("events", r.endpoint), r.comparison, r.group, r.events)
        _with_rest(p, n, events, ("censored", r.endpoint, r.comparison, r.group))
        b.count(i, "n", n), b.count(i, "events", events)
        b.withheld_with(i, estimates, n, events)
        if r.comparison == OVERALL:
            totals_n[(r.endpoint,)], totals_e[(r.endpoint,)] = n, events
        parts_n.setdefault((r.comparison, r.endpoint), []).append(n)
        parts_e.setdefault((r.comparison, r.endpoint), []).append(events)
    _groups_sum(p, totals_n, parts_n, ("survival n",))
    _groups_sum(p, totals_e, parts_e, ("events",))


def _toxicity_summary(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    ranges = [c for c in df.columns if c.endswith("_median_range")]
    for i, r in df.iterrows():
        denominator = p.group_cell(("N",), OVERALL, ALL, r.denominator)
        group = TOXICITY_GROUPS.get(r.measure)
        n = p.group_cell(("N",), *group, r.n) if group else p.cell(("toxicity", r.measure), r.n)
        _with_rest(p, denominator, n, ("without", r.measure))
        b.count(i, "n", n), b.count(i, "denominator", denominator)
        b.withheld_with(i, ["pct"], n, denominator)
        b.withheld_with_small(i, ranges, n)
        if "dose_known" in df.columns and pd.notna(r.dose_known):
            dose = p.cell(("dose known", r.measure), r.dose_known)
            _with_rest(p, n, dose, ("dose unknown", r.measure))
            b.count(i, "dose_known", dose)
            b.withheld_with_small(i, _present(df, ["cumulative_dose_mg_median_range"]), dose)


def _cohort_flow(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    keys = {}
    for i, r in df.iterrows():
        keys[(r.centre_code, r.step_order)] = n = p.cell(("flow", r.centre_code, r.step_order), r.n)
        b.count(i, "n", n)
    totals, parts = {}, {}
    for i, r in df.iterrows():
        n = keys[(r.centre_code, r.step_order)]
        first = keys.get(
            (r.centre_code, df.loc[df.centre_code == r.centre_code, "step_order"].min())
        )
        denominator = p.cell(("flow", r.centre_code, "denominator"), r.denominator)
        if first is not None and p.values[first] == p.values[denominator]:
            denominator = first
        b.count(i, "denominator", denominator)
        b.withheld_with(i, ["pct_of_delivered"], n, denominator)
        if pd.notna(r.parent_step_order):
            excluded = p.cell(("excluded", r.centre_code, r.step_order), r.excluded_n)
            b.count(i, "excluded_n", excluded)
            parent = keys[(r.centre_code, int(r.parent_step_order))]
            p.relation(parent, [n, excluded], ("flow", r.centre_code, r.step_order))
            if r.centre_code == "all":
                totals[("excluded", r.step_order)] = excluded
            parts.setdefault((r.centre_code, "excluded", r.step_order), []).append(excluded)
        if r.centre_code == "all":
            totals[("n", r.step_order)] = n
        parts.setdefault((r.centre_code, "n", r.step_order), []).append(n)
    # the centres add up to "all", step by step
    by_step: dict[tuple, list] = {}
    for (centre, *rest), members in parts.items():
        if centre != "all":
            by_step.setdefault(tuple(rest), []).extend(members)
    for rest, members in by_step.items():
        if rest in totals:
            p.relation(totals[rest], members, ("centres", *rest))


def _model_counts(table: str) -> Callable[[pd.DataFrame, _Problem, _Bindings], None]:
    def register(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
        estimates = _present(
            df, ["hazard_ratio", "ci_lower", "ci_upper", "p_value", "wald_chi_square"]
        )
        for i, r in df.iterrows():
            model = (table, r.endpoint, r.covariates)
            n = p.cell(("model n", *model), r.n)
            events = p.cell(("model events", *model), r.events)
            _with_rest(p, n, events, ("model censored", *model))
            b.count(i, "n", n), b.count(i, "events", events)
            b.withheld_with(i, estimates, n, events)

    return register


def _logrank_tests(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    for i, r in df.iterrows():
        n = _survival_size(p, r.endpoint, OVERALL, ALL, r.n)
        b.count(i, "n", n)
        b.withheld_with(i, _present(df, ["chi_square", "p_value"]), n)


def _follow_up(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    for i, r in df.iterrows():
        n = p.group_cell(("N",), OVERALL, ALL, r.n)
        b.count(i, "n", n)
        b.withheld_with(i, _present(df, ["median_months", "ci_lower", "ci_upper"]), n)


def _biomarker_tests(df: pd.DataFrame, p: _Problem, b: _Bindings) -> None:
    parts = {}
    for i, r in df.iterrows():
        # the patients with a value: Table 1's "known" count when the variable is there too
        n = p.group_cell(("known", r.variable), r.comparison, r.group, r.n)
        b.count(i, "n", n)
        b.withheld_with_small(i, _present(df, ["median", "min", "max"]), n)
        parts.setdefault(r.variable, {}).setdefault(r.comparison, []).append(n)
    for variable, comparisons in parts.items():
        # patients with a value: the same for every comparison of a variable (hidden)
        largest = max(sum(p.values[k] for k in ks) for ks in comparisons.values())
        total = p.cell(("biomarker known", variable), largest, hidden=True)
        for comparison, members in comparisons.items():
            p.relation(total, members, ("biomarker", variable, comparison))


#: table -> the function registering its counts (tables of :data:`TABLE_POLICY` to suppress,
#: except the manuscript layouts, redone from their long tables)
REGISTRARS: dict[str, Callable[[pd.DataFrame, _Problem, _Bindings], None]] = {
    "characteristics": _characteristics,
    "toxicity_summary": _toxicity_summary,
    "response_rates": _response_rates,
    "cohort_flow": _cohort_flow,
    "survival_medians": _survival_medians,
    "logrank_tests": _logrank_tests,
    "follow_up": _follow_up,
    "biomarker_tests": _biomarker_tests,
    "cox_univariate": _model_counts("cox_univariate"),
    "cox_multivariate": _model_counts("cox_multivariate"),
}


# --------------------------------------------------------------------------- printing
def _apply(df: pd.DataFrame, bindings: _Bindings, result: SuppressionResult) -> pd.DataFrame:
    out = df.astype(object).copy()
    for row, column, keys, small_only in bindings.derived:
        withheld = result.primary if small_only else result.suppressed
        if any(k in withheld for k in keys) and pd.notna(df.at[row, column]):
            out.at[row, column] = WITHHELD
    for row, column, key in bindings.counts:
        if key in result.suppressed:
            out.at[row, column] = result.label(key, 0)
    return out


def _characteristics_values(shown: pd.DataFrame, original: pd.DataFrame) -> pd.DataFrame:
    """The ``value`` text of a categorical level whose percentage alone is withheld: the
    count without its percentage; of a withheld count: its label."""
    out = shown.copy()
    categorical = ~original["level"].isin(["missing", "median (range)"])
    count_withheld = out["n"].astype(str).ne(original["n"].astype(str))
    pct_withheld = out["pct"].astype(str).eq(WITHHELD)
    out.loc[categorical & count_withheld, "value"] = out.loc[categorical & count_withheld, "n"]
    only_pct = categorical & ~count_withheld & pct_withheld
    out.loc[only_pct, "value"] = original.loc[only_pct, "n"].astype(int).astype(str)
    missing = original["level"].eq("missing")
    out.loc[missing, "value"] = out.loc[missing, "n"]
    return out


def _left_out_footnotes(layout: pd.DataFrame, result: SuppressionResult) -> pd.DataFrame:
    """The footnotes "<comparison>: k of N patients whose group is unknown ..." with k as
    printed (the count of the group-sum relation's rest cell)."""
    from analysis_assets import manuscript_tables as mt

    out = layout.copy()
    for comparison in study.COMPARISONS:
        key = ("unassigned", "sizes", comparison)
        if key not in result.suppressed:
            continue
        note = (out["row_type"] == "footnote") & out[mt.CHARACTERISTIC].str.startswith(
            mt._span_label(comparison) + ": "
        )
        out.loc[note, mt.CHARACTERISTIC] = out.loc[note, mt.CHARACTERISTIC].str.replace(
            r": [\d,]+ of ", f": {result.label(key, 0)} of ", n=1, regex=True
        )
    return out


def _table1(original: pd.DataFrame, shown: pd.DataFrame) -> pd.DataFrame:
    """Table 1 laid out from the original characteristics, its count cells and header sizes
    replaced by the suppressed ones."""
    from analysis_assets import manuscript_tables as mt

    layout = mt.table1_layout(original)
    columns = mt._table1_columns(mt._group_sizes(original))
    text = shown.set_index(["variable", "level_label", "comparison", "group"])
    missing = shown[shown["level"] == "missing"].set_index(["variable", "comparison", "group"])
    out = layout.copy()
    for i, row in layout.iterrows():
        for comparison, group, name in columns:
            if group is None:
                continue
            if row.row_type == "level":
                where = (row.variable, row[mt.CHARACTERISTIC], comparison, group)
                if where in text.index:
                    out.at[i, name] = text.at[where, "value"]
            elif row.row_type == "missing":
                out.at[i, name] = missing.at[(row.variable, comparison, group), "n"]
            elif row.row_type == "label" and (row.variable, comparison, group) in missing.index:
                medians = shown[
                    (shown.variable == row.variable)
                    & (shown.level == "median (range)")
                    & (shown.comparison == comparison)
                    & (shown.group == group)
                ]
                if len(medians):
                    out.at[i, name] = medians["value"].iloc[0]
    sizes = missing.groupby(level=[1, 2], sort=False)["denominator"].first()
    renamed = {
        name: re.sub(r"N = [\d,]+$", f"N = {sizes[(c, g)]}", name)
        for c, g, name in columns
        if g is not None and (c, g) in sizes.index
    }
    return out.rename(columns=renamed)


def _table2(layout: pd.DataFrame, shown_cox: pd.DataFrame) -> pd.DataFrame:
    """Table 2 with each endpoint's ``N = .., .. events`` heading from the suppressed model."""
    from analysis_assets import manuscript_tables as mt

    out = layout.copy()
    for endpoint, part in shown_cox.groupby("endpoint", sort=False):
        heading = (out["row_type"] == "heading") & (out["endpoint"] == endpoint)
        n, events = part["n"].iloc[0], part["events"].iloc[0]
        out.loc[heading, mt.CHARACTERISTIC] = out.loc[heading, mt.CHARACTERISTIC].str.replace(
            r"N = [\d,]+, [\d,]+ events$", f"N = {n}, {events} events", regex=True
        )
        withheld = (out["endpoint"] == endpoint) & out["row_type"].isin(["label", "level"])
        if WITHHELD in set(part["hazard_ratio"].astype(str)):
            for column in (mt.HR_HEADER, mt.P_HEADER):
                out.loc[withheld & out[column].astype(str).ne(""), column] = WITHHELD
    return out


def suppress_analysis_tables(
    tables: dict[str, pd.DataFrame], threshold: int | None = None
) -> dict[str, pd.DataFrame]:
    """The analysis tables as they may leave the consortium, per :data:`TABLE_POLICY`.

    For the external report (``cartwh report --external``) and for the aggregate tables of an
    analyst package shared outside the consortium: pass every analysis table at once (counts
    shared between tables are suppressed consistently only within one call).

    Parameters
    ----------
    tables : dict of name -> DataFrame
        ``analysis.*`` tables by bare name (a ``schema.`` prefix is dropped).
    threshold : int, optional
        Counts from 1 to ``threshold - 1`` are printed ``<threshold``; default
        :data:`analysis_assets.study.SMALL_CELL_THRESHOLD`.

    Returns
    -------
    dict of name -> DataFrame
        The suppressed tables (count columns as text: the count, ``<threshold`` or ``*``;
        percentages and estimates withheld with their count as ``*``) and the kept ones, in
        the input order; tables left out or not named by the policy are absent, and so is a
        table holding a small count that stays recoverable with everything withheld.
    """
    threshold = study.SMALL_CELL_THRESHOLD if threshold is None else int(threshold)
    tables = {name.split(".")[-1]: df.reset_index(drop=True) for name, df in tables.items()}
    problem, bindings = _Problem(), {}
    for name, df in tables.items():
        if name in REGISTRARS and TABLE_POLICY.get(name, (LEAVE_OUT,))[0] == SUPPRESS:
            bindings[name] = _Bindings()
            REGISTRARS[name](df, problem, bindings[name])
    problem.nest()
    result = suppress(problem.values, problem.relations, threshold, problem.hidden)
    # a table holding a count that nothing can protect is not printed at all
    bindings = {
        name: b
        for name, b in bindings.items()
        if not any(key in result.unprotected for _, _, key in b.counts)
    }
    shown = {name: _apply(tables[name], b, result) for name, b in bindings.items()}
    if "characteristics" in shown:
        shown["characteristics"] = _characteristics_values(
            shown["characteristics"], tables["characteristics"]
        )
    out = {}
    for name, df in tables.items():
        decision = TABLE_POLICY.get(name, (LEAVE_OUT,))[0]
        if decision == KEEP:
            out[name] = df
        elif decision == SUPPRESS and name in shown:
            out[name] = shown[name]
        elif name == "table1" and "characteristics" in shown:
            layout = _table1(tables["characteristics"], shown["characteristics"])
            out[name] = _left_out_footnotes(layout, result)
        elif name == "table2" and "cox_multivariate" in shown:
            out[name] = _table2(df, shown["cox_multivariate"])
    return out
