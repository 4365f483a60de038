"""A corpus of bad deliveries, each with its exact outcome: rejected whole with a message that
names the file (and line or row), or loaded with each bad value set to missing and queried, or
its row quarantined when a key field is bad or the row conflicts with another, under a named
rule. Never a traceback. Loader cases run on the loader directly; staging cases share one small
warehouse (one centre per case) built by a single refresh."""

from __future__ import annotations

import hashlib
import json
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
from tests.conftest import TEST_SECRET, inherited_environment

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
    empty_files: int = 0  # as many 0-byte files named junk_<n>.csv besides the files
    links: dict[str, str] = field(default_factory=dict)  # name -> file or folder outside
    skipped: dict[str, str] = field(default_factory=dict)  # ledger rows skipped: file -> reason


def canonical(patients: str | bytes, **others: str | bytes) -> dict[str, str | bytes]:
    """A canonical delivery: its patients file, the required infusions file, and others."""
    return {"patients.csv": patients, "infusions.csv": INFUSIONS, **others}


OUTSIDE_MARKER = "MARKER-OUTSIDE-THE-LANDING-AREA"
LINK_REASON = "symbolic link, not followed: copy the files into the folder"


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
    LoaderCase(
        "empty patients file (0 bytes)",
        canonical(""),
        "file patients.csv: the file is empty (0 bytes), a broken export",
    ),
    LoaderCase(
        "empty optional file (0 bytes)",
        canonical(patients_csv(patient("p1")), **{"labs.csv": ""}),
        "file labs.csv: the file is empty (0 bytes)",
    ),
    LoaderCase(
        "10,000 empty files and no patients file",
        {},
        "no file matching 'patients.csv' (found: junk_00000.csv, junk_00001.csv, ",
        empty_files=10_000,
    ),
    LoaderCase(
        "patients file misnamed",
        {"patient.csv": patients_csv(patient("p1")), "infusions.csv": INFUSIONS},
        "no file matching 'patients.csv' (found: infusions.csv, patient.csv): patients is "
        "required in every delivery",
    ),
    LoaderCase(
        "required file missing",
        {"patients.csv": patients_csv(patient("p1"))},
        "no file matching 'infusions.csv' (found: patients.csv)",
    ),
    LoaderCase(
        "wrong header: no column of the layout",
        canonical("name,birthday\nJane,1990-01-01\n"),
        "file patients.csv: the header lacks the required columns centre_patient_id, mrn, "
        "full_name, date_of_birth, sex, ph_status, prior_therapy_lines, relapse_count, "
        "disease_status, prior_hsct, bm_blasts_pct_pre (found: name, birthday)",
    ),
    LoaderCase(
        "missing required column",
        canonical(
            patients_csv(
                "p1,Mp1,N,1990-01-01,negative,2,1,relapsed,no,12.5,60",
                header=PATIENTS_HEADER.replace("sex,", ""),
            )
        ),
        "file patients.csv: the header lacks the required columns sex (found: "
        "centre_patient_id, mrn,",
    ),
    LoaderCase(
        "duplicated header column (ignoring case)",
        canonical(patients_csv(patient("p1") + ",m", header=PATIENTS_HEADER + ",SEX")),
        "file patients.csv: the header repeats the columns SEX, sex (compared ignoring case)",
    ),
    LoaderCase(
        "patients file is a link to a file outside the landing area",
        {"infusions.csv": INFUSIONS},
        "no file matching 'patients.csv' (found: infusions.csv)",
        links={"patients.csv": "outside.csv"},
        skipped={"patients.csv": LINK_REASON},
    ),
    LoaderCase(
        "a folder inside the delivery is a link to a folder outside",
        canonical(patients_csv(patient("p1"))),
        rows={"patients": 1},
        links={"extra": "outside_folder"},
        skipped={"extra": LINK_REASON},
    ),
    LoaderCase(
        "header only",
        canonical(PATIENTS_HEADER + "\n"),
        rows={"patients": 0},
    ),
    LoaderCase(
        "truncated file",
        canonical(patients_csv(patient("p1")) + 'p2,Mp2,"Nam'),
        "file patients.csv, line 3: Value with unterminated quote found",
    ),
    LoaderCase(
        "too many fields",
        canonical(patients_csv(patient("p1"), patient("p2") + ",x")),
        "file patients.csv, line 3: Expected Number of Columns: 12 Found: 13",
    ),
    LoaderCase(
        "too few fields",
        canonical(patients_csv("p1,M1")),
        "file patients.csv, line 2: Expected Number of Columns: 12 Found: 2",
    ),
    LoaderCase(
        "wrong encoding",
        canonical(patients_csv(patient("p1", full_name="Jörg")).encode("latin-1")),
        "file patients.csv, line 2: Invalid unicode",
    ),
    LoaderCase("BOM", canonical("\ufeff" + patients_csv(patient("p1"))), rows={"patients": 1}),
    LoaderCase(
        "CRLF",
        canonical(patients_csv(patient("p1"), patient("p2")).replace("\n", "\r\n")),
        rows={"patients": 2},
    ),
    LoaderCase(
        "quoted separators and line breaks",
        canonical(patients_csv(patient("p1", full_name='"Doe, Jane\nsecond line"'))),
        rows={"patients": 1},
    ),
    LoaderCase(
        "extra columns",
        canonical(patients_csv(patient("p1") + ",extra", header=PATIENTS_HEADER + ",hobby")),
        rows={"patients": 1},
    ),
    LoaderCase(
        "optional file missing", canonical(patients_csv(patient("p1"))), rows={"patients": 1}
    ),
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
        "Excel sheet without a required column",
        {"export.xlsx": _excel({"Patients": [["Name", "Sex"], ["x", "m"]]})},
        "file export.xlsx[Patients]: the header lacks the required columns ID "
        "(centre_patient_id) (found: Name, Sex)",
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
    for number in range(case.empty_files):
        (folder / f"junk_{number:05d}.csv").touch()
    (tmp_path / "outside.csv").write_text(OUTSIDE_MARKER + "\n" + OUTSIDE_MARKER + "\n")
    (tmp_path / "outside_folder").mkdir()
    (tmp_path / "outside_folder" / "patients.csv").write_text(OUTSIDE_MARKER + "\n")
    for name, target in case.links.items():
        (folder / name).symlink_to(tmp_path / target)
    if case.manifest is not None:
        listing = {n: hashlib.sha256((folder / n).read_bytes()).hexdigest() for n in case.files}
        listing.update(case.manifest)
        (folder / "manifest.json").write_text(json.dumps({"files": listing}))
    conn = duckdb.connect()
    result = load_delivery(
        conn,
        DeliveryFolder("bx", "2023-03-01", folder),
        case.mapping or canonical_mapping("bx"),
        private_tmp=tmp_path / "work" / "tmp",
    )
    skipped = dict(
        conn.execute(
            "select source_file, message from raw.deliveries where status = 'skipped'"
        ).fetchall()
    )
    assert skipped == case.skipped
    ledger_text = str(conn.execute("select * from raw.deliveries").fetchall())
    assert OUTSIDE_MARKER not in ledger_text and "outside" not in ledger_text
    assert len(result.message) < 1000  # one line, however many files the folder holds
    if case.rejected_with:
        assert result.status == "rejected"
        assert "delivery bx/2023-03-01" in result.message
        assert case.rejected_with in result.message, result.message
        assert conn.execute(
            "select count(*) from raw.deliveries where status not in ('rejected', 'skipped')"
        ).fetchall() == [(0,)]
    else:
        assert result.status == "loaded", result.message
        for entity, rows in case.rows.items():
            assert result.rows_by_entity[entity] == rows


