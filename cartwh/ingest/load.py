"""Loading deliveries into ``raw``: one transaction per delivery, all or nothing."""

from __future__ import annotations

import fnmatch
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cartwh.faults import crash_point
from cartwh.ingest import gate, ledger
from cartwh.ingest.confinement import OutsideLanding, private_workdir
from cartwh.ingest.discovery import (
    MANIFEST,
    DeliveredFile,
    DeliveryFolder,
    DeliveryListing,
    DeliveryRejected,
    SkippedFolder,
    discover_deliveries,
    fingerprint,
    hashed,
    list_delivery,
    verify_manifest,
)
from cartwh.ingest.mapping import CentreMapping, MappingError, mapping_for
from cartwh.ingest.readers import ReadError, csv_problem, read_csv, read_excel_sheet
from cartwh.ingest.registry import CentreRegistry
from cartwh.settings import DEFAULT_MAX_PATIENT_DROP
from cartwh.warehouse import run

log = logging.getLogger(__name__)


@dataclass
class DeliveryResult:
    centre_code: str
    delivery_id: str
    status: str  # loaded | held | unchanged | rejected | error (the centre's mapping is unusable)
    message: str = ""
    rows_by_entity: dict[str, int] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.centre_code}/{self.delivery_id}"


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def claim_entity_files(
    mapping: CentreMapping, files: list[DeliveredFile]
) -> dict[str, list[DeliveredFile]]:
    claimed: dict[str, list[DeliveredFile]] = {}
    for entity in mapping.entities:
        pattern = mapping.file_pattern(entity)
        claimed[entity] = [f for f in files if fnmatch.fnmatchcase(f.relative_path, pattern)]
    return claimed


