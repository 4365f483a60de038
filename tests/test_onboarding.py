"""Onboarding a fifth centre with a layout of its own takes a mapping file only.

One refresh holds three new centres: ``ov`` (Latin-1, tab separated), ``ow`` (a layout using
every file- and value-level setting of ``docs/mapping-files.md``) and ``owc``, the canonical
twin of ``ow``: the same canonical rows in the canonical layout. ``ow`` must stage exactly
what ``owc`` stages.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from cartwh.cli import EXIT_DATA_WARNINGS
from tests.conftest import TEST_SECRET, inherited_environment, table_digest, write_delivery

MAPPING_OV = """
centre_code: ov
description: Latin-1, tab separated, German headers, weights in pounds, temperatures in °F
defaults: {encoding: latin-1, separator: "\\t", decimal: ",", date_format: "%d/%m/%Y",
           null_values: ["", "k.A."]}
entities:
  patients:
    file: Patienten.txt
    columns:
      centre_patient_id: Fallnummer
      mrn: KIS
      full_name: Name
      date_of_birth: Geburtsdatum
      sex: {source: Geschlecht, codes: {männlich: m, weiblich: f}}
      ph_status: {source: Ph, codes: {pos: positive, neg: negative}}
      prior_therapy_lines: Vortherapien
      relapse_count: Rezidive
      disease_status: {source: Status, codes: {Rezidiv: relapsed, refraktär: refractory}}
      prior_hsct: {source: VorSZT, codes: {ja: "yes", nein: "no"}}
      bm_blasts_pct_pre: Blasten
      weight_kg: {source: Gewicht_lb, unit: lb}
  infusions:
    file: Infusionen.txt
    columns:
      centre_patient_id: Fallnummer
      infusion_number: Nr
      infusion_date: Datum
      cell_dose_per_kg: Dosis
  daily_observations:
    file: Verlauf.txt
    columns:
      centre_patient_id: Fallnummer
      obs_date: Datum
      tmax_c: {source: Tmax_F, unit: degF}
      hypotension: {source: Hypotonie, codes: {ja: "yes", nein: "no"}}
"""

# every setting the docs list: Excel with title rows above the header, a UTF-16 wide file,
# Windows-1252 pipe-separated files with yyyymmddHHMM time stamps, decimal comma and thousands
# dot, a null token, codes (quoted yes/no), units, one source column feeding two columns
MAPPING_OW = """
centre_code: ow
description: every setting of docs/mapping-files.md
defaults: {format: csv, encoding: windows-1252, separator: "|", quote: '"', header_row: 1,
           decimal: ",", thousands: ".", date_format: "%Y%m%d%H%M", null_values: ["", "n/a"]}
entities:
  patients:
    format: excel
    file: ow_export.xlsx
    sheet: Patienten
    header_row: 3
    columns:
      centre_patient_id: Fall
      mrn: KIS
      full_name: Name
      date_of_birth: Geburtsdatum
      sex: {source: Geschlecht, codes: {M: m, W: f}}
      diagnosis_date: Diagnose
      ph_status: {source: Ph, codes: {pos: positive, neg: negative}}
      prior_therapy_lines: Linien
      relapse_count: Rezidive
      disease_status: {source: Status, codes: {Rezidiv: relapsed, refraktär: refractory}}
      prior_hsct: {source: SZT, codes: {"yes": "yes", "no": "no"}}
      bm_blasts_pct_pre: Blasten
      weight_kg: {source: Gewicht, unit: lb}
  infusions:
    file: infusionen.txt
    columns:
      centre_patient_id: Fall
      infusion_number: Nr
      infusion_date: Zeitpunkt
      cell_dose_per_kg: Zellen pro kg
      product_name: Präparat
  daily_observations:
    file: verlauf_wide.csv
    encoding: utf-16
    separator: ","
    decimal: "."
    thousands: none
    wide:
      pattern: '^(?P<measure>[A-Z]+)_D(?P<day>[0-9]+)$'
    columns:
      centre_patient_id: Fall
      tmax_c: {source: TEMP, unit: degF}
      hypotension: {source: HYPO, codes: {J: "yes", N: "no"}}
  labs:
    file: labor.txt
    columns:
      centre_patient_id: Fall
      sample_date: Abnahme
      analyte: {source: Test, codes: {IL-6 ng/mL: il6, Ferritin µg/L: ferritin, CRP mg/dL: crp}}
      unit: {source: Test, codes: {IL-6 ng/mL: ng/ml, Ferritin µg/L: ug/l, CRP mg/dL: mg/dl}}
      value: {source: Wert, thousands: none}
