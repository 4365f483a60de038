"""Issue 9, mapping part: each way a mapping lost rows silently or crashed, now refused or
reported by ``cartwh mapping check`` (exit 1 = problems, 2 = unusable mapping).

The refresh side of these findings (a source column feeding two canonical columns, Excel
numbers of a decimal-comma centre, a unit missing from the unit table) is tested through one
refresh in ``tests/test_onboarding.py``.
"""

from __future__ import annotations

import datetime as dt
import io

import duckdb
import pytest

from cartwh.cli import main
from cartwh.ingest import DeliveryFolder, ensure_centre_tables, load_delivery
from cartwh.ingest.mapping import MappingError, load_mapping_file
from cartwh.ingest.mapping_check import staging_macros
from cartwh.ingest.readers import read_excel_sheet
from tests.conftest import table_digest, write_delivery

INFUSIONS = "ID;NR;DATUM;DOSIS\na1;1;01.02.2023;1e6\na2;1;03.02.2023;2e6\n"


@pytest.fixture
def other_centre(tmp_path, monkeypatch):
    """A warehouse holding another centre's data: a dry run must leave it as it is."""
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        conn.execute("create schema raw")
        conn.execute("create table raw.xz__patients as select 'p1' as centre_patient_id")
        digest = table_digest(conn, "select * from raw.xz__patients")
    monkeypatch.setenv("CARTWH_WAREHOUSE", str(path))
    yield
    with duckdb.connect(str(path), read_only=True) as conn:
        assert table_digest(conn, "select * from raw.xz__patients") == digest


