"""Raw load and delivery ledger (issue: foundation)."""

from __future__ import annotations

from pathlib import Path

import pytest
import xlsxwriter

from cartwh.ingest import load_landing as load_landing_into
from cartwh.ingest.mapping import MappingError, load_mapping_file
from cartwh.warehouse import write_lock
from tests.conftest import INFUSIONS_CSV, PATIENTS_CSV, table_digest
from tests.conftest import write_delivery as write_files


def write_delivery(landing, centre, delivery, files, manifest=False):
    """A delivery; a canonical one with patients gets the required infusions file too."""
    if "patients.csv" in files and "infusions.csv" not in files:
        files = {**files, "infusions.csv": INFUSIONS_CSV}
    return write_files(landing, centre, delivery, files, manifest)


def load_landing(conn, landing, mappings=None, progress=None):
    private_tmp = landing.parent / "work" / "tmp"
    return load_landing_into(conn, landing, mappings, progress=progress, private_tmp=private_tmp)


def ledger(conn, centre="xz"):
    return conn.execute(
        "select delivery_id, source_file, entity, status, rows_read, message from raw.deliveries "
        "where centre_code = ? order by delivery_id, source_file",
        [centre],
    ).fetchall()


def statuses(conn, centre="xz"):
    return {(r[0], r[1]): r[3] for r in ledger(conn, centre)}


def test_canonical_delivery_loads_every_cell_as_text(landing, conn):
    patients = "\ufeff" + PATIENTS_CSV.replace("\n", "\r\n")  # BOM and CRLF, as Excel writes
    write_delivery(
        landing, "xz", "2023-03-01", {"patients.csv": patients, "infusions.csv": INFUSIONS_CSV}
    )
    [result] = load_landing(conn, landing)
    assert result.status == "loaded"
    assert result.rows_by_entity == {"patients": 2, "infusions": 2}
    rows = conn.execute(
        "select centre_patient_id, full_name, date_of_birth, _delivery_id, _source_file, "
        "_row_number from raw.xz__patients order by _row_number"
    ).fetchall()
    assert rows == [
        ("p1", "Doe, Jane", "1990-01-02", "2023-03-01", "patients.csv", 1),
        ("p2", "Roe Rick", "1985-05-06", "2023-03-01", "patients.csv", 2),
    ]
    types = dict(
        conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = 'xz__infusions'"
        ).fetchall()
    )
    assert types["cell_dose_per_kg"] == "VARCHAR" and types["infusion_number"] == "VARCHAR"
    assert types["_row_number"] == "BIGINT"
    assert conn.execute(
        "select cell_dose_per_kg from raw.xz__infusions where _row_number = 1"
    ).fetchall() == [("1.1e6",)]


def test_loading_the_same_delivery_twice_changes_nothing(landing, conn):
    write_delivery(landing, "xz", "2023-03-01", {"patients.csv": PATIENTS_CSV})
    load_landing(conn, landing)
    before = (
        table_digest(conn, "select * from raw.deliveries"),
        table_digest(conn, "select * from raw.xz__patients"),
    )
    [again] = load_landing(conn, landing)
    assert again.status == "unchanged"
    after = (
        table_digest(conn, "select * from raw.deliveries"),
        table_digest(conn, "select * from raw.xz__patients"),
    )
    assert before == after


P3 = "p3,M3,Ng Al,2000-01-01,m,1,0,relapsed,no,5,unknown\n"


def test_newer_delivery_supersedes_and_history_is_kept(landing, conn):
    write_delivery(landing, "xz", "2022-09-01", {"patients.csv": PATIENTS_CSV})
    write_delivery(
        landing,
        "xz",
        "2023-03-01",
        {"patients.csv": PATIENTS_CSV + P3},
    )
    write_delivery(landing, "ab", "2022-01-01", {"patients.csv": PATIENTS_CSV})
    load_landing(conn, landing)
    current = dict(conn.execute("select * from raw.current_deliveries").fetchall())
    assert current == {"xz": "2023-03-01", "ab": "2022-01-01"}
    per_delivery = dict(
        conn.execute("select _delivery_id, count(*) from raw.xz__patients group by 1").fetchall()
    )
    assert per_delivery == {"2022-09-01": 2, "2023-03-01": 3}
    # ids sort as text: a suffixed re-issue of the same day supersedes the plain one
    write_delivery(landing, "xz", "2023-03-01b", {"patients.csv": PATIENTS_CSV + P3})
    load_landing(conn, landing)
    assert (
        dict(conn.execute("select * from raw.current_deliveries").fetchall())["xz"] == "2023-03-01b"
    )