def _insert(
    conn,
    table: str,
    columns: list[str],
    select_sql: str,
    delivery: DeliveryFolder,
    source_label: str,
    erased: str | None = None,
) -> tuple[int, int]:
    """Insert a file's rows; (rows delivered, rows withheld because their patient was erased:
    ``erased`` is the condition that finds them, :func:`erased_row_condition`)."""
    ledger.ensure_raw_table(conn, table, columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    before = conn.execute(f'select count(*) from raw."{table}"').fetchall()[0][0]
    run(
        conn,
        f'insert into raw."{table}" by name select {quoted}, ? as _delivery_id, '
        f"? as _source_file, _row_number from ({select_sql})"
        + (f" where not ({erased})" if erased else ""),
        [delivery.delivery_id, source_label],
    )
    inserted = conn.execute(f'select count(*) from raw."{table}"').fetchall()[0][0] - before
    if not erased:
        return inserted, 0
    delivered = run(conn, f"select count(*) from ({select_sql})")[0][0]
    return delivered, delivered - inserted


def _erased_condition(conn, delivery: DeliveryFolder, mapping: CentreMapping, entity: str):
    from cartwh.erasure.exclusions import erased_row_condition

    id_column = mapping.entities[entity].columns.get("centre_patient_id")
    if id_column is None or id_column.source is None:
        return None
    return erased_row_condition(conn, delivery.centre_code, id_column.source)


def _load_entity_file(
    conn, delivery, mapping, entity, delivered: DeliveredFile, workdir: Path, dry_run: bool
) -> tuple[str, int, int]:
    """(source label, rows delivered, rows withheld of erased patients)"""
    settings = mapping.settings(entity)
    erased = _erased_condition(conn, delivery, mapping, entity)
    table = ledger.raw_table_name(delivery.centre_code, entity)
    where = f"delivery {delivery.label}: file {delivered.relative_path}"
    if settings.format == "excel":
        sheet = mapping.entities[entity].sheet
        label = f"{delivered.relative_path}[{sheet}]"
        try:
            read = read_excel_sheet(
                delivered.path, sheet, settings.header_row, within=delivery.path
            )
        except ReadError as exc:
            at = f", row {exc.line}" if exc.line else ""
            raise DeliveryRejected(f"{where}{at}: {exc.problem}") from None
        except OutsideLanding as exc:
            raise DeliveryRejected(f"{where}: {exc}") from None
        _check_header(delivery, mapping, entity, label, read.header, dry_run)
        conn.register("_cartwh_sheet", read.table)
        try:
            columns = [c for c in read.table.column_names if c != "_row_number"]
            rows, withheld = _insert(
                conn, table, columns, "select * from _cartwh_sheet", delivery, label, erased
            )
        finally:
            conn.unregister("_cartwh_sheet")
        return label, rows, withheld
    try:
        result = read_csv(delivered.path, settings, workdir, within=delivery.path)
    except ReadError as exc:
        at = f", line {exc.line}" if exc.line else ""
        raise DeliveryRejected(f"{where}{at}: {exc.problem}") from None
    except OutsideLanding as exc:
        raise DeliveryRejected(f"{where}: {exc}") from None
    try:
        _check_header(delivery, mapping, entity, delivered.relative_path, result.header, dry_run)
        rows, withheld = _insert(
            conn,
            table,
            result.columns,
            result.relation_sql,
            delivery,
            delivered.relative_path,
            erased,
        )
    except duckdb.Error as exc:
        problem = csv_problem(str(exc))
        at = f", line {problem.line}" if problem.line else ""
        raise DeliveryRejected(f"{where}{at}: {problem.problem}") from None
    finally:
        for path in result.cleanup:
            path.unlink(missing_ok=True)
    return delivered.relative_path, rows, withheld


def _check_header(delivery, mapping, entity, label: str, header: list[str], dry_run: bool) -> None:
    problem = gate.header_problem(delivery, mapping, entity, label, header, dry_run)
    if problem:
        raise DeliveryRejected(problem)


def _changed_files_message(conn, delivery, files) -> str:
    before = ledger.accepted_files(conn, delivery.centre_code, delivery.delivery_id)
    now = {f.relative_path: f.sha256 for f in files}
    changes = []
    for name in sorted(set(before) | set(now)):
        if name not in now:
            changes.append(f"{name} removed")
        elif name not in before:
            changes.append(f"{name} added")
        elif before[name] != now[name]:
            changes.append(f"{name} changed (sha256 {before[name][:12]}… -> {now[name][:12]}…)")
    return (
        f"delivery {delivery.label} was already loaded with different content "
        f"({'; '.join(changes) or 'files differ'}); a loaded delivery id is immutable: "
        "send the new content as a new delivery id"
    )


def _fingerprinted(conn, delivery: DeliveryFolder, listing: DeliveryListing):
    """The delivery's files with their sha256, and its fingerprint.

    When every file has the relative path, size and mtime of a recorded content of this
    delivery (and the same entries are not read), that content's sha256 are reused and no
    file is read; otherwise every file is hashed.
    """
    seen = {f.relative_path: (f.bytes, f.mtime_ns) for f in listing.files}
    seen.update({name: (None, None) for name in listing.not_read})
    recorded = ledger.recorded_contents(conn, delivery.centre_code, delivery.delivery_id)
    for print_, content in recorded.items():
        if {name: (r.bytes, r.mtime_ns) for name, r in content.items()} == seen:
            files = [
                DeliveredFile(
                    f.relative_path, f.path, content[f.relative_path].sha256, f.bytes, f.mtime_ns
                )
                for f in listing.files
            ]
            return files, print_, True
    files = hashed(listing)
    return files, fingerprint(files, listing.not_read), False


def mapping_digest(mapping: CentreMapping) -> str:
    """Identifies the mapping a rejection was judged with (another mapping may accept it)."""
    return hashlib.sha256(mapping.model_dump_json().encode("utf-8")).hexdigest()


def load_delivery(
    conn: duckdb.DuckDBPyConnection,
    delivery: DeliveryFolder,
    mapping: CentreMapping,
    *,
    private_tmp: Path,
    max_patient_drop: float = DEFAULT_MAX_PATIENT_DROP,
    dry_run: bool = False,
) -> DeliveryResult:
    """Load one delivery folder, hold it, or reject it whole. Idempotent.

    Parameters
    ----------
    private_tmp
        The warehouse's private temporary folder (``Settings.private_tmp``): files in an
        encoding DuckDB lacks are transcoded there, in a folder of this process that is
        deleted afterwards.
    max_patient_drop
        Share of the current delivery's patients the delivery may drop before it is held.
    dry_run
        For ``cartwh mapping check``: a header without a required column does not reject
        the delivery (the dry run reports it with every other finding at once).
    """
    ledger.ensure_raw_schema(conn)
    listing = list_delivery(delivery)
    files, print_, from_ledger = _fingerprinted(conn, delivery, listing)
    accepted = ledger.accepted_fingerprint(conn, delivery.centre_code, delivery.delivery_id)
    digest = mapping_digest(mapping)
    at = _now()

    def row(
        source_file: str,
        status: str,
        *,
        entity=None,
        delivered: DeliveredFile | None = None,
        rows=None,
        message=None,
        rows_erased=None,
    ) -> ledger.LedgerRow:
        return ledger.LedgerRow(
            delivery.centre_code,
            delivery.delivery_id,
            source_file,
            entity,
            delivered.sha256 if delivered else None,
            delivered.bytes if delivered else None,
            rows,
            at,
            status,
            message,
            print_,
            delivered.mtime_ns if delivered else None,
            digest,
            rows_erased,
        )

    not_read_rows = [
        row(name, "skipped", message=reason) for name, reason in listing.not_read.items()
    ]

    def reject(message: str) -> DeliveryResult:
        if ledger.rejection(conn, delivery.centre_code, delivery.delivery_id, print_) != (
            message,
            digest,
        ):
            rows = [
                row(f.relative_path, "rejected", delivered=f, message=message) for f in files
            ] or [row("", "rejected", message=message)]
            run(conn, "begin")
            ledger.replace_attempt(
                conn, delivery.centre_code, delivery.delivery_id, print_, rows + not_read_rows
            )
            run(conn, "commit")
        log.warning("rejected %s", message)
        return DeliveryResult(delivery.centre_code, delivery.delivery_id, "rejected", message)

    if accepted == print_:
        if not from_ledger:
            ledger.remember_file_times(
                conn, delivery.centre_code, delivery.delivery_id, print_, files
            )
        return DeliveryResult(
            delivery.centre_code,
            delivery.delivery_id,
            "unchanged",
            "already loaded with the same content",
        )
    judged, judged_with = ledger.rejection(conn, delivery.centre_code, delivery.delivery_id, print_)
    if judged is not None and judged_with == digest:  # judged before: not read again
        if not from_ledger:
            ledger.remember_file_times(
                conn, delivery.centre_code, delivery.delivery_id, print_, files
            )
        return DeliveryResult(delivery.centre_code, delivery.delivery_id, "rejected", judged)
    claimed = claim_entity_files(mapping, files)
    problem = _refusal(conn, delivery, mapping, files, claimed, accepted is not None)
    if problem:
        return reject(problem)
    with private_workdir(private_tmp) as workdir:
        try:
            status, message, rows_by_entity = _load_claimed(
                conn,
                delivery,
                mapping,
                claimed,
                files,
                print_,
                row,
                workdir,
                max_patient_drop,
                not_read_rows,
                dry_run,
            )
        except DeliveryRejected as exc:
            return reject(str(exc))
    log.info(
        "%s %s: %s",
        status,
        delivery.label,
        ", ".join(f"{e} {n}" for e, n in sorted(rows_by_entity.items())),
    )
    return DeliveryResult(
        delivery.centre_code, delivery.delivery_id, status, message, rows_by_entity
    )


def _refusal(conn, delivery, mapping, files, claimed, id_taken: bool) -> str | None:
    """Why the delivery is refused before any file is read (beyond its manifest), or None."""
    if id_taken:
        return _changed_files_message(conn, delivery, files)
    if not files:
        return f"delivery {delivery.label}: the delivery folder is empty"
    try:
        verify_manifest(delivery, files)
    except DeliveryRejected as exc:
        return str(exc)
    except OutsideLanding as exc:
        return f"delivery {delivery.label}: {MANIFEST}: {exc}"
    return gate.missing_required_file(delivery, mapping, claimed, files) or (
        gate.empty_entity_file(delivery, claimed)
    )


def _load_claimed(
    conn,
    delivery,
    mapping,
    claimed,
    files,
    print_,
    row,
    workdir,
    max_patient_drop,
    not_read_rows,
    dry_run,
) -> tuple[str, str, dict[str, int]]:
    """Load the claimed files in one transaction; (status, message, rows by entity).

    Raises DeliveryRejected (after rolling back) when a file breaks the delivery.
    """
    entity_rows: list[tuple[str, str, DeliveredFile, int, int]] = []
    other_rows: list[ledger.LedgerRow] = []
    rows_by_entity: dict[str, int] = {}
    run(conn, "begin")
    try:
        for entity, matches in claimed.items():
            if not matches:
                pattern = mapping.file_pattern(entity)
                message = f"no file matching {pattern!r}: no {entity} records"
                other_rows.append(row(pattern, "missing", entity=entity, rows=0, message=message))
                continue
            for delivered in matches:
                label, rows, withheld = _load_entity_file(
                    conn, delivery, mapping, entity, delivered, workdir, dry_run
                )
                rows_by_entity[entity] = rows_by_entity.get(entity, 0) + rows - withheld
                entity_rows.append((entity, label, delivered, rows, withheld))
        claimed_names = {f.relative_path for m in claimed.values() for f in m}
        for f in files:
            if f.relative_path in claimed_names:
                continue
            status, message = (
                ("manifest", "checksums verified")
                if f.relative_path == MANIFEST
                else ("ignored", "no entity of the mapping claims this file")
            )
            other_rows.append(row(f.relative_path, status, delivered=f, message=message))
        status, message = _judge_patients(conn, delivery, mapping, max_patient_drop)
        ledger_rows = [
            row(
                label,
                status,
                entity=entity,
                delivered=delivered,
                rows=rows,
                message=message or None,
                rows_erased=withheld or None,
            )
            for entity, label, delivered, rows, withheld in entity_rows
        ]
        ledger.replace_attempt(
            conn,
            delivery.centre_code,
            delivery.delivery_id,
            print_,
            ledger_rows + other_rows + not_read_rows,
        )
        crash_point("raw_load")
        run(conn, "commit")
    except BaseException:
        run(conn, "rollback")
        raise
    return status, message, rows_by_entity


def _judge_patients(
    conn, delivery: DeliveryFolder, mapping: CentreMapping, max_patient_drop: float
) -> tuple[str, str]:
    """("held", why) when the delivery drops too many of the current delivery's patients,
    else ("loaded", ""); records the patients it adds, keeps and drops either way."""
    patients = mapping.entities.get("patients")
    id_column = patients.columns.get("centre_patient_id") if patients else None
    if id_column is None or id_column.source is None:
        return "loaded", ""
    previous = ledger.current_delivery(conn, delivery.centre_code)
    if previous is not None and previous > delivery.delivery_id:
        previous = None  # an older delivery arriving late is history, not a new snapshot
    drop = gate.record_patient_changes(
        conn,
        delivery,
        previous,
        ledger.raw_table_name(delivery.centre_code, "patients"),
        id_column.source,
    )
    if drop is not None and drop.too_many(max_patient_drop):
        return "held", drop.held_message(delivery, max_patient_drop)
    return "loaded", ""


def ensure_centre_tables(conn: duckdb.DuckDBPyConnection, mapping: CentreMapping) -> None:
    """Every raw table of a centre exists, empty if nothing was delivered ("no records")."""
    ledger.ensure_raw_schema(conn)
    for entity, entity_mapping in mapping.entities.items():
        sources = {  # distinct source columns: one may feed several canonical columns
            c.source.lower(): c.source
            for name, c in reversed(entity_mapping.columns.items())
            if c.source and (entity_mapping.wide is None or name == "centre_patient_id")
        }
        sources = list(reversed(sources.values()))
        ledger.ensure_raw_table(conn, ledger.raw_table_name(mapping.centre_code, entity), sources)


def load_landing(
    conn: duckdb.DuckDBPyConnection,
    landing: Path,
    mappings_dir: Path | None = None,
    centres: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    private_tmp: Path,
    max_patient_drop: float = DEFAULT_MAX_PATIENT_DROP,
) -> list[DeliveryResult]:
    """Load every delivery under ``landing`` (or those of ``centres``), in id order."""
    say = progress or (lambda message: None)
    ledger.ensure_raw_schema(conn)
    deliveries, skipped = discover_deliveries(landing, centres)
    for folder in skipped:
        say(f"skipped {folder.label}: {folder.reason}")
    results: list[DeliveryResult] = []
    mappings: dict[str, CentreMapping | MappingError] = {}
    for delivery in deliveries:
        if delivery.centre_code not in mappings:
            try:
                mappings[delivery.centre_code] = mapping_for(delivery.centre_code, mappings_dir)
            except MappingError as exc:
                mappings[delivery.centre_code] = exc
        mapping = mappings[delivery.centre_code]
        if isinstance(mapping, MappingError):
            result = DeliveryResult(
                delivery.centre_code,
                delivery.delivery_id,
                "error",
                f"delivery {delivery.label} not loaded: {mapping}",
            )
        else:
            result = load_delivery(
                conn,
                delivery,
                mapping,
                private_tmp=private_tmp,
                max_patient_drop=max_patient_drop,
            )
        say(_progress_line(result))
        results.append(result)
    return results


@dataclass(frozen=True)
class CentreLoad:
    """One centre after loading its landing folder: what the raw asset reports."""

    centre_code: str
    results: list[DeliveryResult]  # this run's attempts
    delivery_folders: list[str]  # delivery ids present in the landing folder, oldest first
    skipped: list[SkippedFolder]  # folders of the centre that are not deliveries
    current_delivery: str | None  # the one used downstream
    attempts: list[ledger.DeliveryAttempt]  # every content loaded, held, withdrawn or rejected
    raw_rows: dict[str, int]  # rows of every delivery in each raw table, by entity

    @property
    def newest_folder(self) -> str | None:
        return self.delivery_folders[-1] if self.delivery_folders else None

    @property
    def rejections(self) -> list[ledger.DeliveryAttempt]:
        return [a for a in self.attempts if a.status == "rejected"]

    @property
    def newest_rejected(self) -> bool:
        """The newest delivery folder was refused (and no content of it was accepted)."""
        newest = [a for a in self.attempts if a.delivery_id == self.newest_folder]
        return any(a.status == "rejected" for a in newest) and not any(
            a.status == "loaded" for a in newest
        )

    @property
    def held(self) -> list[ledger.DeliveryAttempt]:
        """Deliveries held by the acceptance gate, waiting for a person to accept or withdraw."""
        return [a for a in self.attempts if a.status == "held"]

    def held_warnings(self) -> list[str]:
        """Each held delivery, why, what the centre uses meanwhile, and the commands."""
        using = f"using {self.current_delivery}" if self.current_delivery else "no delivery used"
        return [f"{self.centre_code}: {a.message}; {using} meanwhile" for a in self.held]

    def newest_rejected_warning(self) -> str | None:
        """The refused newest delivery, why, and what the centre falls back to."""
        if not self.newest_rejected:
            return None
        reason = next(a.message for a in self.rejections if a.delivery_id == self.newest_folder)
        using = (
            f"using {self.current_delivery}"
            if self.current_delivery
            else "no accepted delivery: the centre contributes no patients"
        )
        return (
            f"{self.centre_code}: newest delivery {self.newest_folder} was rejected "
            f"({reason}); {using}"
        )

    def current_folder_gone_warning(self) -> str | None:
        """The current delivery's folder was removed from the landing area: it stays current
        (deleting a folder withdraws nothing) until a person withdraws it."""
        if self.current_delivery is None or self.current_delivery in self.delivery_folders:
            return None
        return (
            f"{self.centre_code}: the current delivery {self.current_delivery} is no longer in "
            "the landing area but stays current; to stop using it: "
            f"`cartwh deliveries withdraw {self.centre_code} {self.current_delivery}`"
        )


def load_centre(
    conn: duckdb.DuckDBPyConnection,
    landing: Path,
    mapping: CentreMapping,
    progress: Callable[[str], None] | None = None,
    *,
    private_tmp: Path,
    max_patient_drop: float = DEFAULT_MAX_PATIENT_DROP,
) -> CentreLoad:
    """Load every delivery of one registered centre and make its raw tables exist.

    ``private_tmp``: the warehouse's private temporary folder; ``max_patient_drop``: share of
    the current delivery's patients a new delivery may drop before it is held.
    """
    centre = mapping.centre_code
    say = progress or (lambda message: None)
    ledger.ensure_raw_schema(conn)
    folders, skipped = discover_deliveries(landing, [centre])
    ledger.replace_skipped(conn, [centre], skipped)
    for folder in skipped:
        say(f"skipped {folder.label}: {folder.reason}")
    results = []
    for delivery in folders:
        result = load_delivery(
            conn, delivery, mapping, private_tmp=private_tmp, max_patient_drop=max_patient_drop
        )
        say(_progress_line(result))
        results.append(result)
    ensure_centre_tables(conn, mapping)
    return CentreLoad(
        centre_code=centre,
        results=results,
        delivery_folders=[f.delivery_id for f in folders],
        skipped=skipped,
        current_delivery=ledger.current_delivery(conn, centre),
        attempts=ledger.delivery_attempts(conn, centre),
        raw_rows=ledger.raw_row_counts(conn, centre, list(mapping.entities)),
    )


def _progress_line(result: DeliveryResult) -> str:
    return (
        f"{result.label}: {result.status}"
        + (f" ({sum(result.rows_by_entity.values())} rows)" if result.rows_by_entity else "")
        + (f" - {result.message}" if result.status in ("rejected", "held", "error") else "")
    )


def scan_landing(
    conn: duckdb.DuckDBPyConnection, landing: Path, registry: CentreRegistry
) -> list[SkippedFolder]:
    """Record in the ledger every entry of the landing area that no registered centre owns."""
    ledger.ensure_raw_schema(conn)
    skipped = registry.unregistered_folders(landing)
    stale = [c for c in ledger.skipped_centre_folders(conn) if c not in registry.centres]
    ledger.replace_skipped(conn, sorted({*stale, *(f.centre_code for f in skipped)}), skipped)
    return skipped
