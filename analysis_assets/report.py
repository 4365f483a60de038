"""One self-contained HTML report: the results section of the study.

The report is a list of sections (:data:`REPORT_SECTIONS`), each a function of the report's
inputs returning HTML; the results in words are a list of sentence sections
(:data:`RESULTS_SECTIONS`), each a function of the tables returning plain-text sentences.
A new section is one function and one entry in one of these lists.

Every number in the text is computed from the tables passed in and printed by
:mod:`analysis_assets.formatting` (half-up); every analysis table is rendered, every figure
embedded (base64 PNG, or inline SVG when no PNG exists), and the provenance is printed.
No external URL, no script; all text goes through ``html.escape``.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_assets.formatting import (
    by_table_name,
    comparison_label,
    format_number,
    format_p,
    format_p_value,
    format_percent,
    is_missing,
    median_range,
    round_half_up,
    term_label,
)
from analysis_assets.labels import label
from analysis_assets.provenance import PROVENANCE_FILE, Provenance
from analysis_assets.study import (
    ENDPOINTS,
    FIGURE_CAPTIONS,
    KM_CAPTION,
    MAIN_BASIS,
    METHODS,
    OVERALL,
    PATIENT_LEVEL_TABLES,
    RESPONSES,
    TABLE1_CATEGORICAL,
    TABLE1_CONTINUOUS,
    TABLE_TITLES,
)

__all__ = [
    "ReportInputs",
    "RESULTS_SECTIONS",
    "REPORT_SECTIONS",
    "build_report",
    "results_sentences",
    "render_table",
]

Tables = dict[str, pd.DataFrame]

#: tables longer than this are rendered inside a collapsed <details>
COLLAPSE_ROWS = 60
TITLE = "CAR-T toxicity and outcome study: results"

CSS = """
body{font-family:Georgia,serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;
line-height:1.45}
h1,h2,h3{font-family:Helvetica,Arial,sans-serif}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:12px;
font-family:Helvetica,Arial,sans-serif}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eee}
td.num{text-align:right}
figure{margin:1em 0 2em}
figure img,figure svg{max-width:100%;height:auto}
figcaption{font-size:13px;color:#444}
.prov td:first-child{font-weight:bold}
"""


@dataclass(frozen=True)
class ReportInputs:
    """What the report sections read: tables by bare name, figure files by stem, provenance."""

    tables: Tables
    figures: dict[str, list[Path]]
    provenance: Provenance | None


def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _patients(t: Tables) -> pd.DataFrame | None:
    po = t.get("patient_outcomes")
    return po if po is not None and len(po) else None


def _flag(po: pd.DataFrame, column: str) -> pd.Series:
    return po[column].fillna(False).astype(bool)


def _verdict(tests: pd.DataFrame) -> str:
    significant = tests[tests["p_value"] < METHODS.significance_level]
    if not len(significant):
        return "did not differ significantly by any grouping"
    return "differed significantly by " + ", ".join(
        comparison_label(c) for c in significant["comparison"]
    )


# --------------------------------------------------------------------------- sentence sections
def cohort_sentences(t: Tables) -> list[str]:
    """Patients, centres, infusion years, age, sex and cell dose."""
    po = _patients(t)
    if po is None:
        return []
    n = len(po)
    years = (
        f" between {int(po['infusion_year'].min())} and {int(po['infusion_year'].max())}"
        if "infusion_year" in po
        else ""
    )
    lines = [
        f"{n} patients received an index CAR-T infusion at "
        f"{po['centre_code'].nunique()} centres{years}."
    ]
    if "age_at_infusion" in po:
        lines.append(f"Median age at infusion was {median_range(po['age_at_infusion'], 'years')}.")
    if "sex" in po:
        males = int((po["sex"] == "m").sum())
        lines.append(f"{males} of {n} patients ({format_percent(males, n)}) were male.")
    if "cell_dose_per_kg" in po:
        dose = pd.to_numeric(po["cell_dose_per_kg"], errors="coerce") / 1e6
        lines.append(f"The median cell dose was {median_range(dose, 'x 10^6 CAR-T cells/kg')}.")
    return lines


def toxicity_sentences(t: Tables) -> list[str]:
    """CRS and ICANS incidence and onset, both together, tocilizumab and corticosteroid use."""
    po = _patients(t)
    if po is None:
        return []
    n = len(po)
    lines = []
    for name, grade_column, onset in (
        ("CRS", "crs_max_grade", "crs_onset_day"),
        ("ICANS", "icans_max_grade", "icans_onset_day"),
    ):
        grade = pd.to_numeric(po[grade_column], errors="coerce")
        affected, severe = int((grade >= 1).sum()), int((grade >= 3).sum())
        s = (
            f"Of {n} infused patients, {affected} ({format_percent(affected, n)}) developed "
            f"{name} and {severe} ({format_percent(severe, n)}) severe {name} (grade >= 3)"
        )
        if grade.isna().any():
            s += f"; {int(grade.isna().sum())} could not be graded"
        s += "."
        if affected:
            s += f" Median onset was day {median_range(po.loc[grade >= 1, onset])}."
        lines.append(s)
    if "concurrent_crs_icans" in po:
        both = int(_flag(po, "concurrent_crs_icans").sum())
        icans = pd.to_numeric(po["icans_max_grade"], errors="coerce") >= 1
        crs = pd.to_numeric(po["crs_max_grade"], errors="coerce") >= 1
        lines.append(
            f"{both} patients ({format_percent(both, n)}) had both CRS and ICANS; "
            f"{int((icans & crs).sum())} of {int(icans.sum())} patients with ICANS also had CRS."
        )
    for name, flag, dose, first, unit in (
        (
            "tocilizumab",
            "received_tocilizumab",
            "tocilizumab_total_mg",
            "tocilizumab_first_day",
            "mg",
        ),
        (
            "corticosteroids",
            "received_steroids",
            "steroid_dex_equiv_mg",
            "steroid_first_day",
            "mg dexamethasone-equivalent",
        ),
    ):
        if flag not in po:
            continue
        got = _flag(po, flag)
        s = f"{int(got.sum())} of {n} patients ({format_percent(got.sum(), n)}) received {name}"
        if got.any():
            s += (
                f"; the median cumulative dose was {median_range(po.loc[got, dose], unit)}, "
                f"started at a median of day {median_range(po.loc[got, first])}"
            )
        lines.append(s + ".")
    return lines


def response_sentences(t: Tables) -> list[str]:
    """CR and MRD-negative CR at day 30, and their tests by every comparison."""
    lines = []
    po = _patients(t)
    if po is not None:
        n = len(po)
        cr = _flag(po, "cr_day30")
        lines.append(
            f"At day 30, {int(cr.sum())} of {n} infused patients ({format_percent(cr.sum(), n)}) "
            "were in CR."
        )
        if "mrd_negative_cr" in po:
            mrd = _flag(po, "mrd_negative_cr")
            lines.append(
                f"{int(mrd.sum())} of {n} ({format_percent(mrd.sum(), n)}) reached an "
                "MRD-negative CR."
            )
    rr = t.get("response_rates")
    if rr is not None and len(rr):
        sub = rr[rr["basis"] == MAIN_BASIS] if "basis" in rr else rr
        for response, spec in RESPONSES.items():
            tests = sub[sub["response"] == response].drop_duplicates("comparison")
            if tests.empty:
                continue
            parts = "; ".join(
                f"{comparison_label(r.comparison)}: {r.test} {format_p(r.p_value)}"
                for r in tests.itertuples()
            )
            lines.append(f"The rate of {spec.label} {_verdict(tests)} ({parts}).")
    return lines


def biomarker_sentences(t: Tables) -> list[str]:
    """CAR copies availability; biomarker medians by group with their tests."""
    lines = []
    po = _patients(t)
    if po is not None and "peak_car_copies" in po:
        n = len(po)
        car = int(pd.to_numeric(po["peak_car_copies"], errors="coerce").notna().sum())
        lines.append(
            f"Peak CAR copies were available for {car} of {n} patients ({format_percent(car, n)})."
        )
    bt = t.get("biomarker_tests")
    if bt is not None and len(bt):
        for r in bt.drop_duplicates(["variable", "comparison"]).itertuples():
            groups = bt[(bt["variable"] == r.variable) & (bt["comparison"] == r.comparison)]
            medians = ", ".join(
                f"{g} {format_number(m)} (n = {int(k)})"
                for g, m, k in zip(groups["group"], groups["median"], groups["n"])
            )
            lines.append(
                f"Median {r.variable} by {comparison_label(r.comparison)}: {medians}; "
                f"{r.test} {format_p(r.p_value)}."
            )
    return lines


def survival_sentences(t: Tables) -> list[str]:
    """Follow-up, overall medians and 12-month survival, log-rank tests."""
    lines = []
    fu = t.get("follow_up")
    if fu is not None and len(fu):
        r = fu.iloc[0]
        lines.append(
            f"Median follow-up ({r['method']}) was {format_number(r['median_months'])} months "
            f"(95% CI {format_number(r['ci_lower'])}–{format_number(r['ci_upper'])}) "
            f"for {int(r['n'])} patients."
        )
    sm = t.get("survival_medians")
    if sm is not None and len(sm):
        for r in sm[sm["comparison"] == OVERALL].itertuples():
            median = (
                "not reached"
                if is_missing(r.median_months)
                else f"{format_number(r.median_months)} months"
            )
            s = (
                f"Overall, median {r.endpoint} was {median} "
                f"(n = {int(r.n)}, {int(r.events)} events)"
            )
            if not is_missing(getattr(r, "survival_12m", None)):
                s += (
                    f"; {r.endpoint} at 12 months was {format_number(100 * float(r.survival_12m))}%"
                )
            lines.append(s + ".")
    lr = t.get("logrank_tests")
    if lr is not None and len(lr):
        for endpoint in pd.unique(lr["endpoint"]):
            sub = lr[lr["endpoint"] == endpoint]
            parts = "; ".join(
                f"{comparison_label(r.comparison)} {format_p(r.p_value)} (n = {int(r.n)})"
                for r in sub.itertuples()
            )
            lines.append(f"{endpoint} {_verdict(sub)} (log-rank: {parts}).")
    return lines


def multivariate_sentences(t: Tables) -> list[str]:
    """Table 2 in words: each multivariate model's hazard ratios and Wald tests."""
    cm = t.get("cox_multivariate")
    if cm is None or not len(cm):
        return []
    lines = []
    for endpoint in pd.unique(cm["endpoint"]):
        sub = cm[cm["endpoint"] == endpoint]
        terms = []
        for r in sub.itertuples():
            label = term_label(r.term, r.description)
            if is_missing(r.estimable) or not bool(r.estimable):
                terms.append(f"{r.description}: not estimable")
            elif not is_missing(r.hazard_ratio):
                terms.append(
                    f"{label} HR {format_number(r.hazard_ratio, 2)} "
                    f"(95% CI {format_number(r.ci_lower, 2)}–{format_number(r.ci_upper, 2)}), "
                    f"{format_p(r.p_value)}"
                )
            else:
                terms.append(f"{label} {format_p(r.p_value)}")
        first = sub.iloc[0]
        lines.append(
            f"In the multivariate Cox model for {endpoint} (n = {int(first['n'])}, "
            f"{int(first['events'])} events): " + "; ".join(terms) + "."
        )
    return lines


#: the results in words, in order: (heading, function of the tables by bare name)
def completeness_sentences(t: Tables) -> list[str]:
    """What intake set to missing or held back, and whom each analysis leaves out."""
    lines = []
    nulled = t.get("intake_nulled_values")
    if nulled is not None:
        total = int(nulled["values"].sum()) if len(nulled) else 0
        if total:
            parts = ", ".join(
                f"{r.entity} {r.column_name} {int(r.values)}" for r in nulled.itertuples()
            )
            lines.append(
                f"At intake, {total} delivered values that broke the extract format were set to "
                f"missing and queried back to the centres, the rest of their rows kept ({parts})."
            )
        else:
            lines.append("At intake, no delivered value was set to missing.")
    held = t.get("intake_rows_held_back")
    if held is not None and len(held):
        parts = ", ".join(f"{r.rule} {int(r.rows)}" for r in held.itertuples())
        lines.append(
            "Delivered rows held back whole (a bad key field, or rows sharing a key with "
            f"different content), by reason: {parts}."
        )
    po = _patients(t)
    if po is None:
        return lines
    n = len(po)
    labels = {c: label(c) for c in (*TABLE1_CONTINUOUS, *TABLE1_CATEGORICAL)}
    missing = [(label, int(po[c].isna().sum())) for c, label in labels.items() if c in po]
    missing = [(label, k) for label, k in missing if k]
    lines.append(
        "Table 1 shows missing values in a row of their own and leaves them out of its tests: "
        + "; ".join(f"{label} missing for {k} of {n}" for label, k in missing)
        + "."
        if missing
        else f"Table 1: every characteristic is known for all {n} patients."
    )
    ungraded = int((po["crs_max_grade"].isna() | po["icans_max_grade"].isna()).sum())
    if ungraded:
        lines.append(
            f"{ungraded} of {n} patients could not be graded for CRS or ICANS and are left out "
            "of the comparisons by toxicity."
        )
    cm = t.get("cox_multivariate")
    for name, endpoint in ENDPOINTS.items():
        if cm is None or endpoint.months not in po or endpoint.event not in po:
            continue
        rows = cm[cm["endpoint"] == name]
        if not len(rows):
            continue
        population = int((po[endpoint.months].notna() & po[endpoint.event].notna()).sum())
        used = int(rows["n"].iloc[0])
        lines.append(
            f"The multivariate Cox model of {name} used {used} of the {population} "
            f"{endpoint.population}"
            + (
                f" ({population - used} left out for a missing covariate)."
                if used < population
                else "."
            )
        )
    return lines


RESULTS_SECTIONS: tuple[tuple[str, Callable[[Tables], list[str]]], ...] = (
    ("Cohort", cohort_sentences),
    ("Toxicity and its treatment", toxicity_sentences),
    ("Response", response_sentences),
    ("Biomarkers", biomarker_sentences),
    ("Survival", survival_sentences),
    ("Multivariate analysis", multivariate_sentences),
    ("Data completeness", completeness_sentences),
)


def results_sentences(tables: Tables) -> dict[str, list[str]]:
    """The results in words, by section; every number computed from ``tables`` (plain text).

    Parameters
    ----------
    tables : dict of name -> DataFrame
        Mart and analysis tables (``schema.`` prefix optional).

    Returns
    -------
    dict of heading -> list of str
        The sections of :data:`RESULTS_SECTIONS` that have something to say, in order.
    """
    t = by_table_name(tables)
    out = {}
    for heading, sentences in RESULTS_SECTIONS:
        lines = sentences(t)
        if lines:
            out[heading] = lines
    return out


# --------------------------------------------------------------------------- tables
def _cell(column: str, value) -> tuple[str, bool]:
    if column.startswith("p_value") or column == "p":
        return format_p_value(value), True
    if is_missing(value):
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value)}", True
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isinf(v):
            return ("inf" if v > 0 else "-inf"), True
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v)}", True
        if abs(v) >= 1000:
            return f"{round_half_up(v, 0):,.0f}", True
        return f"{round_half_up(v, 3):g}", True
    return str(value), False


