"""A corpus of bad deliveries, each with its exact outcome: rejected whole with a message that
names the file (and line or row), or loaded with the bad rows quarantined under a named rule.
Never a traceback. Loader cases run on the loader directly; staging cases share one small
warehouse (one centre per case) built by a single refresh."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
import xlsxwriter

from cartwh.ingest import load_delivery
from cartwh.ingest.discovery import DeliveryFolder
from cartwh.ingest.mapping import CentreMapping, canonical_mapping

PATIENTS_HEADER = (
    "centre_patient_id,mrn,full_name,date_of_birth,sex,ph_status,prior_therapy_lines,"
    "relapse_count,disease_status,prior_hsct,bm_blasts_pct_pre,weight_kg"
)


def patient(pid: str, **overrides) -> str:
    values = {
        "centre_patient_id": pid,
        "mrn": f"M{pid}",
        "full_name": f"Name {pid}",
        "date_of_birth": "1990-01-01",
        "sex": "f",
        "ph_status": "negative",
        "prior_therapy_lines": "2",
        "relapse_count": "1",
        "disease_status": "relapsed",
        "prior_hsct": "no",
        "bm_blasts_pct_pre": "12.5",
        "weight_kg": "60",
    }
    values.update(overrides)
    return ",".join(values[c] for c in PATIENTS_HEADER.split(","))


def patients_csv(*rows: str, header: str = PATIENTS_HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


INFUSIONS = (
    "centre_patient_id,infusion_number,infusion_date,cell_dose_per_kg\n"
    "p1,1,2020-03-01,1.1e6\np2,1,2020-04-01,1e6\n"
)
GOOD = {"patients.csv": patients_csv(patient("p1"), patient("p2")), "infusions.csv": INFUSIONS}


@dataclass
class LoaderCase:
    name: str
    files: dict[str, str | bytes]
    rejected_with: str | None = None  # substring of the rejection message; None = loads
    rows: dict[str, int] = field(default_factory=dict)
    manifest: dict | None = None
    mapping: CentreMapping | None = None


def _excel(sheets: dict[str, list[list]]) -> bytes:
    import io

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            sheet.write_row(r, 0, row)
    book.close()
    return buffer.getvalue()


EXCEL_MAPPING = CentreMapping.model_validate(
    {
        "centre_code": "bx",
        "defaults": {"format": "excel"},
        "entities": {
            "patients": {
                "file": "export.xlsx",
                "sheet": "Patients",
                "columns": {"centre_patient_id": "ID"},
            }
        },
    }
)
GB_MAPPING = CentreMapping.model_validate(
    {
        "centre_code": "bx",
        "defaults": {"encoding": "gb18030", "separator": ";"},
        "entities": {"patients": {"file": "p.csv", "columns": {"centre_patient_id": "编号"}}},
    }
)

LOADER_CASES = [
    LoaderCase("empty file", {"patients.csv": ""}, "file patients.csv: the file is empty"),
    LoaderCase("header only", {"patients.csv": PATIENTS_HEADER + "\n"}, rows={"patients": 0}),
    LoaderCase(
        "truncated file",
        {"patients.csv": patients_csv(patient("p1")) + 'p2,Mp2,"Nam'},
        "file patients.csv, line 3: Value with unterminated quote found",
    ),
    LoaderCase(
        "too many fields",
        {"patients.csv": patients_csv(patient("p1"), patient("p2") + ",x")},
        "file patients.csv, line 3: Expected Number of Columns: 12 Found: 13",
    ),
    LoaderCase(
        "too few fields",
        {"patients.csv": patients_csv("p1,M1")},
        "file patients.csv, line 2: Expected Number of Columns: 12 Found: 2",
    ),
    LoaderCase(
        "wrong encoding",
        {"patients.csv": patients_csv(patient("p1", full_name="Jörg")).encode("latin-1")},
        "file patients.csv, line 2: Invalid unicode",
    ),
    LoaderCase(
        "BOM", {"patients.csv": "\ufeff" + patients_csv(patient("p1"))}, rows={"patients": 1}
    ),
    LoaderCase(
        "CRLF",
        {"patients.csv": patients_csv(patient("p1"), patient("p2")).replace("\n", "\r\n")},
        rows={"patients": 2},
    ),
    LoaderCase(
        "quoted separators and line breaks",
        {"patients.csv": patients_csv(patient("p1", full_name='"Doe, Jane\nsecond line"'))},
        rows={"patients": 1},
    ),
    LoaderCase(
        "extra columns",
        {"patients.csv": patients_csv(patient("p1") + ",extra", header=PATIENTS_HEADER + ",hobby")},
        rows={"patients": 1},
    ),
    LoaderCase("missing file", {"patients.csv": patients_csv(patient("p1"))}, rows={"patients": 1}),
    LoaderCase(
        "manifest checksum mismatch",
        GOOD,
        "file infusions.csv does not match its manifest checksum",
        manifest={"infusions.csv": "0" * 64},
    ),
    LoaderCase(
        "manifest lists an absent file",
        GOOD,
        "manifest.json lists labs.csv, which is not in the delivery",
        manifest={"labs.csv": "0" * 64},
    ),
    LoaderCase(
        "manifest not JSON",
        {**GOOD, "manifest.json": "{not json"},
        "manifest.json is not valid JSON",
    ),
    LoaderCase(
        "corrupt workbook",
        {"export.xlsx": b"PK\x03\x04garbage"},
        "file export.xlsx: not a readable Excel workbook",
        mapping=EXCEL_MAPPING,
    ),
    LoaderCase(
        "missing sheet",
        {"export.xlsx": _excel({"Other": [["ID"], ["x"]]})},
        "sheet 'Patients' not found (sheets: Other)",
        mapping=EXCEL_MAPPING,
    ),
    LoaderCase(
        "gb18030 with invalid bytes",
        {"p.csv": "编号;性别\nz1;男\n".encode("gb18030") + b"z2;\xff\xfe\n"},
        "file p.csv, line 3: bytes that are not valid gb18030",
        mapping=GB_MAPPING,
    ),
]


@pytest.mark.parametrize("case", LOADER_CASES, ids=lambda c: c.name)
def test_loader_outcome(case: LoaderCase, tmp_path: Path):
    folder = tmp_path / "bx" / "2023-03-01"
    folder.mkdir(parents=True)
    for name, content in case.files.items():
        (folder / name).write_bytes(
            content.encode("utf-8") if isinstance(content, str) else content
        )
    if case.manifest is not None:
        listing = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in case.files}
        listing.update(case.manifest)
        (folder / "manifest.json").write_text(json.dumps({"files": listing}))
    conn = duckdb.connect()
    result = load_delivery(
        conn, DeliveryFolder("bx", "2023-03-01", folder), case.mapping or canonical_mapping("bx")
    )
    if case.rejected_with:
        assert result.status == "rejected"
        assert "delivery bx/2023-03-01" in result.message
        assert case.rejected_with in result.message
        assert conn.execute(
            "select count(*) from raw.deliveries where status <> 'rejected'"
        ).fetchall() == [(0,)]
    else:
        assert result.status == "loaded", result.message
        for entity, rows in case.rows.items():
            assert result.rows_by_entity[entity] == rows


# --- staging cases: one centre each, one refresh for all -------------------------------------


@dataclass
class StagingCase:
    centre: str
    description: str
    files: dict[str, str]
    expected: set[
        tuple[str, str, int]
    ]  # (rule, file, source row) in quality.quarantine or findings


STAGING_CASES = [
    StagingCase(
        "sa",
        "missing required column",
        {
            "patients.csv": patients_csv(
                "p1,Mp1,N,1990-01-01,negative,2,1,relapsed,no,12.5,60",
                header=PATIENTS_HEADER.replace("sex,", ""),
            ),
            "infusions.csv": INFUSIONS,
        },
        {("required_missing", "patients.csv", 1)},
    ),
    StagingCase(
        "sb",
        "wrong type",
        {
            "patients.csv": patients_csv(patient("p1", prior_therapy_lines="two")),
            "infusions.csv": INFUSIONS,
        },
        {("unparsable", "patients.csv", 1)},
    ),
    StagingCase(
        "sc",
        "unknown code",
        {"patients.csv": patients_csv(patient("p1", sex="x")), "infusions.csv": INFUSIONS},
        {("unknown_code", "patients.csv", 1)},
    ),
    StagingCase(
        "sd",
        "out-of-range value",
        {
            "patients.csv": patients_csv(patient("p1", bm_blasts_pct_pre="150")),
            "infusions.csv": INFUSIONS,
        },
        {("out_of_range", "patients.csv", 1)},
    ),
    StagingCase(
        "se",
        "impossible date",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p2")),
            "infusions.csv": INFUSIONS.replace("2020-04-01", "2020-02-30"),
        },
        {("unparsable", "infusions.csv", 2)},
    ),
    StagingCase(
        "sf",
        "conflicting duplicate ids",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p1", weight_kg="70")),
            "infusions.csv": INFUSIONS,
        },
        {
            ("conflicting_duplicate", "patients.csv", 1),
            ("conflicting_duplicate", "patients.csv", 2),
        },
    ),
    StagingCase(
        "sg",
        "exact duplicate row",
        {"patients.csv": patients_csv(patient("p1"), patient("p1")), "infusions.csv": INFUSIONS},
        {("exact_duplicate", "patients.csv", 2)},
    ),
    StagingCase(
        "sh",
        "non-positive dose",
        {
            "patients.csv": patients_csv(patient("p1")),
            "infusions.csv": INFUSIONS,
            "treatments.csv": "centre_patient_id,admin_date,drug,dose,dose_unit\n"
            "p1,2020-03-06,tocilizumab,0,mg\n",
        },
        {("out_of_range", "treatments.csv", 1)},
    ),
    StagingCase(
        "si",
        "event before infusion",
        {
            "patients.csv": patients_csv(patient("p1")),
            "infusions.csv": INFUSIONS,
            "follow_up_events.csv": (
                "centre_patient_id,event_date,event_type\np1,2019-12-01,relapse\n"
            ),
        },
        {("event_before_infusion", "follow_up_events.csv", 1)},
    ),
    StagingCase(
        "sj",
        "mg/kg dose without weight",
        {
            "patients.csv": patients_csv(patient("p1", weight_kg="")),
            "infusions.csv": INFUSIONS,
            "treatments.csv": "centre_patient_id,admin_date,drug,dose,dose_unit,indication\n"
            "p1,2020-03-07,dexamethasone,0.2,mg_per_kg,crs\n",
        },
        {("mg_per_kg_without_weight", "treatments.csv", 1)},
    ),
    StagingCase(
        "sk",
        "integer with decimals",
        {
            "patients.csv": patients_csv(patient("p1", relapse_count="1.5")),
            "infusions.csv": INFUSIONS,
        },
        {("unparsable", "patients.csv", 1)},
    ),
    StagingCase(
        "sl",
        "required value empty",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p2")),
            "infusions.csv": INFUSIONS.replace("2020-04-01", ""),
        },
        {("required_missing", "infusions.csv", 2)},
    ),
    StagingCase(
        "sm",
        "no infusion dates at all (blocking)",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p2")),
            "infusions.csv": (
                "centre_patient_id,infusion_number,infusion_date,cell_dose_per_kg\n"
                "p1,1,,1e6\np2,1,,1e6\n"
            ),
        },
        {("required_missing", "infusions.csv", 1), ("required_missing", "infusions.csv", 2)},
    ),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    mappings = root / "mappings"
    mappings.mkdir()
    centres = sorted({case.centre for case in STAGING_CASES})
    (mappings / "canonical-centres.yml").write_text(f"centres: {centres}\n", encoding="utf-8")
    for case in STAGING_CASES:
        folder = root / "landing" / case.centre / "2023-03-01"
        folder.mkdir(parents=True)
        for name, content in case.files.items():
            (folder / name).write_text(content, encoding="utf-8")
    env = {
        **os.environ,
        "CARTWH_LANDING": str(root / "landing"),
        "CARTWH_WAREHOUSE": str(root / "w.duckdb"),
        "CARTWH_DATA": str(root),
        "CARTWH_OUTPUT": str(root / "output"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "CARTWH_MAPPINGS": str(mappings),
    }
    refresh = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "refresh", "--log-level", "ERROR"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert "Traceback" not in refresh.stderr, refresh.stderr[-3000:]
    quality = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "quality"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    conn = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    yield conn, refresh, quality
    conn.close()


@pytest.mark.parametrize("case", STAGING_CASES, ids=lambda c: c.description)
def test_staging_outcome(case: StagingCase, corpus):
    conn, _, _ = corpus
    found = set(
        conn.execute(
            "select rule, source_file, source_row_number from quality.quarantine "
            "where centre_code = ? "
            "union select check_name, source_file, source_row_number "
            "from quality.plausibility_findings where centre_code = ? "
            "union select 'exact_duplicate', source_file, source_row_number "
            "from quality.reconciliation where centre_code = ? and status = 'duplicate_removed'",
            [case.centre, case.centre, case.centre],
        ).fetchall()
    )
    assert case.expected <= found, found
    statuses = dict(
        conn.execute(
            "select status, count(*) from quality.reconciliation where centre_code = ? group by 1",
            [case.centre],
        ).fetchall()
    )
    assert "lost" not in statuses


def test_missing_infusion_dates_block_the_analyses(corpus):
    conn, refresh, quality = corpus
    blocking = conn.execute(
        "select centre_code, check_name from quality.check_results "
        "where status = 'failed' and severity = 'blocking'"
    ).fetchall()
    assert ("sm", "index_infusion_missing") in blocking
    assert quality.returncode == 1 and "blocking check(s) failed" in quality.stderr
    assert "check failed: quality/check_results blocking_quality_checks_pass" in refresh.stdout
    analysis_tables = conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'analysis'"
    ).fetchall()
    assert analysis_tables == [(0,)]  # the blocking check stopped the analysis assets