def test_changed_content_under_a_loaded_id_is_rejected(landing, conn):
    folder = write_delivery(landing, "xz", "2023-03-01", {"patients.csv": PATIENTS_CSV})
    load_landing(conn, landing)
    loaded = table_digest(conn, "select * from raw.xz__patients")
    (folder / "patients.csv").write_text(PATIENTS_CSV.replace("Roe Rick", "Roe Richard"))
    [result] = load_landing(conn, landing)
    assert result.status == "rejected"
    assert "xz/2023-03-01" in result.message and "patients.csv changed" in result.message
    assert "new delivery id" in result.message
    assert table_digest(conn, "select * from raw.xz__patients") == loaded
    assert dict(conn.execute("select * from raw.current_deliveries").fetchall()) == {
        "xz": "2023-03-01"
    }
    ledger_once = table_digest(conn, "select * from raw.deliveries")
    load_landing(conn, landing)  # the same rejected content again: nothing new
    assert table_digest(conn, "select * from raw.deliveries") == ledger_once


def test_manifest_mismatch_rejects_the_delivery_whole_and_others_still_load(landing, conn):
    folder = write_delivery(
        landing,
        "xz",
        "2023-03-01",
        {"patients.csv": PATIENTS_CSV, "infusions.csv": INFUSIONS_CSV},
        manifest=True,
    )
    (folder / "infusions.csv").write_text(
        INFUSIONS_CSV + "p3,1,2022-01-01,1e6\n"
    )  # after the manifest
    write_delivery(landing, "ab", "2023-03-01", {"patients.csv": PATIENTS_CSV}, manifest=True)
    results = {r.centre_code: r for r in load_landing(conn, landing)}
    assert results["ab"].status == "loaded"
    assert results["xz"].status == "rejected"
    assert "xz/2023-03-01" in results["xz"].message
    assert "infusions.csv does not match its manifest checksum" in results["xz"].message
    assert conn.execute(
        "select count(*) from information_schema.tables where table_name = 'xz__patients'"
    ).fetchall() == [(0,)]
    assert set(statuses(conn).values()) == {"rejected"}
    assert statuses(conn, "ab")[("2023-03-01", "manifest.json")] == "manifest"


def test_manifest_for_another_delivery_is_rejected(landing, conn):
    folder = write_delivery(landing, "xz", "2023-03-01", {"patients.csv": PATIENTS_CSV})
    (folder / "manifest.json").write_text('{"centre_code": "xz", "delivery_id": "2022-01-01"}')
    [result] = load_landing(conn, landing)
    assert result.status == "rejected" and "delivery_id='2022-01-01'" in result.message


def test_unparseable_file_rejects_the_whole_delivery_naming_file_and_line(landing, conn):
    labs = (
        "centre_patient_id,sample_date,analyte,value,unit\n"
        "p1,2020-03-05,il6,10,pg/ml\np1,2020-03-06,il6,12,pg/ml,extra\n"
    )
    write_delivery(landing, "xz", "2023-03-01", {"patients.csv": PATIENTS_CSV, "labs.csv": labs})
    write_delivery(landing, "ab", "2023-03-01", {"patients.csv": PATIENTS_CSV})
    results = {r.centre_code: r for r in load_landing(conn, landing)}
    message = results["xz"].message
    assert results["xz"].status == "rejected"
    assert "delivery xz/2023-03-01: file labs.csv, line 3" in message
    assert "Expected Number of Columns: 5 Found: 6" in message
    assert results["ab"].status == "loaded"
    # all or nothing: the good patients file of the rejected delivery is not in raw either
    assert conn.execute(
        "select count(*) from information_schema.tables where table_name = 'xz__patients'"
    ).fetchall() == [(0,)]