def render_table(df: pd.DataFrame, table_id: str = "") -> str:
    """A DataFrame as an escaped HTML table (numbers right-aligned, p-values as the text)."""
    ident = f' id="{_e(table_id)}"' if table_id else ""
    parts = [f"<table{ident}><thead><tr>"]
    parts += [f"<th>{_e(c)}</th>" for c in df.columns]
    parts.append("</tr></thead><tbody>")
    for row in df.itertuples(index=False):
        parts.append("<tr>")
        for col, value in zip(df.columns, row):
            text, numeric = _cell(str(col), value)
            parts.append(f'<td class="num">{_e(text)}</td>' if numeric else f"<td>{_e(text)}</td>")
        parts.append("</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _with_denominators(name: str, df: pd.DataFrame) -> pd.DataFrame:
    if name == "response_rates" and {"responders", "n"} <= set(df.columns):
        df = df.copy()
        pos = list(df.columns).index("responders") + 1
        df.insert(
            pos, "responders / n", [f"{int(a)}/{int(b)}" for a, b in zip(df["responders"], df["n"])]
        )
    return df


# --------------------------------------------------------------------------- figures
_SVG_STRIP = (
    re.compile(r"<\?xml.*?\?>", re.S),
    re.compile(r"<!DOCTYPE.*?>", re.S),
    re.compile(r"<metadata>.*?</metadata>", re.S),
    re.compile(r'\s+xmlns(:\w+)?="[^"]*"'),
    # defence in depth for SVGs not made by matplotlib: no script, handler or external ref
    re.compile(r"<script.*?</script\s*>", re.S | re.I),
    re.compile(r"<script[^>]*/>", re.I),
    re.compile(r'\s+on\w+\s*=\s*("[^"]*"|\'[^\']*\')', re.I),
    re.compile(r'\s+(?:xlink:)?href\s*=\s*("\s*(?!#)[^"]*"|\'\s*(?!#)[^\']*\')', re.I),
)


def _inline_svg(text: str) -> str:
    for pattern in _SVG_STRIP:
        text = pattern.sub("", text)
    return text.strip()


def _caption(stem: str) -> str:
    caption = FIGURE_CAPTIONS.get(stem)
    if caption is None and stem.startswith("km_"):
        _, endpoint, comparison = stem.split("_", 2)
        caption = KM_CAPTION.format(endpoint=endpoint, comparison=comparison_label(comparison))
    return caption or stem


def _figure_html(stem: str, files: list[Path]) -> str:
    by_ext = {p.suffix.lower(): p for p in files}
    caption = _caption(stem)
    names = ", ".join(p.name for p in files)
    if ".png" in by_ext:
        data = base64.b64encode(by_ext[".png"].read_bytes()).decode("ascii")
        body = f'<img alt="{_e(caption)}" src="data:image/png;base64,{data}">'
    elif ".svg" in by_ext:
        body = _inline_svg(by_ext[".svg"].read_text(encoding="utf-8"))
    else:
        raise ValueError(f"unsupported figure file(s): {names}")
    return (
        f'<figure id="fig-{_e(stem)}" data-files="{_e(names)}">{body}'
        f"<figcaption>{_e(caption)} <small>({_e(names)})</small></figcaption></figure>"
    )


# --------------------------------------------------------------------------- report sections
def header_section(inputs: ReportInputs) -> list[str]:
    """The title and the data cut-off."""
    parts = [f"<h1>{_e(TITLE)}</h1>"]
    if inputs.provenance is not None:
        parts.append(f"<p>Data cut-off: {_e(inputs.provenance.cutoff.isoformat())}.</p>")
    return parts


def intake_section(inputs: ReportInputs) -> list[str]:
    """The data received: the cohort summary that ends ``cartwh refresh``."""
    if inputs.provenance is None or not inputs.provenance.intake:
        return []
    first, *centres = inputs.provenance.intake
    items = "".join(f"<li>{_e(line)}</li>" for line in centres)
    return [f"<h2>Data received</h2><p>{_e(first)}.</p><ul>{items}</ul>"]


def results_section(inputs: ReportInputs) -> list[str]:
    """The results in words (:data:`RESULTS_SECTIONS`)."""
    parts = ["<h2>Results</h2>"]
    for heading, lines in results_sentences(inputs.tables).items():
        parts.append(f"<h3>{_e(heading)}</h3>")
        parts += [f"<p>{_e(line)}</p>" for line in lines]
    return parts


def figures_section(inputs: ReportInputs) -> list[str]:
    """Every figure with its caption."""
    if not inputs.figures:
        return []
    return ["<h2>Figures</h2>"] + [
        _figure_html(stem, files) for stem, files in inputs.figures.items()
    ]


def tables_section(inputs: ReportInputs) -> list[str]:
    """Every table but the patient-level ones, long tables collapsed."""
    parts = ["<h2>Tables</h2>"]
    for name, df in inputs.tables.items():
        if name in PATIENT_LEVEL_TABLES:
            continue
        table = render_table(_with_denominators(name, df), f"table-{name}")
        parts.append(
            f"<h3>{_e(TABLE_TITLES.get(name, name))}</h3>"
            f"<p><small>{_e(name)}: {len(df)} rows</small></p>"
        )
        if len(df) > COLLAPSE_ROWS:
            parts.append(f"<details><summary>show {len(df)} rows</summary>{table}</details>")
        else:
            parts.append(table)
    return parts


def provenance_section(inputs: ReportInputs) -> list[str]:
    """Cut-off, deliveries used, code version, run and time, as a table."""
    if inputs.provenance is None:
        return []
    parts = ['<h2>Provenance</h2><table class="prov"><tbody>']
    for heading, lines in inputs.provenance.rows():
        shown = "<br>".join(_e(line) for line in lines)
        parts.append(f"<tr><td>{_e(heading)}</td><td>{shown}</td></tr>")
    parts.append("</tbody></table>")
    return parts


#: the report from top to bottom
REPORT_SECTIONS: tuple[Callable[[ReportInputs], list[str]], ...] = (
    header_section,
    intake_section,
    results_section,
    figures_section,
    tables_section,
    provenance_section,
)


def build_report(
    tables: Tables, figures: list[Path], provenance: Provenance | None, out_path: Path
) -> Path:
    """Write the HTML results report to ``out_path`` and return it.

    Parameters
    ----------
    tables : dict of name -> DataFrame
        Mart and analysis tables (``schema.`` prefix optional).  Patient-level tables
        (patient_outcomes, daily_toxicity) feed the text only; all others are printed.
    figures : list of Path
        PNG and/or SVG files; files sharing a stem are one figure (the PNG is embedded).
    provenance : Provenance or None
        Printed as the cut-off line under the title and the provenance table at the end,
        and written as ``provenance.json`` beside the report; None leaves all three out.
    out_path : Path

    Returns
    -------
    Path
    """
    out_path = Path(out_path)
    grouped: dict[str, list[Path]] = {}
    for f in map(Path, figures):
        grouped.setdefault(f.stem, []).append(f)
    inputs = ReportInputs(by_table_name(tables), grouped, provenance)
    doc = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(TITLE)}</title>",
        f"<style>{CSS}</style></head><body>",
    ]
    for section in REPORT_SECTIONS:
        doc += section(inputs)
    doc.append("</body></html>")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(doc), encoding="utf-8")
    if provenance is not None:
        (out_path.parent / PROVENANCE_FILE).write_text(
            json.dumps(provenance.to_dict(), indent=2) + "\n", encoding="utf-8"
        )
    return out_path
