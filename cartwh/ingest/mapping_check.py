"""``cartwh mapping check``: dry-run a mapping file on a delivery, before anything loads.

The dry run takes the code path of a refresh on the delivery given: the real loader loads it
into an in-memory DuckDB, :func:`cartwh.transform.codegen.entity_spec` builds the staging spec
of each entity, and the staging macros of dbt (``stage_text``/``stage_column`` of
``macros/staging/stage_entity.sql``, rendered with Jinja) parse the raw text, wide layouts
reshaped as ``wide_to_long`` does. Everything that would quarantine rows (unknown codes,
unparsable numbers and dates, required values missing, values out of range, lab units without
a conversion) or stop the refresh (missing columns, an unusable mapping) is a *problem*, with
counts per column and examples (never values of PHI columns); unmapped columns and files are
*notes*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb

from cartwh.ingest import ensure_centre_tables, load_delivery, raw_table_name
from cartwh.ingest.discovery import DeliveryFolder
from cartwh.ingest.mapping import CentreMapping, load_mapping_file
from cartwh.project import DBT_PROJECT_DIR, unit_conversions
from cartwh.transform.codegen import entity_spec
from models.extract_format import ENTITIES

STAGING_MACROS = DBT_PROJECT_DIR / "macros" / "staging" / "stage_entity.sql"
EXAMPLES = 3


@dataclass
class Finding:
    entity: str
    kind: str  # rejected | missing_file | missing_column | unmapped_column | required_not_mapped
    #           | unknown_code | unparsable | required_missing | out_of_range | unit_problem
    #           | no_index_infusion | staging_error | unmapped_file
    detail: str
    blocking: bool = True

    def __str__(self) -> str:
        return f"[{self.kind}] {self.entity}: {self.detail}"


class _Adapter:
    """What the staging macros ask of dbt's adapter."""

    @staticmethod
    def quote(identifier: str) -> str:
        return f'"{identifier}"'


@lru_cache(maxsize=1)
def staging_macros():
    """dbt's staging macros, rendered by plain Jinja (they use nothing else of dbt)."""
    import jinja2

    environment = jinja2.Environment(extensions=["jinja2.ext.do"])
    environment.globals["adapter"] = _Adapter()
    return environment.from_string(STAGING_MACROS.read_text(encoding="utf-8")).module


def _sql_text(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _columns(conn, table: str) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'raw' "
            "and table_name = ? and column_name not like '\\_%' escape '\\' "
            "order by ordinal_position",
            [table],
        ).fetchall()
    ]


def _typed_sql(spec: dict, source_rows: str) -> str:
    """The ``typed`` step of ``stage_entity``: every column parsed, with its text beside it."""
    macros = staging_macros()
    parts = []
    for column in spec["columns"]:
        text = (
            "cast(_wide_date as varchar)"
            if spec["wide"] and column["name"] == spec["wide_date_column"]
            else str(macros.stage_text(column))
        )
        parts.append(f'{macros.stage_column(column, spec)} as "{column["name"]}"')
        parts.append(f'{text} as "{column["name"]}__text"')
    return f"select {', '.join(parts)} from ({source_rows})"


def _wide_source_rows(conn, spec: dict, table: str, present: list[str], index_sql: str) -> str:
    """The ``source_rows`` of ``wide_to_long``: one row per source row and study day."""
    wide = spec["wide"]
    cells = [c for c in present if re.match(wide["pattern"], c)]
    if not cells:
        return f'select *, cast(null as date) as _wide_date from raw."{table}" where false'
    pattern = _sql_text(wide["pattern"])
    id_source = wide["id_source"]
    measures = ", ".join(
        f'any_value(_wide_value) filter (where _measure = {_sql_text(m)}) as "{m}"'
        for m in wide["measures"]
    )
    return f"""
        with cells as (
            unpivot raw."{table}" on {", ".join(f'"{c}"' for c in cells)}
            into name _wide_column value _wide_value
        ),
        measured as (
            select *,
                regexp_extract(_wide_column, {pattern}, {wide["measure_group"]}) as _measure,
                try_cast(regexp_extract(_wide_column, {pattern}, {wide["day_group"]})
                    as integer) as _source_day
            from cells where trim(_wide_value) <> ''
        )
        select _source_file, _row_number, _source_day, any_value("{id_source}") as "{id_source}",
            {measures + "," if measures else ""}
            any_value(index_infusion.infusion_date) + _source_day as _wide_date
        from measured left join ({index_sql}) as index_infusion
            on trim(measured."{id_source}") = index_infusion.centre_patient_id
        group by _source_file, _row_number, _source_day
    """