def test_rejection_messages_carry_no_cell_content(landing, conn):
    patients = PATIENTS_CSV + 'p3,M003,"Secret, Name",1970-01-01,f,negative,oops\n'
    write_delivery(landing, "xz", "2023-03-01", {"patients.csv": patients})
    [result] = load_landing(conn, landing)
    assert result.status == "rejected" and "line 4" in result.message
    assert "Secret" not in result.message and "M003" not in result.message


def test_unterminated_quote_is_rejected_with_its_line(landing, conn):
    write_delivery(
        landing,
        "xz",
        "2023-03-01",
        {"patients.csv": PATIENTS_CSV + 'p3,M3,"Open quote,1970-01-01,f,negative\n'},
    )
    [result] = load_landing(conn, landing)
    assert result.status == "rejected"
    assert "patients.csv, line 4" in result.message and "unterminated quote" in result.message


def test_empty_file_is_rejected_and_header_only_file_loads_no_rows(landing, conn):
    write_delivery(landing, "xz", "2023-03-01", {"patients.csv": ""})
    write_delivery(
        landing, "ab", "2023-03-01", {"patients.csv": PATIENTS_CSV.splitlines()[0] + "\n"}
    )
    results = {r.centre_code: r for r in load_landing(conn, landing)}
    assert (
        results["xz"].status == "rejected"
        and "patients.csv: the file is empty" in results["xz"].message
    )
    assert results["ab"].status == "loaded" and results["ab"].rows_by_entity["patients"] == 0
    assert conn.execute("select count(*) from raw.ab__patients").fetchall() == [(0,)]


def test_missing_and_unclaimed_files_are_recorded(landing, conn):
    write_delivery(
        landing, "xz", "2023-03-01", {"patients.csv": PATIENTS_CSV, "readme.txt": "hello"}
    )
    load_landing(conn, landing)
    status = statuses(conn)
    assert status[("2023-03-01", "patients.csv")] == "loaded"
    assert status[("2023-03-01", "labs.csv")] == "missing"
    assert status[("2023-03-01", "readme.txt")] == "ignored"


def test_centre_tables_exist_even_without_deliveries(conn):
    from cartwh.ingest import ensure_centre_tables
    from cartwh.ingest.mapping import canonical_mapping

    ensure_centre_tables(conn, canonical_mapping("ab"))
    assert conn.execute("select count(*) from raw.ab__labs").fetchall() == [(0,)]
    columns = [
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns where table_name = 'ab__labs' "
            "order by ordinal_position"
        ).fetchall()
    ]
    assert columns[:2] == ["centre_patient_id", "sample_date"] and "_row_number" in columns


def test_a_rejected_delivery_can_be_fixed_under_the_same_id(landing, conn):
    folder = write_delivery(landing, "xz", "2023-03-01", {"patients.csv": PATIENTS_CSV + "p3,M3\n"})
    assert load_landing(conn, landing)[0].status == "rejected"
    (folder / "patients.csv").write_text(PATIENTS_CSV)
    assert load_landing(conn, landing)[0].status == "loaded"
    assert conn.execute("select count(*) from raw.xz__patients").fetchall() == [(2,)]
    kinds = {r[3] for r in ledger(conn)}
    assert kinds == {"rejected", "loaded", "missing"}  # the failed attempt stays in the ledger


def test_later_delivery_with_new_columns_widens_the_raw_table(landing, conn):
    write_delivery(landing, "xz", "2022-01-01", {"patients.csv": PATIENTS_CSV})
    write_delivery(
        landing,
        "xz",
        "2023-01-01",
        {
            "patients.csv": PATIENTS_CSV.replace("ph_status\n", "ph_status,weight_kg\n")
            .replace("negative\n", "negative,61.5\n")
            .replace("positive\n", "positive,80\n")
        },
    )
    load_landing(conn, landing)
    rows = conn.execute(
        "select _delivery_id, weight_kg from raw.xz__patients "
        "where centre_patient_id = 'p1' order by 1"
    ).fetchall()
    assert rows == [("2022-01-01", None), ("2023-01-01", "61.5")]


