"""The exclusion list of erased patients, applied at the door of every load.

``restricted.erased_patients`` holds, per erased patient, the centre, the ``patient_key`` (the
HMAC pseudonym, :func:`cartwh.transform.plugin.patient_key`) and the centre's patient id
*sealed* under the key: encrypted with Fernet (``cryptography``) under a key derived from
``CARTWH_SECRET``. The HMAC alone cannot be re-keyed - re-keying needs the
id - so without the sealed id a key rotation (``cartwh rekey``) would turn the list into keys
that no later delivery matches, and the patient would come back. The sealed id is as
pseudonymous as the key itself: both need ``CARTWH_SECRET`` to be linked to a person.

A load of a centre with erased patients computes the key of every incoming row's patient id
(set-wise, one UDF call per batch) and inserts only rows whose key is not on the list; the rows
withheld are counted in the ledger (``raw.deliveries.rows_erased``).
"""

from __future__ import annotations

import base64
from pathlib import Path

import duckdb

from cartwh.warehouse import quoted_name, run

EXCLUSIONS = "restricted.erased_patients"

EXCLUSIONS_DDL = f"""
create schema if not exists restricted;
create table if not exists {EXCLUSIONS} (
    centre_code varchar not null,
    patient_key varchar not null,
    sealed_id varchar not null,
    erased_at timestamp with time zone not null
);
"""

#: the SQL name of the key function registered on a loading connection
DOOR_KEY_FUNCTION = "cartwh_erasure_key"


def _fernet(secret: str):
    """Fernet (AES-128-CBC with HMAC-SHA256, from ``cryptography``) keyed by HKDF from
    ``secret``: another key cannot read a sealed id, and says so instead of giving garbage."""
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"cartwh erasure seal v2"
    ).derive(secret.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret: str, centre_patient_id: str) -> str:
    """The patient id encrypted under ``secret``.

    Parameters
    ----------
    secret : str
        The pseudonymisation key (``CARTWH_SECRET``).
    centre_patient_id : str
        The centre's patient id (trimmed, as the key is computed from it).

    Returns
    -------
    str
        A Fernet token; :func:`unseal` with the same key gives the id back.
    """
    return _fernet(secret).encrypt(centre_patient_id.strip().encode("utf-8")).decode("ascii")


def unseal(secret: str, sealed: str) -> str | None:
    """The patient id of :func:`seal`, or None when ``secret`` is not the key it was sealed
    with (checked by the caller against the patient_key)."""
    from cryptography.fernet import InvalidToken

    try:
        return _fernet(secret).decrypt(sealed.encode("ascii")).decode("utf-8")
    except InvalidToken:
        return None


def register_text_function(conn, name: str, function, arity: int) -> None:
    """Register ``function`` (str arguments -> str) as a vectorised UDF ``name`` on ``conn``;
    a null argument gives null."""
    import pyarrow as pa

    def batch(*columns):
        values = zip(*(c.to_pylist() for c in columns), strict=True)
        return pa.array(
            [None if None in args else function(*args) for args in values], type=pa.string()
        )

    conn.create_function(
        name,
        batch,
        ["VARCHAR"] * arity,
        "VARCHAR",
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


def ensure_exclusions(conn: duckdb.DuckDBPyConnection) -> None:
    run(conn, EXCLUSIONS_DDL)


def erased_total(conn: duckdb.DuckDBPyConnection) -> int:
    """Patients on the exclusion list, every centre (0 when there is no list)."""
    if not has_exclusion_list(conn):
        return 0
    return run(conn, f"select count(*) from {EXCLUSIONS}")[0][0]


def has_exclusion_list(conn) -> bool:
    return bool(
        run(
            conn,
            "select count(*) from information_schema.tables "
            "where table_schema = 'restricted' and table_name = 'erased_patients'",
        )[0][0]
    )


def erased_count(conn: duckdb.DuckDBPyConnection, centre_code: str) -> int:
    """Patients of the centre on the exclusion list (0 when there is no list)."""
    if not has_exclusion_list(conn):
        return 0
    return run(conn, f"select count(*) from {EXCLUSIONS} where centre_code = ?", [centre_code])[0][
        0
    ]


def _ensure_door_function(conn: duckdb.DuckDBPyConnection) -> None:
    registered = run(
        conn,
        "select count(*) from duckdb_functions() where function_name = ?",
        [DOOR_KEY_FUNCTION],
    )[0][0]
    if registered:
        return
    from cartwh.settings import read_settings
    from cartwh.transform.plugin import register_patient_key

    # the key of the process, as dbt's plugin reads it: a load never receives it as an argument
    register_patient_key(conn, read_settings().secret, DOOR_KEY_FUNCTION)


def erased_row_condition(
    conn: duckdb.DuckDBPyConnection, centre_code: str, id_column: str
) -> str | None:
    """A SQL condition, true for a row whose patient (raw column ``id_column``) was erased from
    ``centre_code``; None when the centre has no erased patient (nothing to compute).

    Parameters
    ----------
    conn : duckdb.DuckDBPyConnection
        The loading connection (the key function is registered on it when needed).
    centre_code : str
        A registered centre code (lower-case letters and digits).
    id_column : str
        The delivered column holding the centre's patient id (the mapping's source of
        ``centre_patient_id``).
    """
    if not erased_count(conn, centre_code):
        return None
    _ensure_door_function(conn)
    column = quoted_name(id_column)
    return (
        f"coalesce({DOOR_KEY_FUNCTION}('{centre_code}', {column}) in (select patient_key from "
        f"{EXCLUSIONS} where centre_code = '{centre_code}'), false)"
    )


def carry_exclusions(source: Path, target: Path) -> int:
    """Copy the exclusion list of the warehouse ``source`` into the warehouse ``target`` (a data
    lock's rebuild: a state frozen before an erasure is rebuilt without the erased patients).

    Parameters
    ----------
    source, target : Path
        DuckDB files; ``target`` is created when missing.

    Returns
    -------
    int
        Entries the target did not have yet.
    """
    from cartwh.warehouse import connect_for_writing, read_connection, write_lock

    if not source.exists():
        return 0
    with read_connection(source) as conn:
        if not has_exclusion_list(conn):
            return 0
        entries = run(conn, f"select * from {EXCLUSIONS}")
    if not entries:
        return 0
    with write_lock(target), connect_for_writing(target) as conn:
        ensure_exclusions(conn)
        before = run(conn, f"select count(*) from {EXCLUSIONS}")[0][0]
        conn.executemany(
            f"insert into {EXCLUSIONS} select ?, ?, ?, ? where not exists (select 1 from "
            f"{EXCLUSIONS} where centre_code = ? and patient_key = ?)",
            [[c, k, s, at, c, k] for c, k, s, at in entries],
        )
        return run(conn, f"select count(*) from {EXCLUSIONS}")[0][0] - before
