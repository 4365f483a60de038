"""``cartwh erase``: the steps of an erasure, under the writers' lock from first to last.

1. the patient's rows go from every layer of the warehouse, the patient joins the exclusion
   list, the audit row is written (:func:`cartwh.erasure.erase.erase_patient`);
2. the warehouse file is rewritten and swapped in (:mod:`cartwh.erasure.rewrite`), its sha256
   before and after recorded;
3. the normal refresh machinery rebuilds everything downstream (dbt, analysis, outputs, the
   centre query files) from the raw tables without the patient;
4. outputs, work folder and Dagster home are searched for the patient's identifiers and
   cleaned (:mod:`cartwh.erasure.residue`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cartwh.erasure.erase import Erasure, erase_patient, record_after
from cartwh.erasure.residue import Residue, clean_residue
from cartwh.erasure.rewrite import rewrite_database
from cartwh.ingest.discovery import sha256_file
from cartwh.ingest.mapping import CentreMapping
from cartwh.settings import Settings
from cartwh.warehouse import connect_for_writing, write_lock


@dataclass(frozen=True)
class ErasureOutcome:
    """An erasure's result: what it removed, the file hashes, the rebuild's exit status and
    what the search beside the warehouse found."""

    erasure: Erasure
    sha256_before: str
    sha256_after: str
    rebuild_status: int
    residue: Residue


def erase_everywhere(
    settings: Settings,
    mapping: CentreMapping,
    patient_id: str,
    rebuild: Callable[[], int],
    lock_timeout_s: float = 600.0,
    say: Callable[[str], None] = print,
) -> ErasureOutcome:
    """Erase ``patient_id`` of ``mapping``'s centre from the warehouse of ``settings`` and from
    everything built from it.

    Parameters
    ----------
    settings : Settings
        The warehouse, its key and folders.
    mapping : CentreMapping
        The centre's mapping (where each raw table holds the patient id).
    patient_id : str
        The centre's patient id.
    rebuild : callable
        Runs a full refresh with the normal machinery and returns its exit status; called
        while this process holds the writers' lock (the refresh joins it).
    lock_timeout_s : float
        How long to wait for a running refresh.
    say : callable
        Hears one line per step.

    Returns
    -------
    ErasureOutcome

    Raises
    ------
    cartwh.erasure.erase.ErasureError
        A wrong key, no crosswalk, or no such patient: nothing was changed.
    cartwh.warehouse.WarehouseBusy
        A refresh kept the warehouse beyond ``lock_timeout_s``.
    """
    database = settings.warehouse
    with write_lock(database, lock_timeout_s, log=say):
        before = sha256_file(database)
        conn = connect_for_writing(database)
        try:
            erasure = erase_patient(conn, settings.secret, mapping, patient_id, before)
        finally:
            conn.close()
        say(
            f"erased {erasure.rows_total} rows of patient {erasure.patient_key[:12]}… of centre "
            f"{erasure.centre_code} ({len(erasure.rows_removed)} tables); rewriting {database}"
        )
        rewrite_database(database)
        after = sha256_file(database)
        conn = connect_for_writing(database)
        try:
            record_after(conn, erasure.erasure_id, after)
        finally:
            conn.close()
        say("rebuilding everything downstream without the patient (full refresh)")
        status = rebuild()
        residue = clean_residue(settings, erasure.identifiers)
    return ErasureOutcome(erasure, before, after, status, residue)