MAPPING_ZZ = """
centre_code: zz
description: semicolon GB18030
defaults: {encoding: gb18030, separator: ";", decimal: ",", date_format: "%d.%m.%Y"}
entities:
  patients:
    file: 患者.csv
    columns:
      centre_patient_id: 编号
      sex: {source: 性别, codes: {男: m, 女: f}}
"""


def test_gb18030_semicolon_file_is_transcoded(landing, conn, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "zz.yml").write_text(MAPPING_ZZ, encoding="utf-8")
    content = '编号;性别;体重\nz1;男;61,5\nz2;女;"55;0"\n'.encode("gb18030")
    write_delivery(landing, "zz", "2023-03-01", {"患者.csv": content})
    [result] = load_landing(conn, landing, mappings)
    assert result.status == "loaded"
    assert conn.execute(
        "select 编号, 性别, 体重, _row_number from raw.zz__patients order by 4"
    ).fetchall() == [("z1", "男", "61,5", 1), ("z2", "女", "55;0", 2)]


def test_bytes_invalid_in_the_declared_encoding_name_the_line(landing, conn, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "zz.yml").write_text(MAPPING_ZZ, encoding="utf-8")
    content = "编号;性别\nz1;男\n".encode("gb18030") + b"z2;\xff\xff\xff\n"
    write_delivery(landing, "zz", "2023-03-01", {"患者.csv": content})
    [result] = load_landing(conn, landing, mappings)
    assert result.status == "rejected"
    assert "患者.csv, line 3: bytes that are not valid gb18030" in result.message


def test_invalid_utf8_in_a_canonical_file_names_the_line(landing, conn):
    write_delivery(
        landing,
        "xz",
        "2023-03-01",
        {
            "patients.csv": PATIENTS_CSV.encode()
            + b"p3,M3,\xff\xfe,1970-01-01,f,2,1,relapsed,no,12.5,negative\n"
        },
    )
    [result] = load_landing(conn, landing)
    assert result.status == "rejected" and "patients.csv, line 4" in result.message
    assert "Invalid unicode" in result.message


MAPPING_TJ = """
centre_code: tj
defaults: {format: excel, date_format: excel_serial}
entities:
  patients:
    file: export*.xlsx
    sheet: Patients
    columns: {centre_patient_id: PatientID, sex: {source: Gender, codes: {M: m, F: f}}}
  infusions:
    file: export*.xlsx
    sheet: Infusions
    columns: {centre_patient_id: PatientID}
"""


def _workbook(path: Path, sheets: dict[str, list[list]]) -> None:
    book = xlsxwriter.Workbook(str(path))
    for name, rows in sheets.items():
        sheet = book.add_worksheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is not None:
                    sheet.write(r, c, value)
    book.close()


def test_excel_sheets_load_as_text_with_sheet_row_numbers(landing, conn, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "tj.yml").write_text(MAPPING_TJ)
    folder = landing / "tj" / "2023-03-01"
    folder.mkdir(parents=True)
    _workbook(
        folder / "export_2023.xlsx",
        {
            "Patients": [
                ["PatientID", "Gender", "DOB", "Weight"],
                ["T1", "M", 32874, 61.5],
                [None, None, None, None],
                ["T2", "F", 33000, 70],
            ],
            "Infusions": [["PatientID", "InfDate"], ["T1", 43891]],
        },
    )
    [result] = load_landing(conn, landing, mappings)
    assert result.status == "loaded", result.message
    rows = conn.execute(
        "select PatientID, DOB, Weight, _source_file, _row_number "
        "from raw.tj__patients order by _row_number"
    ).fetchall()
    assert rows == [
        ("T1", "32874", "61.5", "export_2023.xlsx[Patients]", 1),
        ("T2", "33000", "70", "export_2023.xlsx[Patients]", 3),
    ]
    assert statuses(conn, "tj")[("2023-03-01", "export_2023.xlsx[Infusions]")] == "loaded"


