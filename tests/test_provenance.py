"""Provenance: the typed record the report asset builds, and how the report prints it."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from analysis_assets.provenance import DeliveryUsed, Provenance
from analysis_assets.report import build_report

PROVENANCE = Provenance(
    cutoff=date(2023, 3, 1),
    deliveries=(
        DeliveryUsed("ab", "2023-02-01", "a" * 64, files=5, rows=12345),
        DeliveryUsed("xz", "2023-03-01", "b" * 64, files=6, rows=678),
    ),
    code_version="cartwh 0.1.0 (abc1234)",
    run_id="8d0c1e8a-0000-4000-8000-000000000000",
    generated_at=datetime(2026, 11, 29, 13, 5, 9, tzinfo=timezone(timedelta(hours=1))),
)


def test_rows_in_reading_order():
    assert PROVENANCE.rows() == [
        ("cut-off", ["2023-03-01"]),
        (
            "deliveries used",
            [
                f"ab 2023-02-01: 5 files, 12,345 rows, sha256 {'a' * 64}",
                f"xz 2023-03-01: 6 files, 678 rows, sha256 {'b' * 64}",
            ],
        ),
        ("code version", ["cartwh 0.1.0 (abc1234)"]),
        ("run id", ["8d0c1e8a-0000-4000-8000-000000000000"]),
        ("generated at", ["2026-11-29 12:05:09 UTC"]),  # printed in UTC
    ]


def test_is_frozen_and_needs_an_aware_time():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PROVENANCE.run_id = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(PROVENANCE, generated_at=datetime(2026, 1, 1))


def test_report_prints_header_and_provenance_table(tmp_path):
    text = build_report({}, [], PROVENANCE, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<p>Data cut-off: 2023-03-01.</p>" in text
    assert text.index("Data cut-off") < text.index("<h2>Results</h2>")
    table = text[text.index("<h2>Provenance</h2>") :]
    for label, lines in PROVENANCE.rows():
        assert f"<tr><td>{label}</td><td>{'<br>'.join(lines)}</td></tr>" in table


def test_report_without_provenance_has_no_cutoff_line(tmp_path):
    text = build_report({}, [], None, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Data cut-off" not in text and "<h2>Provenance</h2>" not in text


def test_utc_stays_utc():
    utc = dataclasses.replace(PROVENANCE, generated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert utc.rows()[-1] == ("generated at", ["2026-01-02 03:04:05 UTC"])
