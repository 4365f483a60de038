"""HIPAA Safe Harbor de-identification of the analyst package: the rules, where they apply, and
the check that no date of care is published by mistake.

Every published column goes through :func:`published_columns`, which reads the columns from
``information_schema`` (never a hand list): a column of DATE or TIMESTAMP type that no rule
transforms and :data:`ALLOWED_DATES` does not allow stops the publication, so a new mart
date column cannot leak. The mart itself already counts days from the index infusion (dbt),
so most rules here guard the few places where a date or an old age can still appear.
"""

from __future__ import annotations

from dataclasses import dataclass

from cartwh.warehouse import quoted_name
from models.extract_format import ENTITIES

#: schemas of the analyst package, in the order they are written
PUBLISHED_SCHEMAS = ("mart", "analysis", "quality")
#: ages above this are published as :data:`AGE_TOP_CODE`
OLDEST_AGE_SHOWN = 89
AGE_TOP_CODE = 90
#: what replaces a date inside text
DATE_MASK = "[date]"

#: dates written as text: 2021-03-04, 2021/3/4, 04.03.2021, 4/3/21, 20210304 (RE2 syntax)
DATE_IN_TEXT = (
    r"\b(19|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])\b"
    r"|\b(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2])[-/.]((19|20)\d\d|\d\d)\b"
    r"|\b(19|20)\d\d(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\b"
)
#: a number of 90 or more not inside a decimal (RE2 has no look-behind: group 1 keeps the
#: character before it)
AGE_ABOVE_89_IN_TEXT = r"(^|[^\d.,])(9\d|[1-9]\d\d+)(\.\d+)?"

#: the canonical date columns of the deliveries: their raw values never leave the warehouse
DATE_COLUMNS = tuple(
    sorted({c.name for e in ENTITIES.values() for c in e.columns if c.dtype == "date"})
)


class PublishError(RuntimeError):
    """The package cannot be published as it is; the message names the column and the fix."""


@dataclass(frozen=True)
class Rule:
    """A de-identification rule: its name and what it does, in words (for the codebook)."""

    name: str
    meaning: str


RULES: dict[str, Rule] = {
    rule.name: rule
    for rule in (
        Rule(
            "day_offset",
            "a date of care is published as whole days since the patient's index infusion "
            "(day 0), named <name>_day instead of <name>_date; the date itself is dropped",
        ),
        Rule(
            "age_top_coded",
            f"ages above {OLDEST_AGE_SHOWN} are published as {AGE_TOP_CODE} "
            f"(code {AGE_TOP_CODE} = {AGE_TOP_CODE} or older)",
        ),
        Rule(
            "age_statistics_top_coded",
            f"age statistics (median, range) above {OLDEST_AGE_SHOWN} are published as "
            f"{AGE_TOP_CODE}, and as '{AGE_TOP_CODE}+' in text",
        ),
        Rule(
            "raw_date_withheld",
            "the delivered value of a date column is withheld (null), and every date written "
            f"in the text is replaced by '{DATE_MASK}'",
        ),
        Rule(
            "dates_in_text_masked",
            f"every date written in the text is replaced by '{DATE_MASK}'",
        ),
        Rule(
            "not_a_date_of_care",
            "kept: when the refresh ran or the study's cut-off, not a date of a patient's care",
        ),
    )
}


def _dates_masked(sql: str) -> str:
    return f"regexp_replace({sql}, '{DATE_IN_TEXT}', '{DATE_MASK}', 'g')"


def _raw_dates(column: str) -> str:
    return "column_name in (" + ", ".join(f"'{c}'" for c in DATE_COLUMNS) + ")"


def _age_text(column: str, rows: str) -> str:
    return (
        f"case when {rows} then regexp_replace({column}, '{AGE_ABOVE_89_IN_TEXT}', "
        f"'\\1{AGE_TOP_CODE}+', 'g') else {column} end"
    )


def _age_top_coded(column: str) -> str:
    # not least(): it skips nulls, and an unknown age would become 90
    return f"case when {column} > {OLDEST_AGE_SHOWN} then {AGE_TOP_CODE} else {column} end"


def _age_number(column: str, rows: str) -> str:
    return f"case when {rows} then {_age_top_coded(column)} else {column} end"


_AGE_ROWS = "variable = 'age_at_infusion'"

#: (schema, table, column) -> (rule, SQL of the published value; ``{c}`` is the quoted column)
TRANSFORMATIONS: dict[tuple[str, str, str], tuple[str, str]] = {
    ("mart", "patient_outcomes", "age_at_infusion"): (
        "age_top_coded",
        _age_top_coded("{c}"),
    ),
    **{
        ("analysis", "characteristics", column): (
            "age_statistics_top_coded",
            _age_number("{c}", _AGE_ROWS),
        )
        for column in ("median", "minimum", "maximum")
    },
    ("analysis", "characteristics", "value"): (
        "age_statistics_top_coded",
        _age_text("{c}", _AGE_ROWS),
    ),
    **{
        ("quality", table, "value"): (
            "raw_date_withheld",
            f"case when {_raw_dates('column_name')} then null else {_dates_masked('{c}')} end",
        )
        for table in ("quarantine", "nulled_fields")
    },
    **{
        ("quality", table, "message"): (
            "raw_date_withheld",
            _dates_masked(
                f"case when {_raw_dates('column_name')} and value is not null "
                f"then replace({{c}}, value, '{DATE_MASK}') else {{c}} end"
            ),
        )
        for table in ("quarantine", "nulled_fields")
    },
    **{
        ("quality", "plausibility_findings", column): (
            "dates_in_text_masked",
            _dates_masked("{c}"),
        )
        for column in ("value", "detail")
    },
}

