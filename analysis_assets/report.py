"""One self-contained HTML report: the results section of the study.

Every number in the text is computed from the tables passed in (percentages with
``formatting.percent``, half-up); every analysis table is rendered, every figure embedded
(base64 PNG, or inline SVG when no PNG exists), and the provenance is printed.  No external
URL, no script; all text goes through ``html.escape``.
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from analysis_assets.comparisons import COMPARISONS
from analysis_assets.formatting import percent, round_half_up

__all__ = ["build_report", "results_sentences", "render_table"]

#: patient-level tables: used for the text, never printed row by row
PATIENT_LEVEL = ("patient_outcomes", "daily_toxicity")
#: tables longer than this are rendered inside a collapsed <details>
COLLAPSE_ROWS = 60

TABLE_TITLES = {
    "cohort_flow": "Cohort flow (patients remaining at each step, by centre)",
    "table1": "Table 1. Patient characteristics, overall and by toxicity group, CRS and ICANS",
    "toxicity_summary": "Toxicity and its treatment: incidence, onset, duration, doses",
    "response_rates": "Response rates at day 30 (responders / n per group)",
    "biomarker_tests": "Biomarkers by group (IL-6, cell dose, peak CAR copies)",
    "follow_up": "Follow-up",
    "survival_medians": "Median OS / LFS and survival at 12, 24, 36 months",
    "logrank_tests": "Log-rank tests",
    "km_estimates": "Kaplan-Meier estimates",
    "cox_univariate": "Univariate Cox screening",
    "cox_multivariate": "Table 2. Multivariate Cox models",
    "ph_assumption": "Proportional-hazards checks (multivariate models)",
}
FIGURE_CAPTIONS = {
    "cohort_flow": "Cohort flow: patients delivered, infused, gradable, evaluable and in CR.",
    "figure1_cr_day30": "Figure 1a. CR at day 30 by toxicity and treatment (all infused patients).",
    "figure1_mrd_negative_cr": "Figure 1b. MRD-negative CR by toxicity and treatment (all infused patients).",
    "figure4_car_copies": "Figure 4. Peak CAR copies by toxicity and treatment.",
    "table2_forest": "Table 2 as a forest plot: hazard ratios with 95% CI (log scale).",
    "swimmer_first_30_days": "CRS and ICANS grades day by day over the first 30 days, with day of CR.",
}

CSS = """
body{font-family:Georgia,serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1,h2,h3{font-family:Helvetica,Arial,sans-serif}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:12px;font-family:Helvetica,Arial,sans-serif}
th,td{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#eee}
td.num{text-align:right}
figure{margin:1em 0 2em}
figure img,figure svg{max-width:100%;height:auto}
figcaption{font-size:13px;color:#444}
.prov td:first-child{font-weight:bold}
"""


# --------------------------------------------------------------------------- helpers
def _e(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _isna(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _num(value, digits: int = 1) -> str:
    """A number for the text: integers as such, otherwise half-up to ``digits``."""
    if _isna(value):
        return "n/a"
    value = float(value)
    if value.is_integer():
        return f"{int(value):,}"
    return f"{round_half_up(value, digits):,.{digits}f}"


def _pct(count: int, total: int) -> str:
    p = percent(int(count), int(total))
    return "n/a" if p is None else f"{p:.1f}%"


def _p(p) -> str:
    if _isna(p):
        return "p = n/a"
    p = float(p)
    return "p < 0.001" if p < 0.001 else f"p = {round_half_up(p, 3):.3f}"


def _median_range(values: pd.Series, unit: str = "") -> str:
    v = pd.to_numeric(values, errors="coerce").dropna().astype(float)
    if v.empty:
        return "n/a"
    unit = f" {unit}" if unit else ""
    return f"{_num(np.median(v))}{unit} (range {_num(v.min())}–{_num(v.max())})"


def _tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Key the tables by their bare name (``analysis.cox_multivariate`` -> ``cox_multivariate``)."""
    return {k.split(".")[-1]: v for k, v in tables.items()}


def _term(term: str, description: str) -> str:
    """Cox term in words: ``toxicity_group[other]`` -> ``three-level toxicity group: other``."""
    term = str(term)
    if "[" in term and term.endswith("]"):
        return f"{description}: {term[term.index('[') + 1 : -1]} (vs reference)"
    if "overall" in term:
        return f"{description} (overall Wald test)"
    return str(description)


def _comparison_label(comparison: str) -> str:
    return COMPARISONS.get(comparison, (comparison, ()))[0]


# --------------------------------------------------------------------------- sentences
def results_sentences(tables: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """The results in words, by section; every number computed from ``tables`` (plain text)."""
    t = _tables(tables)
    out: dict[str, list[str]] = {}
    po = t.get("patient_outcomes")
    if po is not None and len(po):
        n = len(po)
        cohort = [
            f"{n} patients received an index CAR-T infusion at "
            f"{po['centre_code'].nunique()} centres"
            + (
                f" between {int(po['infusion_year'].min())} and {int(po['infusion_year'].max())}"
                if "infusion_year" in po
                else ""
            )
            + "."
        ]
        if "age_at_infusion" in po:
            cohort.append(
                f"Median age at infusion was {_median_range(po['age_at_infusion'], 'years')}."
            )
        if "sex" in po:
            males = int((po["sex"] == "m").sum())
            cohort.append(f"{males} of {n} patients ({_pct(males, n)}) were male.")
        if "cell_dose_per_kg" in po:
            dose = pd.to_numeric(po["cell_dose_per_kg"], errors="coerce") / 1e6
            cohort.append(
                f"The median cell dose was {_median_range(dose, 'x 10^6 CAR-T cells/kg')}."
            )
        out["Cohort"] = cohort

        tox = []
        for name, col, onset in (
            ("CRS", "crs_max_grade", "crs_onset_day"),
            ("ICANS", "icans_max_grade", "icans_onset_day"),
        ):
            grade = pd.to_numeric(po[col], errors="coerce")
            any_ = grade >= 1
            severe = grade >= 3
            s = (
                f"Of {n} infused patients, {int(any_.sum())} ({_pct(any_.sum(), n)}) developed {name} "
                f"and {int(severe.sum())} ({_pct(severe.sum(), n)}) severe {name} (grade >= 3)"
            )
            if grade.isna().any():
                s += f"; {int(grade.isna().sum())} could not be graded"
            s += "."
            if any_.any():
                s += f" Median onset was day {_median_range(po.loc[any_, onset])}."
            tox.append(s)
        if "concurrent_crs_icans" in po:
            both = int(po["concurrent_crs_icans"].fillna(False).astype(bool).sum())
            icans = pd.to_numeric(po["icans_max_grade"], errors="coerce") >= 1
            crs = pd.to_numeric(po["crs_max_grade"], errors="coerce") >= 1
            also = int((icans & crs).sum())
            tox.append(
                f"{both} patients ({_pct(both, n)}) had both CRS and ICANS; {also} of "
                f"{int(icans.sum())} patients with ICANS also had CRS."
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
            got = po[flag].fillna(False).astype(bool)
            s = f"{int(got.sum())} of {n} patients ({_pct(got.sum(), n)}) received {name}"
            if got.any():
                s += (
                    f"; the median cumulative dose was {_median_range(po.loc[got, dose], unit)}, "
                    f"started at a median of day {_median_range(po.loc[got, first])}"
                )
            tox.append(s + ".")
        out["Toxicity and its treatment"] = tox

        resp = []
        cr = po["cr_day30"].fillna(False).astype(bool)
        resp.append(
            f"At day 30, {int(cr.sum())} of {n} infused patients ({_pct(cr.sum(), n)}) were in CR."
        )
        if "mrd_negative_cr" in po:
            mrd = po["mrd_negative_cr"].fillna(False).astype(bool)
            resp.append(
                f"{int(mrd.sum())} of {n} ({_pct(mrd.sum(), n)}) reached an MRD-negative CR."
            )
        out["Response"] = resp
        if "peak_car_copies" in po:
            car = int(pd.to_numeric(po["peak_car_copies"], errors="coerce").notna().sum())
            out.setdefault("Biomarkers", []).append(
                f"Peak CAR copies were available for {car} of {n} patients ({_pct(car, n)})."
            )

    rr = t.get("response_rates")
    if rr is not None and len(rr):
        lines = out.setdefault("Response", [])
        sub = rr[rr["basis"] == "all_infused"] if "basis" in rr else rr
        for response, label in (
            ("cr_day30", "CR at day 30"),
            ("mrd_negative_cr", "MRD-negative CR"),
        ):
            tests = sub[sub["response"] == response].drop_duplicates("comparison")
            if tests.empty:
                continue
            sig = tests[tests["p_value"] < 0.05]
            parts = "; ".join(
                f"{_comparison_label(r.comparison)}: {r.test} {_p(r.p_value)}"
                for r in tests.itertuples()
            )
            verdict = (
                "differed significantly by "
                + ", ".join(_comparison_label(c) for c in sig["comparison"])
                if len(sig)
                else "did not differ significantly by any grouping"
            )
            lines.append(f"The rate of {label} {verdict} ({parts}).")

    bt = t.get("biomarker_tests")
    if bt is not None and len(bt):
        lines = out.setdefault("Biomarkers", [])
        for r in bt.drop_duplicates(["variable", "comparison"]).itertuples():
            grp = bt[(bt["variable"] == r.variable) & (bt["comparison"] == r.comparison)]
            medians = ", ".join(
                f"{g} {_num(m)} (n = {int(k)})"
                for g, m, k in zip(grp["group"], grp["median"], grp["n"])
            )
            lines.append(
                f"Median {r.variable} by {_comparison_label(r.comparison)}: {medians}; "
                f"{r.test} {_p(r.p_value)}."
            )

    surv = []
    fu = t.get("follow_up")
    if fu is not None and len(fu):
        r = fu.iloc[0]
        surv.append(
            f"Median follow-up ({r['method']}) was {_num(r['median_months'])} months "
            f"(95% CI {_num(r['ci_lower'])}–{_num(r['ci_upper'])}) for {int(r['n'])} patients."
        )
    sm = t.get("survival_medians")
    if sm is not None and len(sm):
        for r in sm[sm["comparison"] == "overall"].itertuples():
            med = "not reached" if _isna(r.median_months) else f"{_num(r.median_months)} months"
            s = f"Overall, median {r.endpoint} was {med} (n = {int(r.n)}, {int(r.events)} events)"
            if not _isna(getattr(r, "survival_12m", None)):
                s += f"; {r.endpoint} at 12 months was {_num(100 * float(r.survival_12m))}%"
            surv.append(s + ".")
    lr = t.get("logrank_tests")
    if lr is not None and len(lr):
        for endpoint in pd.unique(lr["endpoint"]):
            sub = lr[lr["endpoint"] == endpoint]
            sig = sub[sub["p_value"] < 0.05]
            parts = "; ".join(
                f"{_comparison_label(r.comparison)} {_p(r.p_value)} (n = {int(r.n)})"
                for r in sub.itertuples()
            )
            verdict = (
                "differed significantly by "
                + ", ".join(_comparison_label(c) for c in sig["comparison"])
                if len(sig)
                else "did not differ significantly by any grouping"
            )
            surv.append(f"{endpoint} {verdict} (log-rank: {parts}).")
    if surv:
        out["Survival"] = surv

    cm = t.get("cox_multivariate")
    if cm is not None and len(cm):
        cox = []
        for endpoint in pd.unique(cm["endpoint"]):
            sub = cm[cm["endpoint"] == endpoint]
            terms = []
            for r in sub.itertuples():
                est = bool(r.estimable) if not _isna(r.estimable) else False
                if not est:
                    terms.append(f"{r.description}: not estimable")
                elif not _isna(r.hazard_ratio):
                    terms.append(
                        f"{_term(r.term, r.description)} HR {_num(r.hazard_ratio, 2)} "
                        f"(95% CI {_num(r.ci_lower, 2)}–{_num(r.ci_upper, 2)}), {_p(r.p_value)}"
                    )
                else:
                    terms.append(f"{_term(r.term, r.description)} {_p(r.p_value)}")
            first = sub.iloc[0]
            cox.append(
                f"In the multivariate Cox model for {endpoint} (n = {int(first['n'])}, "
                f"{int(first['events'])} events): " + "; ".join(terms) + "."
            )
        out["Multivariate analysis"] = cox
    return out


# --------------------------------------------------------------------------- tables
def _cell(column: str, value) -> tuple[str, bool]:
    if _isna(value):
        return "", False
    if isinstance(value, (bool, np.bool_)):
        return ("yes" if value else "no"), False
    if isinstance(value, (int, np.integer)):
        return f"{int(value)}", True
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isinf(v):
            return ("inf" if v > 0 else "-inf"), True
        if column.startswith("p_value") or column == "p":
            return ("<0.001" if v < 0.001 else f"{round_half_up(v, 3):.3f}"), True
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v)}", True
        if abs(v) >= 1000:
            return f"{round_half_up(v, 0):,.0f}", True
        return f"{round_half_up(v, 3):g}", True
    return str(value), False


def render_table(df: pd.DataFrame, table_id: str = "") -> str:
    """A DataFrame as an escaped HTML table (numbers right-aligned, p-values to 3 decimals)."""
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


def _figure_html(stem: str, files: list[Path]) -> str:
    by_ext = {p.suffix.lower(): p for p in files}
    caption = FIGURE_CAPTIONS.get(stem)
    if caption is None and stem.startswith("km_"):
        _, endpoint, comparison = stem.split("_", 2)
        caption = (
            f"Kaplan-Meier estimate of {endpoint} by {_comparison_label(comparison)}, "
            "with log-rank p and the number at risk."
        )
    caption = caption or stem
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


# --------------------------------------------------------------------------- report
def build_report(
    tables: dict[str, pd.DataFrame], figures: list[Path], provenance: dict, out_path: Path
) -> Path:
    """Write the HTML results report to ``out_path`` and return it.

    Parameters
    ----------
    tables : dict of name -> DataFrame
        Mart and analysis tables (``schema.`` prefix optional).  Patient-level tables
        (patient_outcomes, daily_toxicity) feed the text only; all others are printed.
    figures : list of Path
        PNG and/or SVG files; files sharing a stem are one figure (the PNG is embedded).
    provenance : dict
        Printed as given (deliveries used, cut-off, code version, generated at, ...).
    out_path : Path
    """
    out_path = Path(out_path)
    t = _tables(tables)
    doc = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        "<title>CAR-T toxicity and outcome study: results</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>CAR-T toxicity and outcome study: results</h1>",
    ]
    cutoff = provenance.get("cutoff", provenance.get("cut_off"))
    if cutoff is not None:
        doc.append(f"<p>Data cut-off: {_e(cutoff)}.</p>")

    doc.append("<h2>Results</h2>")
    for section, lines in results_sentences(tables).items():
        doc.append(f"<h3>{_e(section)}</h3>")
        doc += [f"<p>{_e(line)}</p>" for line in lines]

    groups: dict[str, list[Path]] = {}
    for f in figures:
        f = Path(f)
        groups.setdefault(f.stem, []).append(f)
    if groups:
        doc.append("<h2>Figures</h2>")
        doc += [_figure_html(stem, files) for stem, files in groups.items()]

    doc.append("<h2>Tables</h2>")
    for name, df in t.items():
        if name in PATIENT_LEVEL:
            continue
        title = TABLE_TITLES.get(name, name)
        table = render_table(_with_denominators(name, df), f"table-{name}")
        doc.append(f"<h3>{_e(title)}</h3><p><small>{_e(name)}: {len(df)} rows</small></p>")
        if len(df) > COLLAPSE_ROWS:
            doc.append(f"<details><summary>show {len(df)} rows</summary>{table}</details>")
        else:
            doc.append(table)

    doc.append('<h2>Provenance</h2><table class="prov"><tbody>')
    for key, value in provenance.items():
        if isinstance(value, (list, tuple, set)):
            shown = "<br>".join(_e(v) for v in value)
        elif isinstance(value, dict):
            shown = "<br>".join(f"{_e(k)}: {_e(v)}" for k, v in value.items())
        else:
            shown = _e(value)
        doc.append(f"<tr><td>{_e(key)}</td><td>{shown}</td></tr>")
    doc.append("</tbody></table></body></html>")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text("\n".join(doc), encoding="utf-8")
    return out_path
