"""``docs/mapping-files.md`` says what the code does: its settings and its unit list."""

from __future__ import annotations

import csv
import re

from cartwh.ingest.mapping import RESOLVED_DEFAULTS, ColumnMapping, EntityMapping, FileSettings
from cartwh.project import DBT_PROJECT_DIR, PROJECT_ROOT

DOC = (PROJECT_ROOT / "docs" / "mapping-files.md").read_text(encoding="utf-8")


def _table(heading: str) -> list[list[str]]:
    section = DOC.split(heading, 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [[cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_the_doc_lists_every_setting_of_a_file_with_its_canonical_value():
    rows = {r[0].strip("`"): r[1].strip("`") for r in _table("### Settings of a file")}
    assert set(rows) == set(FileSettings.model_fields)
    for name, shown in rows.items():
        value = getattr(RESOLVED_DEFAULTS, name)
        expected = (
            "[" + ", ".join(f'"{v}"' for v in value) + "]" if name == "null_values" else value
        )
        assert shown == str(expected), name
    assert set(EntityMapping.model_fields) - set(FileSettings.model_fields) == {
        "file",
        "sheet",
        "wide",
        "columns",
    }


def test_the_doc_lists_every_column_entry():
    keys = {k.strip("`") for r in _table("### Column entries") for k in r[0].split(", ")}
    assert keys == set(ColumnMapping.model_fields)


def test_the_doc_lists_the_units_of_the_unit_table():
    documented = {
        r[0].strip("`"): (r[1], {u.strip("` ") for u in r[2].split(",")})
        for r in _table("### Units")
    }
    table: dict[str, tuple[str, set[str]]] = {}
    with open(DBT_PROJECT_DIR / "seeds" / "unit_conversions.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            table.setdefault(row["quantity"], (row["to_unit"], set()))[1].add(row["from_unit"])
    assert documented == table
