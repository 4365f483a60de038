"""Where the published results come from: data cut-off, the deliveries used, the code, the run.

Built once per report run (by the Dagster report asset) and handed to every output that
prints it; :meth:`Provenance.rows` is the one wording of it. It also travels as data: the
``provenance.json`` beside the report (:meth:`Provenance.to_dict`), the ``analysis.provenance``
table (:meth:`Provenance.table`) and the figures' PNG/SVG metadata
(:meth:`Provenance.figure_metadata`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

__all__ = ["DeliveryUsed", "Provenance", "PROVENANCE_FILE"]

#: written beside report.html, tables/ and figures/
PROVENANCE_FILE = "provenance.json"


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

    def to_dict(self) -> dict:
        """The provenance as JSON-ready data (``provenance.json``)."""
        return {
            "run_id": self.run_id,
            "generated_at": self.generated_at.astimezone(UTC).isoformat(),
            "cutoff": self.cutoff.isoformat(),
            "code_version": self.code_version,
            "deliveries": [
                {
                    "centre_code": d.centre_code,
                    "delivery_id": d.delivery_id,
                    "sha256": d.fingerprint,
                    "files": d.files,
                    "rows": d.rows,
                }
                for d in self.deliveries
            ],
            "intake": list(self.intake),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Provenance:
        return cls(
            cutoff=date.fromisoformat(data["cutoff"]),
            deliveries=tuple(
                DeliveryUsed(d["centre_code"], d["delivery_id"], d["sha256"], d["files"], d["rows"])
                for d in data["deliveries"]
            ),
            code_version=data["code_version"],
            run_id=data["run_id"],
            generated_at=datetime.fromisoformat(data["generated_at"]),
            intake=tuple(data.get("intake", ())),
        )

    def table(self) -> pd.DataFrame:
        """One row per delivery used (the ``analysis.provenance`` table)."""
        columns = ["centre_code", "delivery_id", "sha256", "files", "rows"]
        frame = pd.DataFrame(self.to_dict()["deliveries"], columns=columns)
        frame.insert(0, "cutoff", pd.Series([self.cutoff] * len(frame), dtype="object"))
        frame.insert(0, "code_version", self.code_version)
        frame.insert(0, "generated_at", pd.Timestamp(self.generated_at).tz_convert(UTC))
        frame.insert(0, "run_id", self.run_id)
        return frame.astype({"files": "int64", "rows": "int64"})

    def figure_metadata(self, fmt: str) -> dict[str, str]:
        """Metadata for matplotlib's ``savefig(metadata=...)``: SVG takes Dublin Core keys
        only; PNG takes any key, so it also carries the whole record as JSON."""
        text = "; ".join(f"{label}: {', '.join(lines)}" for label, lines in self.rows())
        if fmt == "svg":
            return {"Description": text, "Identifier": self.run_id, "Source": self.code_version}
        return {
            "Description": text,
            "Source": self.code_version,
            "Provenance": json.dumps(self.to_dict(), sort_keys=True),
        }
