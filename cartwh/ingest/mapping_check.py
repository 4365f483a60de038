"""``cartwh mapping check``: dry-run a mapping file on a delivery, before anything loads.

The delivery is loaded into an in-memory DuckDB with the real loader, then
each entity is compared with the mapping: missing and unmapped columns,
unmapped required canonical columns, unknown code values, values that do not
parse with the declared date format or decimal mark, and lab units without a
conversion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from cartwh.ingest import load_delivery, raw_table_name
from cartwh.ingest.discovery import DeliveryFolder
from cartwh.ingest.mapping import CentreMapping, load_mapping_file
from cartwh.project import unit_conversions
from models.extract_format import ENTITIES


@dataclass
class Finding:
    entity: str
    kind: str  # rejected | missing_file | missing_column | unmapped_column | required_not_mapped
    #           | unknown_code | unparsable | unit_problem
    detail: str
    blocking: bool = True

    def __str__(self) -> str:
        return f"[{self.kind}] {self.entity}: {self.detail}"


def _sql_list(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) or "NULL"


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


def _check_entity(conn, mapping: CentreMapping, entity: str, units) -> list[Finding]:
    findings: list[Finding] = []
    entity_mapping = mapping.entities[entity]
    settings = mapping.settings(entity)
    table = raw_table_name(mapping.centre_code, entity)
    present = _columns(conn, table)
    wide = entity_mapping.wide
    pattern = re.compile(wide.pattern) if wide else None
    measures_present = (
        {pattern.match(c).group("measure") for c in present if pattern.match(c)} if wide else set()
    )
    referenced = set()
    for name in ENTITIES[entity].column_names:
        column = entity_mapping.columns.get(name)
        canonical = ENTITIES[entity].column(name)
        if column is None:
            date_from_wide = wide and name == _date_column(entity)
            if canonical.required and not date_from_wide:
                findings.append(Finding(entity, "required_not_mapped", f"{name} has no source"))
            continue
        if column.source is None:
            continue
        referenced.add(column.source)
        in_file = column.source in present or column.source in measures_present
        if not in_file:
            findings.append(
                Finding(
                    entity,
                    "missing_column",
                    f"{name} <- {column.source!r}: not in the delivered file",
                )
            )
            continue
        if wide and column.source in measures_present:
            continue  # cell values of wide measures are checked by staging
        if canonical.dtype == "code":
            allowed = list(column.codes) if column.codes else list(canonical.codes)
            rows = conn.execute(
                f'select trim("{column.source}") as v, count(*) from raw."{table}" '
                f'where trim("{column.source}") not in ({_sql_list(settings.null_values)}) '
                f'and trim("{column.source}") not in ({_sql_list(allowed)}) '
                "group by 1 order by 2 desc"
            ).fetchall()
            for value, count in rows:
                findings.append(
                    Finding(
                        entity, "unknown_code", f"{name} <- {column.source!r}: {value!r} x{count}"
                    )
                )
        elif canonical.dtype == "date":
            fmt = column.date_format or settings.date_format
            parsed = {
                "iso": "try_strptime(v, '%Y-%m-%d')",
                "excel_serial": "try_cast(v as double)",
            }.get(fmt, f"try_strptime(v, '{fmt}')")
            [(bad, example)] = conn.execute(
                f'select count(*), any_value(v) from (select trim("{column.source}") as v '
                f'from raw."{table}") where v is not null and v not in '
                f"({_sql_list(settings.null_values)}) and {parsed} is null"
            ).fetchall()
            if bad:
                findings.append(
                    Finding(
                        entity,
                        "unparsable",
                        f"{name} <- {column.source!r}: {bad} values not in date format {fmt!r}",
                        blocking=False,
                    )
                )
        elif canonical.dtype in ("decimal", "integer"):
            decimal = column.decimal or settings.decimal
            expression = "replace(replace(v, '.', ''), ',', '.')" if decimal == "," else "v"
            [(bad,)] = conn.execute(
                f'select count(*) from (select trim("{column.source}") as v from raw."{table}") '
                f"where v is not null and v not in ({_sql_list(settings.null_values)}) "
                f"and try_cast({expression} as double) is null"
            ).fetchall()
            if bad:
                findings.append(
                    Finding(
                        entity,
                        "unparsable",
                        f"{name} <- {column.source!r}: "
                        f"{bad} values are not numbers with decimal mark "
                        f"{decimal!r}",
                        blocking=False,
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
    if entity == "labs":
        findings += _lab_units(conn, entity_mapping, settings, table, units)
    return findings


def _date_column(entity: str) -> str | None:
    return ENTITIES[entity].date_column


def _mapped(column, null_values) -> str:
    if column is None:
        return "cast(null as varchar)"
    if column.value is not None:
        return "'" + column.value.replace("'", "''") + "'"
    text = f'trim("{column.source}")'
    if not column.codes:
        return text
    cases = " ".join(
        f"when {_sql_list([k])} then {_sql_list([v])}" for k, v in column.codes.items()
    )
    return f"case {text} {cases} end"


def _lab_units(conn, entity_mapping, settings, table, units) -> list[Finding]:
    analyte = _mapped(entity_mapping.columns.get("analyte"), settings.null_values)
    unit = _mapped(entity_mapping.columns.get("unit"), settings.null_values)
    try:
        pairs = conn.execute(f'select distinct {analyte}, {unit} from raw."{table}"').fetchall()
    except duckdb.Error:
        return []
    return [
        Finding("labs", "unit_problem", f"no conversion for {a!r} in {u!r}")
        for a, u in pairs
        if a is not None and (a, u) not in units
    ]


def check_mapping(mapping_file: Path, delivery_dir: Path) -> tuple[CentreMapping, list[Finding]]:
    mapping = load_mapping_file(mapping_file)
    delivery = DeliveryFolder(mapping.centre_code, delivery_dir.name, delivery_dir)
    units = unit_conversions()
    conn = duckdb.connect()
    result = load_delivery(conn, delivery, mapping)
    if result.status == "rejected":
        return mapping, [Finding("delivery", "rejected", result.message)]
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
        findings += _check_entity(conn, mapping, entity, units)
    for (name,) in conn.execute(
        "select source_file from raw.deliveries where status = 'ignored'"
    ).fetchall():
        findings.append(
            Finding("delivery", "unmapped_file", f"{name} is claimed by no entity", blocking=False)
        )
    conn.close()
    return mapping, findings
