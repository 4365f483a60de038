"""Raw load: every delivered file, as delivered, into DuckDB schema ``raw``."""

from cartwh.loader.discovery import DeliveryFolder, discover_deliveries
from cartwh.loader.ledger import ensure_raw_schema, raw_table_name
from cartwh.loader.load import DeliveryResult, ensure_centre_tables, load_delivery, load_landing

__all__ = [
    "DeliveryFolder",
    "DeliveryResult",
    "discover_deliveries",
    "ensure_centre_tables",
    "ensure_raw_schema",
    "load_delivery",
    "load_landing",
    "raw_table_name",
]