"""

# the canonical rows both ow and its twin owc deliver
TWIN_PATIENTS = [
    # id, mrn, name, born, sex, diagnosed, ph, lines, relapses, status, hsct, blasts, weight lb
    (
        "W-1",
        "M100",
        "Zoë Weiß",
        dt.date(1980, 3, 2),
        "m",
        dt.datetime(2019, 5, 4, 10, 30),
        "negative",
        3,
        1,
        "relapsed",
        "yes",
        0.001,
        154.5,
    ),
    (
        "W-2",
        "M101",
        "Anaïs Groß",
        dt.date(1999, 11, 15),
        "f",
        None,
        "positive",
        2,
        0,
        "refractory",
        "no",
        4.9,
        None,
    ),
]
TWIN_INFUSIONS = [
    ("W-1", 1, dt.datetime(2020, 6, 1, 13, 30), 1100000.0, "Kymriah®"),
    ("W-2", 1, dt.datetime(2021, 1, 10, 15, 45), 2500000.5, None),
]
TWIN_OBS = [  # id, study day, tmax in °F, hypotension
    ("W-1", 0, 100.4, "yes"),
    ("W-1", 1, 98.6, "no"),
    ("W-2", 0, 104.0, None),
]
TWIN_LABS = [  # id, time stamp, analyte, unit, value
    ("W-1", dt.datetime(2020, 6, 2, 7, 0), "il6", "ng/ml", 1.5),
    ("W-1", dt.datetime(2020, 6, 2, 7, 0), "ferritin", "ug/l", 1234.5),
    ("W-2", dt.datetime(2021, 1, 11, 8, 15), "crp", "mg/dl", 0.8),
]
TEST_NAMES = {"il6": "IL-6 ng/mL", "ferritin": "Ferritin µg/L", "crp": "CRP mg/dL"}
CODES_OW = {"m": "M", "f": "W", "negative": "neg", "positive": "pos", "relapsed": "Rezidiv",
            "refractory": "refraktär", "yes": "yes", "no": "no"}  # fmt: skip
INDEX = {i: d.date() for i, _, d, _, _ in TWIN_INFUSIONS}


def _german(number: float) -> str:
    """1234.5 -> '1.234,5' (thousands dot, decimal comma)."""
    whole, _, fraction = f"{number:,}".partition(".")
    whole = whole.replace(",", ".")
    return whole + ("," + fraction if fraction and fraction != "0" else "")


def _canonical(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _csv(header: list[str], rows: list[tuple], separator: str = ",") -> str:
    lines = [separator.join(header)]
    lines += [separator.join(_canonical(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def _ow_workbook() -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Patienten")
    date_cell = book.add_format({"num_format": "dd.mm.yyyy"})
    stamp_cell = book.add_format({"num_format": "dd.mm.yyyy hh:mm"})
    sheet.write(0, 0, "CAR-T Registerexport")  # title rows above the header
    sheet.write(1, 0, "Stand: 01.03.2023")
    header = ["Fall", "KIS", "Name", "Geburtsdatum", "Geschlecht", "Diagnose", "Ph", "Linien",
              "Rezidive", "Status", "SZT", "Blasten", "Gewicht"]  # fmt: skip
    sheet.write_row(2, 0, header)
    for r, p in enumerate(TWIN_PATIENTS, start=3):
        sheet.write_string(r, 0, p[0])
        sheet.write_string(r, 1, p[1])
        sheet.write_string(r, 2, p[2])
        sheet.write_datetime(r, 3, dt.datetime.combine(p[3], dt.time()), date_cell)
        sheet.write_string(r, 4, CODES_OW[p[4]])
        if p[5] is not None:
            sheet.write_datetime(r, 5, p[5], stamp_cell)
        sheet.write_string(r, 6, CODES_OW[p[6]])
        sheet.write_number(r, 7, p[7])
        sheet.write_number(r, 8, p[8])
        sheet.write_string(r, 9, CODES_OW[p[9]])
        sheet.write_string(r, 10, CODES_OW[p[10]])
        sheet.write_number(r, 11, p[11])  # numeric cells: 0.001 and 4.9, never 1 and 49
        if p[12] is None:
            sheet.write_string(r, 12, "n/a")
        else:
            sheet.write_number(r, 12, p[12])
    book.close()
    return buffer.getvalue()


def _ow_files() -> dict[str, bytes]:
    cp1252 = lambda text: text.encode("windows-1252")  # noqa: E731
    infusions = "Fall|Nr|Zeitpunkt|Zellen pro kg|Präparat\n" + "".join(
        f"{i}|{n}|{d:%Y%m%d%H%M}|{_german(dose)}|{product or ''}\n"
        for i, n, d, dose, product in TWIN_INFUSIONS
    )
    labs = "Fall|Abnahme|Test|Wert\n" + "".join(
        f"{i}|{d:%Y%m%d%H%M}|{TEST_NAMES[a]}|{str(v).replace('.', ',')}\n"
        for i, d, a, _, v in TWIN_LABS
    )
    by_patient: dict[str, dict[str, str]] = {}
    for i, day, temp, hypo in TWIN_OBS:
        cells = by_patient.setdefault(i, {})
        cells[f"TEMP_D{day}"] = repr(temp)
        cells[f"HYPO_D{day}"] = {"yes": "J", "no": "N", None: ""}[hypo]
    wide_columns = ["TEMP_D0", "HYPO_D0", "TEMP_D1", "HYPO_D1"]
    wide = (
        "Fall,"
        + ",".join(wide_columns)
        + "\r\n"
        + "".join(
            i + "," + ",".join(cells.get(c, "") for c in wide_columns) + "\r\n"
            for i, cells in by_patient.items()
        )
    )
    return {
        "ow_export.xlsx": _ow_workbook(),
        "infusionen.txt": cp1252(infusions),
        "labor.txt": cp1252(labs),
        "verlauf_wide.csv": wide.encode("utf-16"),
    }


def _owc_files() -> dict[str, str]:
    degc = lambda f: f * 0.5555555555555556 - 17.77777777777778  # noqa: E731
    return {
        "patients.csv": _csv(
            [
                "centre_patient_id",
                "mrn",
                "full_name",
                "date_of_birth",
                "sex",
                "diagnosis_date",
                "ph_status",
                "prior_therapy_lines",
                "relapse_count",
                "disease_status",
                "prior_hsct",
                "bm_blasts_pct_pre",
                "weight_kg",
            ],  # fmt: skip
            [(*p[:12], None if p[12] is None else p[12] * 0.45359237) for p in TWIN_PATIENTS],
        ),
        "infusions.csv": _csv(
            [
                "centre_patient_id",
                "infusion_number",
                "infusion_date",
                "cell_dose_per_kg",
                "product_name",
            ],  # fmt: skip
            TWIN_INFUSIONS,
        ),
        "daily_observations.csv": _csv(
            ["centre_patient_id", "obs_date", "tmax_c", "hypotension"],
            [(i, INDEX[i] + dt.timedelta(days=d), degc(t), h) for i, d, t, h in TWIN_OBS],
        ),
        "labs.csv": _csv(
            ["centre_patient_id", "sample_date", "analyte", "value", "unit"],
            [(i, d, a, v, u) for i, d, a, u, v in TWIN_LABS],
        ),
    }


@pytest.fixture(scope="module")
def onboarded(built):
    return built.conn


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("onboarding")
    mappings = root / "mappings"  # the registry: two centres by mapping file, one canonical
    mappings.mkdir()
    (mappings / "ov.yml").write_text(MAPPING_OV, encoding="utf-8")
    (mappings / "ow.yml").write_text(MAPPING_OW, encoding="utf-8")
    (mappings / "canonical-centres.yml").write_text("centres: [owc]\n", encoding="utf-8")
    write_delivery(root / "landing", "ow", "2023-03-01", _ow_files())
    write_delivery(root / "landing", "owc", "2023-03-01", _owc_files())
    latin1 = lambda text: text.encode("latin-1")  # noqa: E731
    write_delivery(
        root / "landing",
        "ov",
        "2023-03-01",
        {
            "Patienten.txt": latin1(
                "Fallnummer\tKIS\tName\tGeburtsdatum\tGeschlecht\tPh\tVortherapien\tRezidive\t"
                "Status\tVorSZT\tBlasten\tGewicht_lb\n"
                "OV-1\t991\tMüller, Jörg\t02/03/1980\tmännlich\tneg\t3\t1\tRezidiv\tja\t"
                "42,5\t154,3\n"
                "OV-2\t992\tSchäfer, Anna\t15/11/1999\tweiblich\tpos\t2\t0\trefraktär\tnein\t"
                "8\tk.A.\n"
                # an Excel-style '.' in a decimal-comma file: unparsable, never 49
                "OV-3\t993\tKurz, Eva\t01/01/1990\tweiblich\tneg\t1\t0\tRezidiv\tnein\t"
                "4.9\t120\n"
            ),
            "Infusionen.txt": latin1(
                "Fallnummer\tNr\tDatum\tDosis\nOV-1\t1\t01/06/2020\t1,1e6\n"
                "OV-2\t1\t10/01/2021\t2e6\nOV-3\t1\t10/02/2021\t2e6\n"
            ),
            "Verlauf.txt": latin1(
                "Fallnummer\tDatum\tTmax_F\tHypotonie\nOV-1\t06/06/2020\t102,2\tja\n"
                "OV-1\t07/06/2020\t98,6\tnein\n"
            ),
        },
    )
    env = {
        **inherited_environment(),
        "CARTWH_LANDING": str(root / "landing"),
        "CARTWH_MAPPINGS": str(mappings),
        "CARTWH_WAREHOUSE": str(root / "w.duckdb"),
        "CARTWH_OUTPUT": str(root / "output"),
        "CARTWH_DATA": str(root),
        "CARTWH_SECRET": TEST_SECRET,
    }
    result = _refresh(env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    connection = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    yield SimpleNamespace(root=root, env=env, conn=connection)
    connection.close()


def _refresh(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "refresh", "--log-level", "ERROR"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def test_new_centre_flows_to_intermediate_with_codes_units_and_dates(onboarded):
    rows = onboarded.execute(
        "select sex, ph_status, disease_status, prior_hsct, bm_blasts_pct_pre, "
        "round(weight_kg, 2), age_at_infusion from intermediate.int_patients_unioned "
        "where centre_code = 'ov' and bm_blasts_pct_pre is not null "
        "order by bm_blasts_pct_pre desc"
    ).fetchall()
    assert rows == [
        ("m", "negative", "relapsed", "yes", 42.5, 69.99, 40),
        ("f", "positive", "refractory", "no", 8.0, None, 21),
    ]
    temperatures = onboarded.execute(
        "select round(tmax_c, 1), hypotension from intermediate.int_daily_observations_unioned "
        "where centre_code = 'ov' order by 1"
    ).fetchall()
    assert temperatures == [(37.0, "no"), (39.0, "yes")]


def test_a_dot_in_a_decimal_comma_file_is_unparsable_not_a_thousands_mark(onboarded):
    staged = onboarded.execute(
        "select bm_blasts_pct_pre, _violations from staging.stg_ov__patients "
        "where centre_patient_id = 'OV-3'"
    ).fetchall()
    assert staged == [
        (
            None,
            [
                {
                    "column": "bm_blasts_pct_pre",
                    "value": "4.9",
                    "rule": "unparsable",
                    "allowed": "a number with decimal mark ','",
                    "key_field": False,
                }
            ],
        )
    ]


def test_an_invalid_mapping_file_stops_its_own_centre_only(built, onboarded):
    """A unit the unit table cannot convert makes ov's mapping invalid: ov is left out with
    one data warning naming the file and the fix; ow and owc load and stage as before."""
    root, env = built.root, built.env
    patients = "select * from intermediate.int_patients_unioned where centre_code = '{}'"
    before = {c: table_digest(onboarded, patients.format(c)) for c in ("ow", "owc")}
    mappings = root / "mappings-bad-unit"
    shutil.copytree(root / "mappings", mappings)
    (mappings / "ov.yml").write_text(
        MAPPING_OV.replace("{source: Tmax_F, unit: degF}", "{source: Tmax_F, unit: F}"),
        encoding="utf-8",
    )
    copy = root / "w-bad-unit.duckdb"  # the module's warehouse stays as the other tests need it
    shutil.copy(root / "w.duckdb", copy)
    result = _refresh({**env, "CARTWH_MAPPINGS": str(mappings), "CARTWH_WAREHOUSE": str(copy)})
    assert result.returncode == EXIT_DATA_WARNINGS, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr
    problem = (
        f"mapping file {mappings / 'ov.yml'}: centre ov, entity daily_observations, "
        "column tmax_c: unit 'F' has no conversion in the unit table "
        "(dbt_project/seeds/unit_conversions.csv); units available for tmax_c: degC, degF"
    )
    warnings = [line for line in result.stdout.splitlines() if line.startswith("- ov")]
    assert len(warnings) == 1 and problem in warnings[0], result.stdout[-3000:]
    with duckdb.connect(str(copy), read_only=True) as conn:
        assert conn.execute(patients.format("ov")).fetchall() == []
        assert {c: table_digest(conn, patients.format(c)) for c in ("ow", "owc")} == before


def test_no_new_sql_was_written_for_it():
    generated = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "staging"
    hand_written = [p for p in generated.rglob("*.sql") if "generated" not in p.parts]
    assert not [p for p in hand_written if "ov" in p.name]


PROVENANCE = "centre_code, _delivery_id, _source_file, _row_number, _source_day, _violations"


def _rows(conn, relation: str) -> list[tuple]:
    rows = conn.execute(f"select * exclude ({PROVENANCE}) from {relation}").fetchall()
    rounded = [tuple(round(v, 9) if isinstance(v, float) else v for v in r) for r in rows]
    return sorted(rounded, key=repr)


@pytest.mark.parametrize("entity", ["patients", "infusions", "daily_observations", "labs"])
def test_every_setting_stages_what_the_canonical_twin_stages(onboarded, entity):
    staged = _rows(onboarded, f"staging.stg_ow__{entity}")
    assert staged == _rows(onboarded, f"staging.stg_owc__{entity}")
    assert (
        len(staged) == {"patients": 2, "infusions": 2, "daily_observations": 3, "labs": 3}[entity]
    )
    violations = onboarded.execute(
        f"select centre_code, _violations from staging.stg_ow__{entity} where len(_violations) > 0 "
        f"union all select centre_code, _violations from staging.stg_owc__{entity} "
        "where len(_violations) > 0"
    ).fetchall()
    assert violations == []


def test_excel_numbers_of_a_decimal_comma_centre_keep_their_magnitude(onboarded):
    blasts = onboarded.execute(
        "select centre_patient_id, bm_blasts_pct_pre from staging.stg_ow__patients order by 1"
    ).fetchall()
    assert blasts == [("W-1", 0.001), ("W-2", 4.9)]  # not 1 and 49


def test_the_twin_flows_to_intermediate_like_the_canonical_rows(onboarded):
    for table in ("int_patients_unioned", "int_infusions_unioned", "int_labs_unioned"):
        columns = [
            c
            for (c,) in onboarded.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'intermediate' and table_name = ? "
                "and column_name not like '\\_%' escape '\\' "
                "and column_name not in ('centre_code', 'patient_key', 'patient_id')",
                [table],
            ).fetchall()
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        ow, owc = (
            sorted(
                onboarded.execute(
                    f"select {select} from intermediate.{table} where centre_code = ?", [centre]
                ).fetchall(),
                key=repr,
            )
            for centre in ("ow", "owc")
        )
        assert ow and ow == owc, table