def test_missing_excel_sheet_rejects_the_delivery(landing, conn, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "tj.yml").write_text(MAPPING_TJ)
    folder = landing / "tj" / "2023-03-01"
    folder.mkdir(parents=True)
    _workbook(folder / "export.xlsx", {"Patients": [["PatientID", "Gender"], ["T1", "M"]]})
    [result] = load_landing(conn, landing, mappings)
    assert result.status == "rejected"
    assert "file export.xlsx: sheet 'Infusions' not found (sheets: Patients)" in result.message


def test_corrupt_workbook_is_rejected(landing, conn, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "tj.yml").write_text(MAPPING_TJ)
    write_delivery(landing, "tj", "2023-03-01", {"export.xlsx": b"PK\x03\x04 truncated"})
    [result] = load_landing(conn, landing, mappings)
    assert result.status == "rejected" and "not a readable Excel workbook" in result.message


def test_unusable_mapping_file_names_itself_and_loads_nothing(landing, conn, tmp_path):
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "zz.yml").write_text("centre_code: zz\nentities:\n  patient:\n    file: p.csv\n")
    with pytest.raises(MappingError, match="zz.yml.*unknown entity 'patient'"):
        load_mapping_file(mappings / "zz.yml")
    write_delivery(landing, "zz", "2023-03-01", {"p.csv": "a\n1\n"})
    [result] = load_landing(conn, landing, mappings)
    assert result.status == "error" and "zz.yml" in result.message
    assert conn.execute("select count(*) from raw.deliveries").fetchall() == [(0,)]


def test_folders_that_are_not_deliveries_are_skipped_with_a_warning(landing, conn):
    write_delivery(landing, "xz", "2023-03-01", {"patients.csv": PATIENTS_CSV})
    (landing / "Bad Centre").mkdir()
    (landing / "stray.csv").write_text("x")
    warnings: list[str] = []
    results = load_landing(conn, landing, progress=warnings.append)
    assert [r.status for r in results] == ["loaded"]
    assert any("Bad Centre: not a centre folder" in w for w in warnings)


def test_write_lock_is_joined_within_a_process_and_released_at_the_end(tmp_path):
    """Between processes it is exclusive (tests/test_refresh_safety.py)."""
    database = tmp_path / "w.duckdb"
    with write_lock(database), write_lock(database, timeout_s=0.3):
        pass
    with write_lock(database, timeout_s=0.3):
        pass


def test_delivery_ids_are_dates_with_a_suffix_ordered_by_date_then_suffix(landing):
    from cartwh.ingest.discovery import discover_deliveries

    for name in ("2023-03-01b", "2023-03-01", "2022-12-31", "latest", "2023-02-30", "2023-03-01B"):
        write_delivery(landing, "xz", name, {"patients.csv": PATIENTS_CSV})
    (landing / "xz" / "notes.txt").write_text("x")
    deliveries, skipped = discover_deliveries(landing)
    assert [d.delivery_id for d in deliveries] == ["2022-12-31", "2023-03-01", "2023-03-01b"]
    reasons = {f.label: f.reason for f in skipped}
    assert sorted(reasons) == ["xz/2023-02-30", "xz/2023-03-01B", "xz/latest", "xz/notes.txt"]
    assert reasons["xz/latest"] == (
        "'latest' is not a delivery id: delivery ids are YYYY-MM-DD with an optional "
        "lower-case suffix (2023-03-01b); rename the folder"
    )


def test_a_missing_landing_folder_is_an_error_not_an_empty_cohort(tmp_path):
    from cartwh.ingest.discovery import discover_deliveries

    with pytest.raises(FileNotFoundError, match="landing folder .* does not exist"):
        discover_deliveries(tmp_path / "nowhere")