def _examples(conn, sql: str, condition: str, text: str) -> tuple[int, str]:
    rows = conn.execute(
        f'select "{text}", count(*) from ({sql}) where {condition} group by 1 order by 2 desc, 1'
    ).fetchall()
    count = sum(n for _, n in rows)
    shown = ", ".join(f"{v!r} x{n}" for v, n in rows[:EXAMPLES])
    more = f" and {len(rows) - EXAMPLES} more values" if len(rows) > EXAMPLES else ""
    return count, shown + more


def _value_findings(conn, spec: dict, typed: str, entity: str, missing: set) -> list[Finding]:
    [(total,)] = conn.execute(f"select count(*) from ({typed})").fetchall()
    findings: list[Finding] = []
    for column in spec["columns"]:
        if column["name"] in missing:  # reported as a missing column: every row has no value
            continue
        findings += _column_findings(conn, spec, column, typed, total, entity)
    return findings


def _column_findings(conn, spec, column, typed, total, entity) -> list[Finding]:
    findings: list[Finding] = []
    name, text = column["name"], f"{column['name']}__text"
    label = f"{name} <- {column['source']!r}" if column["source"] else name

    def report(kind: str, condition: str, what: str, examples: bool = True) -> None:
        count, shown = _examples(conn, typed, condition, text)
        if not count:
            return
        if not examples:
            shown = ""
        elif column["phi"]:
            shown = " (values not shown: PHI)"
        else:
            shown = f": {shown}"
        findings.append(Finding(entity, kind, f"{label}: {count} of {total} rows {what}{shown}"))

    failed = f'"{text}" is not null and "{name}" is null'
    if spec["wide"] and name == spec["wide_date_column"]:
        report(
            "no_index_infusion",
            f'"{text}" is null',
            "cannot be dated: the patient has no index infusion in this delivery",
            examples=False,
        )
        return findings
    if column["required"] and (column["source"] is not None or column["value"] is not None):
        report("required_missing", f'"{text}" is null', "have no value (required)", False)
    if column["dtype"] == "code":
        codes = "the codes of the mapping" if column["codes"] else column["canonical_codes"]
        report("unknown_code", failed, f"have a value not in {codes}")
    elif column["dtype"] == "date":
        excel = " (nor an Excel date cell)" if column["excel"] else ""
        report("unparsable", failed, f"are not dates in format {column['date_format']!r}{excel}")
    elif column["dtype"] in ("decimal", "integer"):
        thousands = "none" if column["thousands"] == "none" else repr(column["thousands"])
        marks = (
            "Excel numbers (numeric cells, or text with decimal mark '.')"
            if column["excel"]
            else f"numbers with decimal mark {column['decimal']!r} and thousands mark {thousands}"
        )
        whole = " (whole numbers)" if column["dtype"] == "integer" else ""
        report("unparsable", failed, f"are not {marks}{whole}")
    bounds = []
    if column["minimum"] is not None:
        bounds.append(
            f'"{name}" {"<=" if column["minimum_exclusive"] else "<"} {column["minimum"]}'
        )
    if column["maximum"] is not None:
        bounds.append(f'"{name}" > {column["maximum"]}')
    if bounds:
        report("out_of_range", " or ".join(bounds), "are out of the contract's range")
    return findings


