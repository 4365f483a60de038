"""Key rotation: ``cartwh rekey`` re-keys every pseudonym of a warehouse in one transaction.

The old key is ``CARTWH_SECRET``, the new one ``CARTWH_NEW_SECRET`` (environment variables,
never command-line arguments: those show in ``ps`` and shell histories). The old key is
checked against the warehouse itself: every ``patient_key`` of ``restricted.patient_crosswalk``
must be the HMAC of its centre patient under that key. Then, in one transaction, a map from
old to new key is built from the crosswalk and every table with a ``patient_key`` column
(every schema: intermediate, mart, restricted, quality, analysis, history) is updated through
it, set-wise. Erased patients are no longer in the crosswalk: their new keys come from the ids
sealed in the exclusion list (``restricted.erased_patients``), which are sealed again under
the new key, so that later loads still withhold them. A key that is not in the crosswalk (nor
the list) stops the rotation (rolled back). The
rotation is recorded in ``history.key_rotations``: when, the tables and keys re-keyed, and a
salted HMAC check of the old and the new key (it tells whether a key is the same, not what it
is). The new pseudonyms are those a fresh refresh with the new key gives; the outputs on disk
(tables, figures, report) are re-rendered by the next ``cartwh refresh`` with the new key,
which sees the changed key and rebuilds everything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from cartwh.settings import Settings, SettingsError, check_secret
from cartwh.warehouse import connect_for_writing, run, write_lock

NEW_SECRET_VARIABLE = "CARTWH_NEW_SECRET"
CROSSWALK = "restricted.patient_crosswalk"
#: erased patients (cartwh erase): re-keyed through their sealed ids
EXCLUSIONS = "restricted.erased_patients"

ROTATIONS_DDL = """
create schema if not exists history;
create table if not exists history.key_rotations (
    rotated_at timestamp with time zone not null,
    salt varchar not null,
    old_key_check varchar not null,
    new_key_check varchar not null,
    tables_rekeyed bigint not null,
    rows_rekeyed bigint not null,
    patients bigint not null
);
"""

#: base tables with a patient_key column (temporary tables excluded)
_KEYED_TABLES = """
select c.table_schema, c.table_name
from information_schema.columns c
join information_schema.tables t using (table_catalog, table_schema, table_name)
where c.column_name = 'patient_key' and t.table_type = 'BASE TABLE'
  and c.table_catalog = current_database()
order by all
"""


class RekeyError(RuntimeError):
    """A rotation that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Rotation:
    """What a key rotation did.

    Attributes
    ----------
    tables : list of str
        The tables re-keyed (``schema.table``).
    rows : int
        Rows whose ``patient_key`` changed.
    patients : int
        Centre patients in the crosswalk (one new key each).
    """

    tables: list[str]
    rows: int
    patients: int


def key_check(secret: str, salt: str) -> str:
    """A salted HMAC of a fixed text under ``secret``: equal for the same key, says nothing of it.

    Parameters
    ----------
    secret : str
        The key.
    salt : str
        Random text stored beside the check.

    Returns
    -------
    str
        Hex HMAC-SHA256.
    """
    return hmac.new(secret.encode(), f"cartwh key {salt}".encode(), hashlib.sha256).hexdigest()


def rekey(settings: Settings, new_secret: str | None) -> Rotation:
    """Re-key the warehouse of ``settings`` from ``settings.secret`` to ``new_secret``.

    Parameters
    ----------
    settings : Settings
        The warehouse; its key (``CARTWH_SECRET``) is the old key.
    new_secret : str or None
        The new key (``CARTWH_NEW_SECRET``), checked like ``CARTWH_SECRET``.

    Returns
    -------
    Rotation
        The tables, rows and patients re-keyed.

    Raises
    ------
    SettingsError
        A key is missing or unusable, or both are the same.
    RekeyError
        No warehouse or crosswalk, the old key is not the warehouse's, or a table holds a key
        the crosswalk does not know (nothing is changed then).
    """
    from cartwh.transform.plugin import register_patient_key

    old_secret = settings.secret
    new_secret = check_secret(new_secret, settings.demo, NEW_SECRET_VARIABLE)
    if hmac.compare_digest(old_secret, new_secret):
        raise SettingsError(
            f"{NEW_SECRET_VARIABLE} is the current key (CARTWH_SECRET): set it to the new key"
        )
    if not settings.warehouse.exists():
        raise RekeyError(f"no warehouse at {settings.warehouse}: nothing to re-key")
    with write_lock(settings.warehouse):
        conn = connect_for_writing(settings.warehouse)
        try:
            register_patient_key(conn, old_secret, "cartwh_old_key")
            register_patient_key(conn, new_secret, "cartwh_new_key")
            return _rekey(conn, old_secret, new_secret)
        finally:
            conn.close()


