"""The analyst package's codebook: one row per published column (schema, table, column, type,
meaning, unit, codes, de-identification), generated from what already documents the columns —
never written a second time:

* meanings: the dbt ymls of the mart and quality models (``dbt_project/models/**/*.yml``) and
  :mod:`analysis_assets.column_docs` for the analysis tables;
* units and level labels: :mod:`analysis_assets.labels`;
* codes: the pandera contract of ``mart.patient_outcomes`` (``isin``) and the dbt
  ``accepted_values`` tests;
* de-identification: the rules of :mod:`cartwh.analyst.deidentify`.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from functools import cache
from pathlib import Path

import yaml

from cartwh.analyst.deidentify import AGE_TOP_CODE, RULES, PublishError
from cartwh.project import DBT_PROJECT_DIR

CODEBOOK_CSV = "codebook.csv"
CODEBOOK_MD = "codebook.md"


@dataclass(frozen=True)
class CodebookRow:
    schema: str
    table: str
    column: str
    type: str
    meaning: str
    unit: str
    codes: str
    deidentification: str


@cache
def dbt_column_docs(models_dir: Path = DBT_PROJECT_DIR / "models") -> dict:
    """``(model, column)`` -> (description, accepted values) from the dbt ymls."""
    docs = {}
    for path in sorted(models_dir.rglob("*.yml")):
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []:
            for column in model.get("columns") or []:
                docs[(model["name"], column["name"])] = (
                    " ".join((column.get("description") or "").split()),
                    _accepted_values(column.get("data_tests") or column.get("tests") or []),
                )
    return docs


def _accepted_values(tests: list) -> tuple:
    for test in tests:
        if isinstance(test, dict) and "accepted_values" in test:
            spec = test["accepted_values"] or {}
            return tuple((spec.get("arguments") or spec).get("values") or ())
    return ()


@cache
def _contract_codes() -> dict[str, tuple]:
    """Column -> allowed values, from the pandera contract of ``mart.patient_outcomes``."""
    from models.patient_outcomes import PatientOutcomes

    codes = {}
    for name, column in PatientOutcomes.to_schema().columns.items():
        for check in column.checks:
            if check.name == "isin":
                codes[name] = tuple(check.statistics["allowed_values"])
    return codes


def _meaning(schema: str, table: str, column: str) -> str:
    if schema == "analysis":
        from analysis_assets.column_docs import column_meaning

        return column_meaning(table, column) or ""
    return dbt_column_docs().get((table, column), ("", ()))[0]


def _unit(schema: str, column: str) -> str:
    from analysis_assets.labels import VARIABLES

    if schema == "mart" and column in VARIABLES and VARIABLES[column].unit:
        variable = VARIABLES[column]
        if variable.scale != 1:
            return f"stored value / {variable.scale:g} is in {variable.unit}"
        return variable.unit
    for suffix, unit in (
        ("_days", "days"),
        ("_months", "months"),
        ("_day", "day since the index infusion (day 0)"),
        ("_pct", "%"),
        ("_mg", "mg"),
    ):
        if column.endswith(suffix):
            return unit
    return ""


def _codes(schema: str, table: str, column: str, rule: str | None) -> str:
    from analysis_assets.labels import VARIABLES

    if rule == "age_top_coded":
        return f"{AGE_TOP_CODE} = {AGE_TOP_CODE} or older"
    if schema != "mart":
        values = dbt_column_docs().get((table, column), ("", ()))[1]
        return "; ".join(str(v) for v in values)
    levels = VARIABLES[column].levels if column in VARIABLES else {}
    if levels:
        return "; ".join(f"{code} = {label}" for code, label in levels.items())
    values = (
        table == "patient_outcomes" and _contract_codes().get(column)
    ) or dbt_column_docs().get((table, column), ("", ()))[1]
    return "; ".join(str(v) for v in values or ())


def codebook(columns: list[tuple[str, str, str, str, str | None]]) -> list[CodebookRow]:
    """The codebook of the published ``columns``: (schema, table, column, type, rule).

    Raises
    ------
    PublishError
        When a column has no meaning, naming every such column and where to document it.
    """
    rows = [
        CodebookRow(
            schema,
            table,
            column,
            data_type,
            _meaning(schema, table, column),
            _unit(schema, column),
            _codes(schema, table, column, rule),
            RULES[rule].meaning if rule else "",
        )
        for schema, table, column, data_type, rule in columns
    ]
    undocumented = [f"{r.schema}.{r.table}.{r.column}" for r in rows if not r.meaning.strip()]
    if undocumented:
        raise PublishError(
            f"no meaning for {', '.join(undocumented)}: describe each column before it is "
            "published (mart, quality: the model's yml under dbt_project/models; analysis: "
            "analysis_assets/column_docs.py)"
        )
    return rows


def write_codebook(rows: list[CodebookRow], folder: Path, provenance: dict) -> None:
    """``codebook.csv`` and ``codebook.md`` (with the de-identification rules) in ``folder``."""
    names = [f.name for f in fields(CodebookRow)]
    with open(folder / CODEBOOK_CSV, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=names)
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    (folder / CODEBOOK_MD).write_text(_markdown(rows, names, provenance), encoding="utf-8")


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _markdown(rows: list[CodebookRow], names: list[str], provenance: dict) -> str:
    lines = [
        "# Codebook of the analyst package",
        "",
        f"Refresh {provenance['run_id']} of {provenance['generated_at']}, cut-off "
        f"{provenance['cutoff']}, code {provenance['code_version']}; deliveries: "
        + ", ".join(
            f"{d['centre_code']} {d['delivery_id']} (sha256 {d['sha256'][:12]})"
            for d in provenance["deliveries"]
        )
        + ".",
        "",
        "Schemas `mart`, `analysis` and `quality` only; no names, record numbers, dates of "
        "birth or centre patient ids (patients are identified by `patient_key`, a keyed "
        "pseudonym). Dates of care appear only as days since the patient's index infusion "
        "(day 0) and the year of infusion (HIPAA Safe Harbor).",
        "",
        "## De-identification rules",
        "",
        "| rule | what it does | applied to |",
        "|---|---|---|",
    ]
    for rule in RULES.values():
        applied = [
            f"{r.schema}.{r.table}.{r.column}" for r in rows if r.deidentification == rule.meaning
        ]
        lines.append(
            f"| {rule.name} | {_cell(rule.meaning)} | {_cell(', '.join(applied) or 'none')} |"
        )
    current = None
    for row in rows:
        if (row.schema, row.table) != current:
            current = (row.schema, row.table)
            lines += ["", f"## {row.schema}.{row.table}", "", "| " + " | ".join(names[2:]) + " |"]
            lines.append("|" + "---|" * len(names[2:]))
        lines.append("| " + " | ".join(_cell(getattr(row, n)) for n in names[2:]) + " |")
    return "\n".join(lines) + "\n"