# --- staging cases: one centre each, one refresh for all -------------------------------------


LABS_HEADER = "centre_patient_id,sample_date,analyte,value,unit\n"


@dataclass
class StagingCase:
    centre: str
    description: str
    files: dict[str, str]
    # (kind, rule, file, source row): kind is quarantined (the row is held back), nulled (the
    # value is set to missing, the row flows on), plausibility or duplicate_removed, as in
    # restricted.centre_queries. No other kind may name the same (rule, file, row).
    expected: set[tuple[str, str, str, int]]
    # values set to missing: (entity, source row, column) -> what the query says
    messages: dict[tuple[str, int, str], str] = field(default_factory=dict)
    earlier: dict[str, str] | None = None  # an earlier delivery (2023-01-01) of the centre


def _cohort(ids: list[str]) -> dict[str, str]:
    return {
        "patients.csv": patients_csv(*(patient(i) for i in ids)),
        "infusions.csv": "centre_patient_id,infusion_number,infusion_date,cell_dose_per_kg\n"
        + "".join(f"{i},1,2020-03-01,1e6\n" for i in ids),
    }


STAGING_CASES = [
    StagingCase(
        "sb",
        "wrong type",
        {
            "patients.csv": patients_csv(patient("p1", prior_therapy_lines="two")),
            "infusions.csv": INFUSIONS,
        },
        {("nulled", "unparsable", "patients.csv", 1)},
        {("patients", 1, "prior_therapy_lines"): "'two' cannot be read as a whole number"},
    ),
    StagingCase(
        "sc",
        "unknown code",
        {"patients.csv": patients_csv(patient("p1", sex="x")), "infusions.csv": INFUSIONS},
        {("nulled", "unknown_code", "patients.csv", 1)},
        {("patients", 1, "sex"): "sex: 'x' is not one of m, f"},
    ),
    StagingCase(
        "sd",
        "out-of-range value",
        {
            "patients.csv": patients_csv(patient("p1", bm_blasts_pct_pre="150")),
            "infusions.csv": INFUSIONS,
        },
        {("nulled", "out_of_range", "patients.csv", 1)},
        {("patients", 1, "bm_blasts_pct_pre"): "bm_blasts_pct_pre: 150 outside 0–100"},
    ),
    StagingCase(
        "se",
        "impossible date",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p2")),
            "infusions.csv": INFUSIONS.replace("2020-04-01", "2020-02-30"),
        },
        {("quarantined", "unparsable", "infusions.csv", 2)},
    ),
    StagingCase(
        "sf",
        "conflicting duplicate ids",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p1", weight_kg="70")),
            "infusions.csv": INFUSIONS,
        },
        {
            ("quarantined", "conflicting_duplicate", "patients.csv", 1),
            ("quarantined", "conflicting_duplicate", "patients.csv", 2),
        },
    ),
    StagingCase(
        "sg",
        "exact duplicate row",
        {"patients.csv": patients_csv(patient("p1"), patient("p1")), "infusions.csv": INFUSIONS},
        {("duplicate_removed", "exact_duplicate", "patients.csv", 2)},
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
        {("nulled", "out_of_range", "treatments.csv", 1)},
        {("treatments", 1, "dose"): "dose: 0 is not > 0"},
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
        {("plausibility", "event_before_infusion", "follow_up_events.csv", 1)},
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
        {("plausibility", "mg_per_kg_without_weight", "treatments.csv", 1)},
    ),
    StagingCase(
        "sk",
        "integer with decimals",
        {
            "patients.csv": patients_csv(patient("p1", relapse_count="1.5")),
            "infusions.csv": INFUSIONS,
        },
        {("nulled", "unparsable", "patients.csv", 1)},
    ),
    StagingCase(
        "sl",
        "required value empty",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p2")),
            "infusions.csv": INFUSIONS.replace("2020-04-01", ""),
        },
        {("quarantined", "required_missing", "infusions.csv", 2)},
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
        {
            ("quarantined", "required_missing", "infusions.csv", 1),
            ("quarantined", "required_missing", "infusions.csv", 2),
        },
    ),
    StagingCase(
        "sn",
        "bad key fields: an unknown analyte, an unreadable sample date",
        {
            "patients.csv": patients_csv(patient("p1")),
            "infusions.csv": INFUSIONS,
            "labs.csv": LABS_HEADER
            + "p1,2020-03-02,il6,12,pg/ml\n"
            + "p1,2020-03-02,PCT,0.4,pg/ml\n"
            + "p1,2020-13-45,crp,30,mg/l\n",
        },
        {
            ("quarantined", "unknown_code", "labs.csv", 2),
            ("quarantined", "unparsable", "labs.csv", 3),
        },
    ),
    StagingCase(
        "so",
        "a bad value in a non-key lab field (the unit)",
        {
            "patients.csv": patients_csv(patient("p1")),
            "infusions.csv": INFUSIONS,
            "labs.csv": LABS_HEADER + "p1,2020-03-02,il6,12,mmol/L\n",
        },
        {("nulled", "unknown_code", "labs.csv", 1)},
        {("labs", 1, "unit"): "unit: 'mmol/L' is not one of pg/ml, ng/l, ng/ml, ug/l, mg/l, mg/dl"},
    ),
    StagingCase(
        "sp",
        "a bad value in one of two conflicting rows",
        {
            "patients.csv": patients_csv(patient("p1"), patient("p1", sex="U")),
            "infusions.csv": INFUSIONS,
        },
        {
            ("quarantined", "conflicting_duplicate", "patients.csv", 1),
            ("quarantined", "conflicting_duplicate", "patients.csv", 2),
            ("quarantined", "unknown_code", "patients.csv", 2),
        },
    ),
    StagingCase(
        "sr",
        "a patient of the previous delivery dropped (within the share: loaded, queried)",
        _cohort([f"p{k}" for k in range(1, 10)]),
        {("dropped_patient", "patient_dropped", None, None)},
        earlier=_cohort([f"p{k}" for k in range(1, 11)]),
    ),
    StagingCase(
        "sq",
        "several bad values in one row: the rest of the record is kept",
        {
            "patients.csv": patients_csv(
                patient("p1", sex="U", bm_blasts_pct_pre="134.8", weight_kg='"65,5"'), patient("p2")
            ),
            "infusions.csv": INFUSIONS,
        },
        {
            ("nulled", "unknown_code", "patients.csv", 1),
            ("nulled", "out_of_range", "patients.csv", 1),
            ("nulled", "unparsable", "patients.csv", 1),
        },
        {
            ("patients", 1, "sex"): "sex: 'U' is not one of m, f",
            ("patients", 1, "bm_blasts_pct_pre"): "bm_blasts_pct_pre: 134.8 outside 0–100",
            ("patients", 1, "weight_kg"): "weight_kg: '65,5' cannot be read as a number",
        },
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
        for delivery, files in (("2023-01-01", case.earlier), ("2023-03-01", case.files)):
            if files is None:
                continue
            folder = root / "landing" / case.centre / delivery
            folder.mkdir(parents=True)
            for name, content in files.items():
                (folder / name).write_text(content, encoding="utf-8")
    env = {
        **inherited_environment(),
        "CARTWH_LANDING": str(root / "landing"),
        "CARTWH_WAREHOUSE": str(root / "w.duckdb"),
        "CARTWH_DATA": str(root),
        "CARTWH_OUTPUT": str(root / "output"),
        "CARTWH_MAPPINGS": str(mappings),
        "CARTWH_SECRET": TEST_SECRET,
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
            "select kind, rule, source_file, source_row_number from restricted.centre_queries "
            "where centre_code = ?",
            [case.centre],
        ).fetchall()
    )
    assert case.expected <= found, found
    expected_rows = {(rule, file, row): kind for kind, rule, file, row in case.expected}
    other_kinds = {item for item in found if expected_rows.get(item[1:], item[0]) != item[0]}
    assert not other_kinds, other_kinds  # e.g. a value both nulled and quarantined
    statuses = dict(
        conn.execute(
            "select status, count(*) from quality.reconciliation where centre_code = ? group by 1",
            [case.centre],
        ).fetchall()
    )
    assert "lost" not in statuses
    for (entity, row, column), message in case.messages.items():
        what = conn.execute(
            "select what from restricted.centre_queries where centre_code = ? and entity = ? "
            "and source_row_number = ? and source_column = ? and kind = 'nulled'",
            [case.centre, entity, row, column],
        ).fetchall()
        assert len(what) == 1 and message in what[0][0], what