def _check(tmp_path, capsys, mapping: str, files: dict[str, str | bytes]) -> tuple[int, str]:
    path = tmp_path / "ab.yml"
    path.write_text(mapping, encoding="utf-8")
    folder = write_delivery(tmp_path / "landing", "ab", "2023-03-01", files)
    code = main(["mapping", "check", str(path), "--delivery", str(folder)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# --- one source column feeding two canonical columns ---------------------------------------

LABS_ONE_SOURCE = """
centre_code: ab
defaults: {separator: ";", date_format: "%d.%m.%Y"}
entities:
  labs:
    file: lab.csv
    columns:
      centre_patient_id: ID
      sample_date: DATUM
      analyte: {source: TEST, codes: {IL6: il6, CRP: crp}}
      unit: {source: TEST, codes: {IL6: ng/ml, CRP: mg/dl}}
      value: WERT
"""


def test_one_source_column_for_two_canonical_columns_loads(tmp_path, capsys, other_centre):
    code, out = _check(
        tmp_path,
        capsys,
        LABS_ONE_SOURCE,
        {"lab.csv": "ID;DATUM;TEST;WERT\na1;01.02.2023;IL6;0.5\na1;02.02.2023;CRP;1\n"},
    )
    assert code == 0, out
    assert "0 problems" in out
    # the raw tables of the refresh: one raw column per distinct source column
    conn = duckdb.connect()
    mapping = load_mapping_file(tmp_path / "ab.yml")
    folder = tmp_path / "landing" / "ab" / "2023-03-01"
    delivery = DeliveryFolder("ab", "2023-03-01", folder)
    private_tmp = tmp_path / "work" / "tmp"
    assert load_delivery(conn, delivery, mapping, private_tmp=private_tmp).status == ("loaded")
    ensure_centre_tables(conn, mapping)  # raised 'Column with name "TEST" already exists!'
    columns = conn.execute(
        "select column_name from information_schema.columns where table_name = 'ab__labs'"
    ).fetchall()
    assert [c for (c,) in columns if not c.startswith("_")] == ["ID", "DATUM", "TEST", "WERT"]


# --- decimal and thousands marks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("decimal", "thousands", "text", "expected"),
    [
        (",", ".", "1.234,5", 1234.5),
        (",", ".", "0,001", 0.001),
        (",", ".", "1.234", 1234.0),
        (",", ".", "4.9", None),  # a thousands mark not between groups of three digits
        (",", ".", "12.34", None),
        (",", ".", "1.23.456", None),
        (",", "none", "4,9", 4.9),
        (",", "none", "4.9", None),  # '.' is no mark of this layout: not 49
        (",", "none", "1,1e6", 1.1e6),
        (",", "none", "1,2,3", None),
        (".", "none", "4.9", 4.9),
        (".", "none", "1e-07", 1e-07),
        (".", "none", "-0.5", -0.5),
        (".", "none", "1,234", None),
        (".", "none", "inf", None),
        (".", ",", "1,234.5", 1234.5),
        (".", ",", "1,23", None),
        (".", " ", "1 234 567.5", 1234567.5),
        (",", "'", "1'234,5", 1234.5),
        (",", "'", "12'34", None),
    ],
)
def test_numbers_follow_the_declared_marks_exactly(decimal, thousands, text, expected):
    sql = staging_macros().parse_number("t", decimal, thousands)
    [(value,)] = duckdb.execute(f"select {sql} from (select $1 as t)", [text]).fetchall()
    assert value == expected


def test_a_dot_under_a_dot_thousands_mark_is_a_problem_of_the_dry_run(
    tmp_path, capsys, other_centre
):
    mapping = LABS_ONE_SOURCE.replace(
        'separator: ";",', 'separator: ";", decimal: ",", thousands: ".",'
    )
    code, out = _check(
        tmp_path,
        capsys,
        mapping,
        {"lab.csv": "ID;DATUM;TEST;WERT\na1;01.02.2023;IL6;4.9\na1;02.02.2023;CRP;1.234,5\n"},
    )
    assert code == 1
    assert (
        "ERROR [unparsable] labs: value <- 'WERT': 1 of 2 rows are not numbers with decimal "
        "mark ',' and thousands mark '.': '4.9' x1" in out
    )


def test_decimal_and_thousands_marks_must_differ(tmp_path, capsys, other_centre):
    mapping = LABS_ONE_SOURCE.replace('separator: ";",', 'separator: ";", thousands: ".",')
    code, out = _check(tmp_path, capsys, mapping, {"lab.csv": "ID\n"})
    assert code == 2
    assert "entity labs, column centre_patient_id: decimal and thousands marks are both '.'" in out


def _workbook(rows: list[list]) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Labs")
    stamp = book.add_format({"num_format": "dd.mm.yyyy hh:mm"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, c, value, stamp)
            elif value is not None:
                sheet.write(r, c, value)
    book.close()
    return buffer.getvalue()


def test_excel_numeric_cells_arrive_as_canonical_numbers(tmp_path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(
        _workbook(
            [
                ["n", "d"],
                [0.001, dt.datetime(2020, 6, 1, 13, 30)],
                [4.9, None],
                [1e-7, None],
                [1234567.0, None],
                [1234.5, None],
            ]
        )  # fmt: skip
    )
    table = read_excel_sheet(path, "Labs", 1, within=path.parent).table
    assert table.column("n").to_pylist() == ["0.001", "4.9", "1e-07", "1234567", "1234.5"]
    assert table.column("d").to_pylist()[0] == "2020-06-01T13:30:00"


EXCEL_OF_A_DECIMAL_COMMA_CENTRE = """
centre_code: ab
defaults: {separator: ";", decimal: ",", thousands: ".", date_format: "%d.%m.%Y"}
entities:
  labs:
    format: excel
    file: lab.xlsx
    sheet: Labs
    columns:
      centre_patient_id: ID
      sample_date: DATUM
      analyte: {source: TEST, codes: {IL6: il6, CRP: crp}}
      unit: {source: TEST, codes: {IL6: ng/ml, CRP: mg/dl}}
      value: WERT
"""


def test_the_marks_of_a_decimal_comma_centre_never_apply_to_excel_cells(
    tmp_path, capsys, other_centre
):
    book = _workbook(
        [
            ["ID", "DATUM", "TEST", "WERT"],
            ["a1", dt.datetime(2023, 2, 1, 8), "IL6", 0.001],
            ["a1", "02.02.2023", "CRP", 4.9],
            ["a2", "03.02.2023", "CRP", "4,9"],
        ]  # fmt: skip
    )
    code, out = _check(tmp_path, capsys, EXCEL_OF_A_DECIMAL_COMMA_CENTRE, {"lab.xlsx": book})
    assert code == 1
    # the numeric cells parse as they are; a number typed as text with a comma is reported
    assert (
        "ERROR [unparsable] labs: value <- 'WERT': 1 of 3 rows are not Excel numbers "
        "(numeric cells, or text with decimal mark '.'): '4,9' x1" in out
    )
    assert "1 problems" in out
    mapping = load_mapping_file(tmp_path / "ab.yml")
    assert mapping.number_marks("labs", "value") == (".", "none")


def test_marks_set_on_an_excel_entity_are_refused(tmp_path, capsys, other_centre):
    mapping = EXCEL_OF_A_DECIMAL_COMMA_CENTRE.replace("    sheet: Labs\n", "    sheet: Labs\n"
                                                      '    decimal: ","\n')  # fmt: skip
    code, out = _check(tmp_path, capsys, mapping, {"lab.xlsx": b""})
    assert code == 2
    assert (
        "entity labs: decimal/thousands marks apply to CSV files only; Excel numeric cells "
        "arrive as numbers (remove the setting)" in out
    )


# --- the dry run is as strict as the refresh --------------------------------------------------


def test_a_unit_missing_from_the_unit_table_is_refused_by_the_dry_run(
    tmp_path, capsys, other_centre
):
    mapping = (
        "centre_code: ab\nentities:\n  patients:\n"
        "    columns: {centre_patient_id: ID, weight_kg: {source: W, unit: stone}}\n"
    )
    code, out = _check(tmp_path, capsys, mapping, {"patients.csv": "ID,W\na1,11\n"})
    assert code == 2
    assert (
        "centre ab, entity patients, column weight_kg: unit 'stone' has no conversion in the "
        "unit table (dbt_project/seeds/unit_conversions.csv); units available for weight_kg: "
        "kg, lb" in out
    )
    assert "Traceback" not in out


WIDE = """
centre_code: ab
defaults: {separator: ";", date_format: "%d.%m.%Y"}
entities:
  infusions:
    file: inf.csv
    columns: {centre_patient_id: ID, infusion_number: NR, infusion_date: DATUM,
              cell_dose_per_kg: DOSIS}
  daily_observations:
    file: obs.csv
    wide:
      pattern: '^(?P<measure>[A-Z]+)_D(?P<day>[0-9]+)$'
    columns:
      centre_patient_id: ID
      hypotension: {source: HYPO, codes: {"Y": "yes", "N": "no"}}
      tmax_c: {source: TEMP, unit: degF}
"""


def test_code_values_of_a_wide_layout_are_checked(tmp_path, capsys, other_centre):
    code, out = _check(
        tmp_path,
        capsys,
        WIDE,
        {
            "inf.csv": INFUSIONS,
            "obs.csv": "ID;HYPO_D0;HYPO_D1;TEMP_D0;TEMP_D1\na1;Y;y;100;101\na2;N;Yes;99;x\n"
            "a9;N;N;99;99\n",
        },
    )
    assert code == 1
    assert (
        "ERROR [unknown_code] daily_observations: hypotension <- 'HYPO': 2 of 6 rows have a "
        "value not in the codes of the mapping: 'Yes' x1, 'y' x1" in out
    )
    assert (
        "ERROR [unparsable] daily_observations: tmax_c <- 'TEMP': 1 of 6 rows are not numbers "
        "with decimal mark '.' and thousands mark none: 'x' x1" in out
    )
    assert (
        "ERROR [no_index_infusion] daily_observations: obs_date: 2 of 6 rows cannot be dated: "
        "the patient has no index infusion in this delivery" in out
    )


def test_a_required_date_column_that_never_parses_fails_the_dry_run(tmp_path, capsys, other_centre):
    code, out = _check(
        tmp_path,
        capsys,
        WIDE.replace('date_format: "%d.%m.%Y"', 'date_format: "%Y-%m-%d"'),
        {"inf.csv": INFUSIONS, "obs.csv": "ID;HYPO_D0\na1;Y\n"},
    )
    assert code == 1
    assert (
        "ERROR [unparsable] infusions: infusion_date <- 'DATUM': 2 of 2 rows are not dates in "
        "format '%Y-%m-%d': '01.02.2023' x1, '03.02.2023' x1" in out
    )


def test_values_of_phi_columns_are_never_shown(tmp_path, capsys, other_centre):
    mapping = (
        "centre_code: ab\nentities:\n  patients:\n"
        "    columns: {centre_patient_id: ID, date_of_birth: GEB}\n"
    )
    code, out = _check(tmp_path, capsys, mapping, {"patients.csv": "ID,GEB\na1,2.3.1961\n"})
    assert code == 1
    assert (
        "ERROR [unparsable] patients: date_of_birth <- 'GEB': 1 of 1 rows are not dates in "
        "format 'iso' (values not shown: PHI)" in out
    )
    assert "1961" not in out


def test_codes_on_a_text_column_are_refused(tmp_path, capsys, other_centre):
    mapping = (
        "centre_code: ab\nentities:\n  infusions:\n"
        "    columns: {product_name: {source: P, codes: {K: Kymriah}}}\n"
    )
    code, out = _check(tmp_path, capsys, mapping, {"infusions.csv": "P\nK\n"})
    assert code == 2
    assert (
        "entity infusions, column product_name: 'codes' is only for code columns, and "
        "product_name is text; remove codes" in out
    )


@pytest.mark.parametrize(
    ("codes", "message"),
    [
        ("{yes: yes}", "codes: the key True is not text"),
        ('{"ja": no}', "codes.ja: the value False is not text"),
        ("{1: m}", "codes: the key 1 is not text"),
    ],
)
def test_unquoted_yaml_codes_name_the_field_and_the_fix(
    tmp_path, capsys, other_centre, codes, message
):
    mapping = (
        "centre_code: ab\nentities:\n  patients:\n"
        f"    columns: {{prior_hsct: {{source: S, codes: {codes}}}}}\n"
    )
    code, out = _check(tmp_path, capsys, mapping, {"patients.csv": "S\n1\n"})
    assert code == 2
    assert f"entities.patients.columns.prior_hsct.{message}" in out
    assert 'quote them, e.g. codes: {"yes": "yes", "1": m}' in out
    assert "Input should be a valid string" not in out


def test_a_date_format_that_is_no_strptime_pattern_is_refused(tmp_path):
    path = tmp_path / "ab.yml"
    path.write_text("centre_code: ab\ndefaults: {date_format: dd.mm.yyyy}\nentities: {}\n")
    with pytest.raises(MappingError, match=r"'dd.mm.yyyy' is not iso, excel_serial or a strp"):
        load_mapping_file(path)


def test_an_unquoted_no_for_a_mark_names_the_fix(tmp_path):
    path = tmp_path / "ab.yml"
    path.write_text("centre_code: ab\ndefaults: {thousands: no}\nentities: {}\n")
    with pytest.raises(MappingError, match=r"defaults.thousands: .*\(got False, not text: YAML"):
        load_mapping_file(path)


def test_a_wide_entity_needs_the_patient_column(tmp_path):
    path = tmp_path / "ab.yml"
    path.write_text(
        WIDE.replace("      centre_patient_id: ID\n      hypotension", "      hypotension")
    )
    with pytest.raises(MappingError, match="a wide entity needs the source column of centre_pat"):
        load_mapping_file(path)
