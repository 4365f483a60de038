"""The erasure of one patient of one centre from the warehouse, in one transaction.

Every raw table of the centre (all deliveries, history included) loses the patient's rows; the
ledger keeps what each file delivered (``rows_read``) and adds how many of those rows were
erased (``rows_erased``), so it stays honest about history and the reconciliation still
balances; ledger messages that name the patient id (a held delivery lists dropped patients) name
an erased patient instead; ``raw.delivery_patient_changes`` loses the patient. Every other table
(``restricted``, ``intermediate``, ``mart``, ``quality``, ``analysis``, ``history``) loses the
rows of the patient's ``patient_key`` or centre patient id, until the rebuild that follows makes
them again without the patient. The patient joins the exclusion list and the erasure is
recorded in ``history.erasures`` (pseudonymous key, time, OS user, rows per table, file hashes).
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from dataclasses import dataclass, field

import duckdb

from cartwh.erasure.exclusions import EXCLUSIONS, ensure_exclusions, has_exclusion_list, seal
from cartwh.exitcodes import ExitCode
from cartwh.ingest.ledger import ensure_raw_schema, raw_table_name
from cartwh.ingest.mapping import CentreMapping
from cartwh.warehouse import quoted_name, run

AUDIT = "history.erasures"

AUDIT_DDL = f"""
create schema if not exists history;
create table if not exists {AUDIT} (
    erasure_id varchar not null,
    erased_at timestamp with time zone not null,
    erased_by varchar not null,
    centre_code varchar not null,
    patient_key varchar not null,
    rows_removed varchar not null,   -- JSON: table -> rows deleted
    rows_total bigint not null,
    sha256_before varchar not null,  -- the warehouse file before the erasure
    sha256_after varchar             -- the rewritten file, before this column was set
);
"""

CROSSWALK = "restricted.patient_crosswalk"
#: the key function registered on the erasing connection
KEY_FUNCTION = "cartwh_erase_key"
#: what a ledger message says instead of an erased patient's id
ERASED_MARK = "[erased patient]"

#: base tables outside raw with a column of that name (the exclusion list and audit excepted)
_TABLES_WITH = """
select c.table_schema, c.table_name,
    bool_or(c2.column_name = 'centre_code') as has_centre
from information_schema.columns c
join information_schema.tables t using (table_catalog, table_schema, table_name)
left join information_schema.columns c2
    on c2.table_catalog = c.table_catalog and c2.table_schema = c.table_schema
    and c2.table_name = c.table_name and c2.column_name = 'centre_code'
where c.column_name = ? and t.table_type = 'BASE TABLE' and c.table_schema <> 'raw'
  and c.table_catalog = current_database()
  and (c.table_schema || '.' || c.table_name) not in ('restricted.erased_patients',
                                                      'history.erasures')
group by all order by all
"""


class ErasureError(RuntimeError):
    """An erasure that cannot be done; nothing was changed. The message says why and what to do."""

    def __init__(self, message: str, exit_code: ExitCode = ExitCode.USAGE):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Erasure:
    """What one erasure removed.

    Attributes
    ----------
    erasure_id : str
        The audit row's id.
    centre_code, patient_key : str
        Who was erased (pseudonymously).
    rows_removed : dict of str to int
        Rows deleted per table (``schema.table``), tables without rows of the patient left out.
    identifiers : list of str
        The centre's patient id, names and MRNs as delivered: kept in memory only, to search the
        files beside the warehouse for them after the rebuild.
    """

    erasure_id: str
    centre_code: str
    patient_key: str
    rows_removed: dict[str, int] = field(default_factory=dict)
    identifiers: list[str] = field(default_factory=list)

    @property
    def rows_total(self) -> int:
        return sum(self.rows_removed.values())


def operator() -> str:
    """The OS user running the erasure."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def check_key(conn: duckdb.DuckDBPyConnection) -> None:
    """Refuse unless every crosswalk key is the HMAC of its patient under the registered key."""
    from cartwh.rekey import crosswalk_keys_differing

    checked = crosswalk_keys_differing(conn, KEY_FUNCTION)
    if checked is None:
        raise ErasureError(f"the warehouse has no {CROSSWALK}: run `cartwh refresh` first")
    patients, wrong = checked
    if wrong:
        raise ErasureError(
            f"CARTWH_SECRET is not the key this warehouse was pseudonymised with ({wrong} of "
            f"{patients} crosswalk keys differ): set CARTWH_SECRET to the warehouse's key"
        )