def _nulled_cases():
    return [c for c in STAGING_CASES if any(kind == "nulled" for kind, *_ in c.expected)]


@pytest.mark.parametrize("case", _nulled_cases(), ids=lambda c: c.description)
def test_a_bad_non_key_value_is_nulled_and_its_row_flows_on(case: StagingCase, corpus):
    conn, _, _ = corpus
    for kind, rule, file, row in case.expected:
        if kind != "nulled":
            continue
        entity = file.removesuffix(".csv")
        [(status,)] = conn.execute(
            "select status from quality.reconciliation where centre_code = ? and entity = ? "
            "and source_row_number = ?",
            [case.centre, entity, row],
        ).fetchall()
        assert status == "passed"
        nulled = conn.execute(
            "select column_name from quality.nulled_fields where centre_code = ? and entity = ? "
            "and source_row_number = ? and rule = ?",
            [case.centre, entity, row, rule],
        ).fetchall()
        assert nulled, (entity, row, rule)
        for (column,) in nulled:
            if column in ("mrn", "full_name", "date_of_birth"):
                continue
            [(value,)] = conn.execute(
                f"select {column} from intermediate.int_{entity}_accepted "
                "where centre_code = ? and _row_number = ?",
                [case.centre, row],
            ).fetchall()
            assert value is None, (entity, row, column, value)
    assert not conn.execute(
        "select * from quality.quarantine where centre_code = ?", [case.centre]
    ).fetchall()


