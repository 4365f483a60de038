"""The acceptance gate of a delivery (``shared/spec/extract-format.md``, "Deliveries").

A delivery is rejected whole when a required entity has no file, when an entity file is
0 bytes, or when a header repeats a column or lacks the source column of a required canonical
column. A delivery that loads but drops more than a configured share of the patients of the
centre's current delivery is *held*: it is not used until a person accepts or withdraws it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cartwh.ingest.discovery import DeliveredFile, DeliveryFolder
from cartwh.ingest.mapping import CentreMapping
from cartwh.ingest.readers import duplicated_names
from cartwh.warehouse import run
from models.extract_format import ENTITIES

SHOWN_PATIENTS = 10


def _listed(names: list[str], shown: int = 12) -> str:
    """The first names, then how many more (a folder may hold thousands of files)."""
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f" and {more} more" if more > 0 else "")


def missing_required_file(
    delivery: DeliveryFolder,
    mapping: CentreMapping,
    claimed: dict[str, list[DeliveredFile]],
    files: list[DeliveredFile],
) -> str | None:
    """Why the delivery lacks a required entity's file, or None."""
    for entity in mapping.entities:
        if ENTITIES[entity].required and not claimed.get(entity):
            found = _listed([f.relative_path for f in files]) or "no files"
            return (
                f"delivery {delivery.label}: no file matching {mapping.file_pattern(entity)!r} "
                f"(found: {found}): {entity} is required in every delivery; send it under "
                "that name"
            )
    return None


def empty_entity_file(
    delivery: DeliveryFolder, claimed: dict[str, list[DeliveredFile]]
) -> str | None:
    """Why an entity file of 0 bytes breaks the delivery, or None."""
    for matches in claimed.values():
        for delivered in matches:
            if delivered.bytes == 0:
                return (
                    f"delivery {delivery.label}: file {delivered.relative_path}: the file is "
                    "empty (0 bytes), a broken export: send it again with its header row, or "
                    "leave it out when there are no records"
                )
    return None


def header_problem(
    delivery: DeliveryFolder,
    mapping: CentreMapping,
    entity: str,
    source_label: str,
    header: list[str],
    repeated_only: bool = False,
) -> str | None:
    """Why a delivered header breaks the delivery (a repeated column, a required column
    without its source column), or None. ``repeated_only``: skip the required columns (the
    dry run of a mapping reports them itself)."""
    where = f"delivery {delivery.label}: file {source_label}"
    repeated = duplicated_names(header)
    if repeated:
        return (
            f"{where}: the header repeats the columns {', '.join(repeated)} (compared ignoring "
            "case), a broken export: send the file again with each column once"
        )
    missing = [] if repeated_only else missing_required_columns(mapping, entity, header)
    if not missing:
        return None
    shown = _listed([name.strip() for name in header if name and name.strip()])
    return (
        f"{where}: the header lacks the required columns {', '.join(missing)} "
        f"(found: {shown or 'no column names'}), a broken export: send the file again with "
        "these columns"
    )


def missing_required_columns(mapping: CentreMapping, entity: str, header: list[str]) -> list[str]:
    """The source columns of the entity's required canonical columns absent from ``header``
    (compared ignoring case); a mapped column is named ``source (canonical)``."""
    entity_mapping = mapping.entities[entity]
    present = {name.strip().lower() for name in header if name}
    wide = re.compile(entity_mapping.wide.pattern) if entity_mapping.wide else None
    measures = (
        {m.group("measure").lower() for name in header if name and (m := wide.match(name.strip()))}
        if wide
        else set()
    )
    missing = []
    for name, column in entity_mapping.columns.items():
        if not ENTITIES[entity].column(name).required or column.source is None:
            continue
        source = column.source.strip().lower()
        if source in present or source in measures:
            continue
        missing.append(column.source if column.source == name else f"{column.source} ({name})")
    return missing


@dataclass(frozen=True)
class PatientDrop:
    """The patients a delivery drops against the centre's current delivery."""

    previous_delivery: str
    previous_patients: int
    dropped: int
    first_dropped: list[str]

    def too_many(self, max_share: float) -> bool:
        return self.dropped > max_share * self.previous_patients

    def held_message(self, delivery: DeliveryFolder, max_share: float) -> str:
        more = self.dropped - len(self.first_dropped)
        ids = ", ".join(self.first_dropped) + (f" and {more} more" if more > 0 else "")
        return (
            f"delivery {delivery.label} is held: it drops {self.dropped} of the "
            f"{self.previous_patients} patients of the current delivery {self.previous_delivery}"
            f" ({self.dropped / self.previous_patients:.1%}, more than the "
            f"{max_share * 100:g}% allowed): {ids}; if the centre meant it, "
            f"`cartwh deliveries accept {delivery.centre_code} {delivery.delivery_id}`, else "
            f"`cartwh deliveries withdraw {delivery.centre_code} {delivery.delivery_id}` "
            "and ask the centre for a full snapshot"
        )


def _patient_ids_sql(table: str, id_column: str) -> str:
    return (
        f'select distinct trim("{id_column}") as centre_patient_id from raw."{table}" '
        f"where _delivery_id = ? and nullif(trim(\"{id_column}\"), '') is not null"
    )


def record_patient_changes(
    conn,
    delivery: DeliveryFolder,
    previous_delivery: str | None,
    table: str,
    id_column: str,
) -> PatientDrop | None:
    """Record each patient of the delivery and of the previous one as added, kept or dropped
    (``raw.delivery_patient_changes``); returns what it drops (None without a previous one)."""
    ids = _patient_ids_sql(table, id_column)
    run(
        conn,
        "delete from raw.delivery_patient_changes where centre_code = ? and delivery_id = ?",
        [delivery.centre_code, delivery.delivery_id],
    )
    run(
        conn,
        f"""
        insert into raw.delivery_patient_changes
        select ?, ?, ?, coalesce(new.centre_patient_id, old.centre_patient_id),
            case when old.centre_patient_id is null then 'added'
                 when new.centre_patient_id is null then 'dropped' else 'kept' end
        from ({ids}) as new
        full outer join ({ids} and ? is not null) as old using (centre_patient_id)
        """,
        [
            delivery.centre_code,
            delivery.delivery_id,
            previous_delivery,
            delivery.delivery_id,
            previous_delivery,
            previous_delivery,
        ],
    )
    if previous_delivery is None:
        return None
    [(previous_patients, dropped, first)] = run(
        conn,
        "select count(*) filter (where change <> 'added'), "
        "count(*) filter (where change = 'dropped'), "
        f"coalesce(list(centre_patient_id order by centre_patient_id) "
        f"filter (where change = 'dropped'), [])[1:{SHOWN_PATIENTS}] "
        "from raw.delivery_patient_changes where centre_code = ? and delivery_id = ?",
        [delivery.centre_code, delivery.delivery_id],
    )
    return PatientDrop(previous_delivery, previous_patients, dropped, list(first))