def _existing_raw_tables(conn) -> set[str]:
    return {
        name
        for (name,) in run(
            conn,
            "select table_name from information_schema.tables "
            "where table_schema = 'raw' and table_type = 'BASE TABLE'",
        )
    }


def _raw_sources(conn, mapping: CentreMapping) -> list[tuple[str, str, str]]:
    """(raw table, entity, patient id column) of every entity of the centre with a table."""
    existing = _existing_raw_tables(conn)
    found = []
    for entity, entity_mapping in mapping.entities.items():
        table = raw_table_name(mapping.centre_code, entity)
        id_column = entity_mapping.columns.get("centre_patient_id")
        if table in existing and id_column is not None and id_column.source:
            found.append((table, entity, id_column.source))
    return found


def _identifiers(conn, mapping: CentreMapping, match: str, patient_id: str) -> list[str]:
    """The patient id and every name and MRN the patient was delivered with (``match``: the
    condition on the id column, ``{column}`` left to fill)."""
    patients = mapping.entities.get("patients")
    table = raw_table_name(mapping.centre_code, "patients")
    values = {patient_id.strip()}
    if patients is None or table not in _existing_raw_tables(conn):
        return sorted(values)
    own_rows = match.format(column=quoted_name(patients.columns["centre_patient_id"].source))
    for column in ("full_name", "mrn"):
        source = patients.columns.get(column)
        if source is None or not source.source:
            continue
        value = quoted_name(source.source)
        values |= {
            found.strip()
            for (found,) in run(
                conn,
                f'select distinct {value} from raw."{table}" where {own_rows} '
                f"and nullif(trim({value}), '') is not null",
            )
        }
    return sorted(values)


def erase_patient(
    conn: duckdb.DuckDBPyConnection,
    secret: str,
    mapping: CentreMapping,
    patient_id: str,
    sha256_before: str,
) -> Erasure:
    """Erase ``patient_id`` of ``mapping``'s centre from the warehouse on ``conn``.

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        A read-write connection (the caller holds the writers' lock).
    secret : str
        ``CARTWH_SECRET``, checked against the crosswalk first.
    mapping : CentreMapping
        The centre's mapping: which raw column of each entity holds the patient id.
    patient_id : str
        The centre's patient id.
    sha256_before : str
        The warehouse file's sha256 before the erasure (for the audit).

    Returns
    -------
    Erasure
        What was removed.

    Raises
    ------
    ErasureError
        No crosswalk, a wrong key, or no such patient (nothing changed).
    """
    from cartwh.transform.plugin import patient_key, register_patient_key

    centre = mapping.centre_code
    register_patient_key(conn, secret, KEY_FUNCTION)
    check_key(conn)
    key = patient_key(secret, centre, patient_id)
    match = f"{KEY_FUNCTION}('{centre}', {{column}}) = '{key}'"
    sources = _raw_sources(conn, mapping)
    raw_rows = {
        table: run(
            conn, f'select count(*) from raw."{table}" where {match.format(column=quoted_name(c))}'
        )[0][0]
        for table, _, c in sources
    }
    in_crosswalk = run(conn, f"select count(*) from {CROSSWALK} where patient_key = ?", [key])[0][0]
    if not any(raw_rows.values()) and not in_crosswalk:
        raise ErasureError(_not_found(conn, centre, patient_id, key))
    erasure = Erasure(uuid.uuid4().hex, centre, key)
    erasure.identifiers = _identifiers(conn, mapping, match, patient_id)
    ensure_raw_schema(conn)  # a ledger of an older version gains rows_erased
    run(conn, "begin transaction")
    try:
        ensure_exclusions(conn)
        run(conn, AUDIT_DDL)
        run(
            conn,
            f"insert into {EXCLUSIONS} select ?, ?, ?, now() where not exists "
            f"(select 1 from {EXCLUSIONS} where centre_code = ? and patient_key = ?)",
            [centre, key, seal(secret, patient_id), centre, key],
        )
        for table, _, column in sources:
            if raw_rows[table]:
                _erase_raw_table(conn, centre, table, match.format(column=quoted_name(column)))
                erasure.rows_removed[f"raw.{table}"] = raw_rows[table]
        _erase_ledger_traces(conn, erasure, patient_id)
        _erase_derived(conn, erasure, patient_id)
        run(
            conn,
            f"insert into {AUDIT} values (?, now(), ?, ?, ?, ?, ?, ?, null)",
            [
                erasure.erasure_id,
                operator(),
                centre,
                key,
                json.dumps(erasure.rows_removed, sort_keys=True),
                erasure.rows_total,
                sha256_before,
            ],
        )
        run(conn, "commit")
    except BaseException:
        run(conn, "rollback")
        raise
    run(conn, "checkpoint")
    return erasure