def _check_erased(conn, old_secret: str, new_secret: str) -> int:
    """Erased patients on the exclusion list, after checking that the old key unseals every
    one of them (their ids are needed for their new keys: :mod:`cartwh.erasure.exclusions`)."""
    from cartwh.erasure.exclusions import erased_total, register_text_function, seal, unseal

    erased = erased_total(conn)
    if not erased:
        return 0
    register_text_function(conn, "cartwh_old_unseal", lambda s: unseal(old_secret, s), 1)
    register_text_function(conn, "cartwh_new_seal", lambda i: seal(new_secret, i), 1)
    wrong = run(
        conn,
        f"select count(*) from {EXCLUSIONS} where patient_key is distinct from "
        "cartwh_old_key(centre_code, cartwh_old_unseal(sealed_id))",
    )[0][0]
    if wrong:
        raise RekeyError(
            f"{wrong} of the {erased} erased patients of {EXCLUSIONS} were not sealed with "
            "CARTWH_SECRET: set it to the key of the erasures, or restore the list"
        )
    return erased


def crosswalk_keys_differing(conn, key_function: str) -> tuple[int, int] | None:
    """(patients, keys that differ) of the crosswalk against the SQL key function
    ``key_function`` (a registered HMAC under some key); None when there is no crosswalk."""
    known = run(
        conn,
        "select count(*) from information_schema.tables "
        "where table_schema = 'restricted' and table_name = 'patient_crosswalk'",
    )[0][0]
    if not known:
        return None
    patients, wrong = run(
        conn,
        f"select count(*), count(*) filter (where patient_key is distinct from "
        f"{key_function}(centre_code, centre_patient_id)) from {CROSSWALK}",
    )[0]
    return patients, wrong


def _rekey(conn, old_secret: str, new_secret: str) -> Rotation:
    checked = crosswalk_keys_differing(conn, "cartwh_old_key")
    if checked is None:
        raise RekeyError(f"the warehouse has no {CROSSWALK}: run `cartwh refresh` first")
    patients, wrong = checked
    if wrong:
        raise RekeyError(
            f"CARTWH_SECRET is not the key this warehouse was pseudonymised with ({wrong} of "
            f"{patients} crosswalk keys differ): set CARTWH_SECRET to the current key and "
            f"{NEW_SECRET_VARIABLE} to the new one"
        )
    erased = _check_erased(conn, old_secret, new_secret)
    tables = [f'"{schema}"."{table}"' for schema, table in run(conn, _KEYED_TABLES)]
    conn.execute("begin transaction")
    try:
        conn.execute(
            "create temporary table key_map as select patient_key as old_key, "
            f"cartwh_new_key(centre_code, centre_patient_id) as new_key from {CROSSWALK}"
            + (
                f" union select patient_key, cartwh_new_key(centre_code, "
                f"cartwh_old_unseal(sealed_id)) from {EXCLUSIONS}"
                if erased
                else ""
            )
        )
        rows = 0
        for table in tables:
            unknown = run(
                conn,
                f"select count(*) from {table} t where t.patient_key is not null and not exists "
                "(select 1 from key_map m where m.old_key = t.patient_key)",
            )[0][0]
            if unknown:
                raise RekeyError(
                    f"{table} has {unknown} rows whose patient_key is not in {CROSSWALK}: "
                    "run `cartwh refresh` with the current key first, then re-key"
                )
            rows += run(
                conn,
                f"update {table} t set patient_key = m.new_key from key_map m "
                "where t.patient_key = m.old_key",
            )[0][0]
        if erased:  # the exclusion list's sealed ids, sealed again under the new key
            conn.execute(
                f"update {EXCLUSIONS} set sealed_id = cartwh_new_seal(cartwh_old_unseal(sealed_id))"
            )
        conn.execute(ROTATIONS_DDL)
        salt = secrets.token_hex(16)
        conn.execute(
            "insert into history.key_rotations values (now(), ?, ?, ?, ?, ?, ?)",
            [
                salt,
                key_check(old_secret, salt),
                key_check(new_secret, salt),
                len(tables),
                rows,
                patients,
            ],
        )
        conn.execute("drop table key_map")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    conn.execute("checkpoint")
    return Rotation(tables=[t.replace('"', "") for t in tables], rows=rows, patients=patients)
