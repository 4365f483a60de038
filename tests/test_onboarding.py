"""Onboarding a fifth centre with a layout of its own takes a mapping file only."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from cartwh.ingest.mapping import DEFAULT_MAPPINGS_DIR
from tests.conftest import write_delivery

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


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory):
    root = tmp_path_factory.mktemp("onboarding")
    mappings = root / "mappings"
    shutil.copytree(DEFAULT_MAPPINGS_DIR, mappings)
    (mappings / "ov.yml").write_text(MAPPING_OV, encoding="utf-8")
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
            ),
            "Infusionen.txt": latin1(
                "Fallnummer\tNr\tDatum\tDosis\nOV-1\t1\t01/06/2020\t1,1e6\n"
                "OV-2\t1\t10/01/2021\t2e6\n"
            ),
            "Verlauf.txt": latin1(
                "Fallnummer\tDatum\tTmax_F\tHypotonie\nOV-1\t06/06/2020\t102,2\tja\n"
                "OV-1\t07/06/2020\t98,6\tnein\n"
            ),
        },
    )
    env = {
        **os.environ,
        "CARTWH_LANDING": str(root / "landing"),
        "CARTWH_MAPPINGS": str(mappings),
        "CARTWH_WAREHOUSE": str(root / "w.duckdb"),
        "CARTWH_DATA": str(root),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "CARTWH_SECRET": "s",
    }
    result = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "refresh", "--log-level", "ERROR"],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    connection = duckdb.connect(str(root / "w.duckdb"), read_only=True)
    yield connection
    connection.close()


def test_new_centre_flows_to_intermediate_with_codes_units_and_dates(onboarded):
    rows = onboarded.execute(
        "select sex, ph_status, disease_status, prior_hsct, bm_blasts_pct_pre, "
        "round(weight_kg, 2), age_at_infusion from intermediate.int_patients_unioned "
        "where centre_code = 'ov' order by bm_blasts_pct_pre desc"
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


def test_no_new_sql_was_written_for_it():
    generated = Path(__file__).resolve().parent.parent / "dbt_project" / "models" / "staging"
    hand_written = [p for p in generated.rglob("*.sql") if "generated" not in p.parts]
    assert not [p for p in hand_written if "ov" in p.name]