def test_a_dropped_patient_is_queried_back_to_the_centre(corpus):
    conn, _, _ = corpus
    assert conn.execute(
        "select delivery_id, centre_patient_id, what from restricted.centre_queries "
        "where kind = 'dropped_patient'"
    ).fetchall() == [
        (
            "2023-03-01",
            "p10",
            "patient p10 of delivery 2023-01-01 is not in this delivery: confirm it was meant "
            "(e.g. consent withdrawn) or send a delivery that includes the patient",
        )
    ]


def test_the_rest_of_a_record_with_bad_values_is_kept(corpus):
    conn, _, _ = corpus
    rows = conn.execute(
        "select p.sex, p.bm_blasts_pct_pre, p.weight_kg, p.ph_status, p.prior_therapy_lines, "
        "p.relapse_count, p.disease_status, p.prior_hsct, p.age_at_infusion "
        "from intermediate.int_patients_accepted p join restricted.patient_crosswalk c "
        "using (patient_key) where c.centre_code = 'sq' and c.centre_patient_id = 'p1'"
    ).fetchall()
    assert rows == [(None, None, None, "negative", 2, 1, "relapsed", "no", 30)]
    [(sex, blasts, age)] = conn.execute(
        "select o.sex, o.bm_blasts_pct_pre, o.age_at_infusion from mart.patient_outcomes o "
        "join restricted.patient_crosswalk c using (patient_key) "
        "where c.centre_code = 'sq' and c.centre_patient_id = 'p1'"
    ).fetchall()
    assert (sex, blasts, age) == (None, None, 30)


