"""Intake: the centre registry, mapping files, finding and reading deliveries, and the raw
load with its ledger (every delivered file, as delivered, into DuckDB schema ``raw``)."""

from cartwh.ingest.discovery import DeliveryFolder, discover_deliveries
from cartwh.ingest.ledger import ensure_raw_schema, raw_table_name
from cartwh.ingest.load import (
    CentreLoad,
    DeliveryResult,
    ensure_centre_tables,
    load_centre,
    load_delivery,
    load_landing,
    scan_landing,
)

__all__ = [
    "CentreLoad",
    "DeliveryFolder",
    "DeliveryResult",
    "discover_deliveries",
    "ensure_centre_tables",
    "ensure_raw_schema",
    "load_centre",
    "load_delivery",
    "load_landing",
    "raw_table_name",
    "scan_landing",
]