def _not_found(conn, centre: str, patient_id: str, key: str) -> str:
    if has_exclusion_list(conn):
        erased = run(
            conn,
            f"select max(erased_at) from {EXCLUSIONS} where centre_code = ? and patient_key = ?",
            [centre, key],
        )[0][0]
        if erased is not None:
            return (
                f"patient {patient_id} of centre {centre} was already erased "
                f"({erased:%Y-%m-%d %H:%M %Z}; see {AUDIT}): nothing to do"
            )
    return (
        f"centre {centre} has no patient {patient_id} in the warehouse (no raw row of any "
        "delivery, not in the crosswalk): check the id as the centre delivers it; nothing "
        "was changed"
    )


def _erase_raw_table(conn, centre: str, table: str, condition: str) -> None:
    """Delete the rows; each ledger row of a file they came from counts them as erased."""
    run(
        conn,
        "update raw.deliveries d set rows_erased = coalesce(d.rows_erased, 0) + e.n "
        f'from (select _delivery_id, _source_file, count(*) as n from raw."{table}" '
        f"where {condition} group by all) e "
        "where d.centre_code = ? and d.delivery_id = e._delivery_id "
        "and d.source_file = e._source_file and d.status in ('loaded', 'held', 'withdrawn')",
        [centre],
    )
    run(conn, f'delete from raw."{table}" where {condition}')


def _id_pattern(patient_id: str) -> str:
    """A regular expression for the id as a whole word of a message."""
    import re

    return r"(^|[^0-9A-Za-z])" + re.escape(patient_id.strip()) + r"($|[^0-9A-Za-z])"


def _erase_ledger_traces(conn, erasure: Erasure, patient_id: str) -> None:
    """The patient's rows of raw.delivery_patient_changes; the id in ledger messages."""
    changes = run(
        conn,
        "delete from raw.delivery_patient_changes where centre_code = ? "
        "and trim(centre_patient_id) = ?",
        [erasure.centre_code, patient_id.strip()],
    )[0][0]
    if changes:
        erasure.rows_removed["raw.delivery_patient_changes"] = changes
    pattern = _id_pattern(patient_id)
    run(
        conn,
        "update raw.deliveries set message = regexp_replace(message, ?, ?, 'g') "
        "where centre_code = ? and regexp_matches(message, ?)",
        [pattern, rf"\1{ERASED_MARK}\2", erasure.centre_code, pattern],
    )


def _erase_derived(conn, erasure: Erasure, patient_id: str) -> None:
    """The patient's rows in every table outside raw, by patient_key or centre patient id."""
    for schema, table, _ in run(conn, _TABLES_WITH, ["patient_key"]):
        deleted = run(
            conn, f'delete from "{schema}"."{table}" where patient_key = ?', [erasure.patient_key]
        )[0][0]
        if deleted:
            erasure.rows_removed[f"{schema}.{table}"] = deleted
    for schema, table, has_centre in run(conn, _TABLES_WITH, ["centre_patient_id"]):
        where = "trim(centre_patient_id) = ?" + (" and centre_code = ?" if has_centre else "")
        params = [patient_id.strip()] + ([erasure.centre_code] if has_centre else [])
        deleted = run(conn, f'delete from "{schema}"."{table}" where {where}', params)[0][0]
        if deleted:
            name = f"{schema}.{table}"
            erasure.rows_removed[name] = erasure.rows_removed.get(name, 0) + deleted


def record_after(conn: duckdb.DuckDBPyConnection, erasure_id: str, sha256_after: str) -> None:
    """The rewritten file's sha256 into the audit row."""
    run(
        conn,
        f"update {AUDIT} set sha256_after = ? where erasure_id = ?",
        [sha256_after, erasure_id],
    )
    run(conn, "checkpoint")