def test_every_row_and_every_value_is_accounted_for(corpus):
    conn, _, _ = corpus
    [(unaccounted, breaches, nulled, held, copies)] = conn.execute(
        "select count(*) filter (where fields_unaccounted <> 0), sum(field_breaches), "
        "sum(nulled_fields), sum(quarantined_breaches), sum(removed_copy_breaches) "
        "from quality.reconciliation"
    ).fetchall()
    assert unaccounted == 0 and breaches == nulled + held + copies
    assert nulled >= 9 and held >= 6
    assert conn.execute("select count(*) from quality.nulled_fields").fetchall() == [(nulled,)]
    assert conn.execute(
        "select count(*) from quality.quarantine where rule <> 'conflicting_duplicate'"
    ).fetchall() == [(held,)]
    failed = conn.execute(
        "select centre_code from quality.check_results "
        "where check_name = 'reconciliation_balanced' and numerator > 0"
    ).fetchall()
    assert failed == []


def test_catalogue_counts_nulled_and_quarantined_rows(corpus):
    conn, _, _ = corpus
    counts = dict(
        conn.execute(
            "select centre_code || '/' || table_name || '/' || check_name, numerator "
            "from quality.check_results where check_name in "
            "('unknown_code', 'out_of_range', 'unparsable', 'required_missing') and numerator > 0"
        ).fetchall()
    )
    assert counts["sq/patients/unknown_code"] == 1  # nulled
    assert counts["sq/patients/out_of_range"] == 1  # nulled
    assert counts["sn/labs/unknown_code"] == 1  # quarantined
    assert counts["se/infusions/unparsable"] == 1  # quarantined


def test_missing_infusion_dates_block_the_analyses(corpus):
    conn, refresh, quality = corpus
    blocking = conn.execute(
        "select centre_code, check_name from quality.check_results "
        "where status = 'failed' and severity = 'blocking'"
    ).fetchall()
    assert ("sm", "index_infusion_missing") in blocking
    assert quality.returncode == 1 and "blocking check(s) failed" in quality.stderr
    assert refresh.returncode == 1 and "Traceback" not in refresh.stderr
    # one message: the check, the rule, the centre and counts, where to look
    assert "check failed: quality/check_results blocking_quality_checks_pass" in refresh.stderr
    assert "  sm delivery 2023-03-01, infusions: index_infusion_missing: " in refresh.stderr
    assert "Patients without an accepted index infusion" in refresh.stderr
    assert "see `cartwh quality`" in refresh.stderr
    analysis_tables = conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'analysis'"
    ).fetchall()
    assert analysis_tables == [(0,)]  # the blocking check stopped the analysis assets