def _check_entity(conn, mapping: CentreMapping, entity: str, units, present) -> list[Finding]:
    """Findings of one entity; ``present``: the columns of its delivered file(s)."""
    findings: list[Finding] = []
    entity_mapping = mapping.entities[entity]
    table = raw_table_name(mapping.centre_code, entity)
    wide = entity_mapping.wide
    pattern = re.compile(wide.pattern) if wide else None
    measures_present = (
        {pattern.match(c).group("measure") for c in present if pattern.match(c)} if wide else set()
    )
    referenced = set()
    missing = set()
    for name in ENTITIES[entity].column_names:
        column = entity_mapping.columns.get(name)
        canonical = ENTITIES[entity].column(name)
        if column is None:
            date_from_wide = wide and name == ENTITIES[entity].date_column
            if canonical.required and not date_from_wide:
                findings.append(Finding(entity, "required_not_mapped", f"{name} has no source"))
            continue
        if column.source is None:
            continue
        referenced.add(column.source)
        if column.source not in present and column.source not in measures_present:
            missing.add(name)
            findings.append(
                Finding(
                    entity,
                    "missing_column",
                    f"{name} <- {column.source!r}: not in the delivered file"
                    + (
                        " (a required column: the delivery is rejected)"
                        if canonical.required
                        else ""
                    ),
                )
            )
    for column in present:
        if column in referenced or (pattern and pattern.match(column)):
            continue
        findings.append(
            Finding(
                entity, "unmapped_column", f"{column!r} is not mapped (ignored)", blocking=False
            )
        )
    spec = entity_spec(mapping, entity, units)
    if wide:
        source_rows = _wide_source_rows(
            conn, spec, table, present, _index_infusions(mapping, units)
        )
    else:
        source_rows = f'select * from raw."{table}"'
    typed = _typed_sql(spec, source_rows)
    try:
        findings += _value_findings(conn, spec, typed, entity, missing)
        if entity == "labs":
            findings += _lab_units(conn, typed, units)
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        findings.append(Finding(entity, "staging_error", f"staging fails: {message}"))
    return findings


def _index_infusions(mapping: CentreMapping, units) -> str:
    """First infusions of the delivery's patients, staged (what a wide layout is dated by)."""
    if "infusions" not in mapping.entities or mapping.entities["infusions"].wide:
        return (
            "select cast(null as varchar) as centre_patient_id, cast(null as date) as "
            "infusion_date where false"
        )
    spec = entity_spec(mapping, "infusions", units)
    typed = _typed_sql(spec, f'select * from raw."{spec["source_table"]}"')
    return f"select centre_patient_id, infusion_date from ({typed}) where infusion_number = 1"


def _lab_units(conn, typed: str, units) -> list[Finding]:
    pairs = conn.execute(
        f"select analyte, unit, count(*) from ({typed}) where analyte is not null "
        "group by 1, 2 order by 1, 2"
    ).fetchall()
    findings = []
    for analyte, unit, count in pairs:
        if (analyte, unit) in units:
            continue
        available = ", ".join(sorted(u for (a, u) in units if a == analyte))
        findings.append(
            Finding(
                "labs",
                "unit_problem",
                f"no conversion for {analyte!r} in {unit!r} ({count} rows); "
                f"units of {analyte}: {available}",
            )
        )
    return findings


def check_mapping(
    mapping_file: Path, delivery_dir: Path, private_tmp: Path
) -> tuple[CentreMapping, list[Finding]]:
    """Findings of a mapping file on a delivery folder, loaded into an in-memory DuckDB.

    ``private_tmp``: the warehouse's private temporary folder (``Settings.private_tmp``), where
    a file in an encoding DuckDB lacks is transcoded (never the shared temporary folder).
    """
    mapping = load_mapping_file(mapping_file)
    delivery = DeliveryFolder(mapping.centre_code, delivery_dir.name, delivery_dir)
    units = unit_conversions()
    conn = duckdb.connect()
    try:
        result = load_delivery(conn, delivery, mapping, private_tmp=private_tmp, dry_run=True)
        if result.status == "rejected":
            return mapping, [Finding("delivery", "rejected", result.message)]
        delivered = {
            e: _columns(conn, raw_table_name(mapping.centre_code, e)) for e in mapping.entities
        }
        ensure_centre_tables(conn, mapping)  # as the refresh does: crashes here are its crashes
        findings: list[Finding] = []
        missing = dict(
            conn.execute(
                "select entity, message from raw.deliveries where status = 'missing'"
            ).fetchall()
        )
        for entity in mapping.entities:
            if entity in missing:
                findings.append(Finding(entity, "missing_file", missing[entity], blocking=False))
                continue
            findings += _check_entity(conn, mapping, entity, units, delivered[entity])
        for (name,) in conn.execute(
            "select source_file from raw.deliveries where status = 'ignored'"
        ).fetchall():
            findings.append(
                Finding(
                    "delivery", "unmapped_file", f"{name} is claimed by no entity", blocking=False
                )
            )
    finally:
        conn.close()
    return mapping, findings