#: the patients' index infusions: (table, date column), keyed by patient_key
INDEX_INFUSIONS = ("intermediate.int_index_infusions", "infusion_date")
#: dates of care published under rule ``day_offset``: (schema, table, column). The mart counts
#: days from the index infusion itself (dbt), so none is needed today; a new date column of a
#: table with ``patient_key`` goes here (or the publication stops, see :func:`published_columns`)
DAY_OFFSETS: frozenset[tuple[str, str, str]] = frozenset()

#: DATE/TIMESTAMP columns that are not dates of care: (schema, table, column)
ALLOWED_DATES: frozenset[tuple[str, str, str]] = frozenset(
    {
        ("analysis", "provenance", "generated_at"),
        ("analysis", "provenance", "cutoff"),
    }
)

#: text cells of the printed Table 1 that hold age statistics: every column but these
_TABLE1_LABEL_COLUMNS = ("Characteristic", "variable", "row_type")


@dataclass(frozen=True)
class PublishedColumn:
    """A column of the package: where it comes from and the SQL that de-identifies it."""

    schema: str
    table: str
    name: str
    source_name: str
    data_type: str
    sql: str
    rule: str | None = None


def _is_date_type(data_type: str) -> bool:
    return data_type.upper().startswith(("DATE", "TIMESTAMP", "TIME"))


def published_columns(conn, source_schemas: dict[str, str] | None = None) -> list[PublishedColumn]:
    """Every column the package publishes, with its de-identifying SQL.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        A connection whose own database is the warehouse.
    source_schemas : dict, optional
        Published schema -> the warehouse schema it is read from (default: the same name;
        the refresh checks its staged ``analysis_next`` before it publishes it).

    Raises
    ------
    PublishError
        For a DATE/TIMESTAMP column without a rule, naming it and the fix.
    """
    sources = {s: (source_schemas or {}).get(s, s) for s in PUBLISHED_SCHEMAS}
    rows = conn.execute(
        "select c.table_schema, c.table_name, c.column_name, c.data_type "
        "from information_schema.columns c join information_schema.tables t "
        "using (table_catalog, table_schema, table_name) "
        "where t.table_type = 'BASE TABLE' and c.table_catalog = current_database() "
        f"and c.table_schema in ({', '.join('?' for _ in sources)}) "
        "order by c.table_schema, c.table_name, c.ordinal_position",
        list(sources.values()),
    ).fetchall()
    published = {source: schema for schema, source in sources.items()}
    columns = [
        _column(published[source], table, name, data_type)
        for source, table, name, data_type in rows
    ]
    leaks = [c for c in columns if _is_date_type(c.data_type) and c.rule is None]
    if leaks:
        named = ", ".join(f"{c.schema}.{c.table}.{c.source_name} ({c.data_type})" for c in leaks)
        raise PublishError(
            f"{named}: a date column with no de-identification rule cannot be published to the "
            "analyst package; list it in DAY_OFFSETS of cartwh/analyst/deidentify.py (days since "
            "the index infusion) or, if it is not a date of care, in ALLOWED_DATES"
        )
    return columns


def _column(schema: str, table: str, name: str, data_type: str) -> PublishedColumn:
    key = (schema, table, name)
    if key in TRANSFORMATIONS:
        rule, template = TRANSFORMATIONS[key]
        return PublishedColumn(
            schema, table, name, name, data_type, template.format(c=quoted_name(name)), rule
        )
    if schema == "analysis" and table == "table1" and name not in _TABLE1_LABEL_COLUMNS:
        if not name.endswith("p-value"):
            sql = _age_text(quoted_name(name), _AGE_ROWS + " and row_type <> 'footnote'")
            return PublishedColumn(
                schema, table, name, name, data_type, sql, "age_statistics_top_coded"
            )
    if key in DAY_OFFSETS:
        published, sql = day_offset(name)
        return PublishedColumn(schema, table, published, name, data_type, sql, "day_offset")
    if key in ALLOWED_DATES:
        return PublishedColumn(
            schema, table, name, name, data_type, quoted_name(name), "not_a_date_of_care"
        )
    return PublishedColumn(schema, table, name, name, data_type, quoted_name(name))


def day_offset(column: str, index: tuple[str, str] = INDEX_INFUSIONS) -> tuple[str, str]:
    """The published name and SQL of a date of care under rule ``day_offset``:
    ``death_date`` -> ``death_day``, the whole days since the patient's index infusion.

    Parameters
    ----------
    column : str
        The date column, of a table with ``patient_key`` (read as ``src``, see
        :func:`select_sql`).
    index : (str, str)
        The table of index infusions (one row per ``patient_key``) and its date column.
    """
    table, date_column = index
    date = quoted_name(date_column)
    index_date = f"(select i.{date} from {table} i where i.patient_key = src.patient_key)"
    return (
        column.removesuffix("_date") + "_day",
        f"date_diff('day', {index_date}, src.{quoted_name(column)})",
    )


def select_sql(columns: list[PublishedColumn], source: str) -> str:
    """``select <de-identified columns> from <source>``, each under its published name."""
    listed = ", ".join(f"{c.sql} as {quoted_name(c.name)}" for c in columns)
    return f"select {listed} from {source} as src"
