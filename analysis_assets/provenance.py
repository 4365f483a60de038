"""Where the published results come from: data cut-off, the deliveries used, the code, the run.

Built once per report run (by the Dagster report asset) and handed to every output that
prints it; :meth:`Provenance.rows` is the one wording of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

__all__ = ["DeliveryUsed", "Provenance"]


@dataclass(frozen=True)
class DeliveryUsed:
    """A centre's delivery whose data the results use."""

    centre_code: str
    delivery_id: str
    fingerprint: str  # sha256 over the delivery's file names and their sha256
    files: int
    rows: int

    def describe(self) -> str:
        """``xz 2023-03-01: 6 files, 1,234 rows, sha256 ab12...``"""
        return (
            f"{self.centre_code} {self.delivery_id}: {self.files:,} files, {self.rows:,} rows, "
            f"sha256 {self.fingerprint}"
        )


@dataclass(frozen=True)
class Provenance:
    """The provenance of one set of results.

    Parameters
    ----------
    cutoff : date
        The study's data cut-off.
    deliveries : tuple of DeliveryUsed
        Each centre's current delivery, by centre.
    code_version : str
    run_id : str
        The run that produced the results (Dagster run id).
    generated_at : datetime
        When the results were produced (timezone-aware, printed in UTC).
    intake : tuple of str
        The cohort summary of the refresh (patients per centre, deliveries used, skipped,
        rejected, rows held back), one line each, as ``cartwh refresh`` prints it.
    """

    cutoff: date
    deliveries: tuple[DeliveryUsed, ...]
    code_version: str
    run_id: str
    generated_at: datetime
    intake: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.generated_at.tzinfo is None:
            raise ValueError("generated_at must be timezone-aware")

    def rows(self) -> list[tuple[str, list[str]]]:
        """The provenance as (label, lines) pairs, in reading order."""
        return [
            ("cut-off", [self.cutoff.isoformat()]),
            ("deliveries used", [d.describe() for d in self.deliveries]),
            ("code version", [self.code_version]),
            ("run id", [self.run_id]),
            ("generated at", [self.generated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")]),
        ]
