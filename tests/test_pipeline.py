"""The demo consortium through the whole pipeline (one refresh per session)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys

from cartwh.ingest.registry import load_registry
from cartwh.project import DEFAULT_MAPPINGS_DIR
from models.extract_format import ENTITIES
from tests.conftest import OTHER_SECRET, TEST_SECRET, inherited_environment

CENTRES = load_registry(DEFAULT_MAPPINGS_DIR).centres


def test_each_of_the_four_layouts_loads_every_entity(demo):
    loaded = demo.query(
        "select centre_code, entity, sum(rows_read) from raw.deliveries "
        "where status = 'loaded' and delivery_id = (select max(delivery_id) from raw.deliveries d "
        "where d.centre_code = raw.deliveries.centre_code) group by 1, 2"
    )
    rows = {(c, e): n for c, e, n in loaded}
    for centre in CENTRES:
        for entity in ENTITIES:
            assert rows.get((centre, entity), 0) > 0, (centre, entity)
    assert demo.query("select count(*) from raw.deliveries where status = 'rejected'") == [(0,)]


def test_latest_delivery_is_current_and_history_is_kept(demo):
    current = dict(demo.query("select * from raw.current_deliveries"))
    assert current == {c: "2023-03-01" for c in CENTRES}
    for centre in CENTRES:
        deliveries = demo.query(
            f"select distinct _delivery_id from raw.{centre}__patients order by 1"
        )
        assert [d for (d,) in deliveries] == ["2022-09-01", "2023-03-01"]


def test_staging_reaches_every_centre_with_canonical_values(demo):
    for centre in CENTRES:
        [(n, sexes, bad_dates)] = demo.query(
            "select count(*), list(distinct sex order by sex), "
            "count(*) filter (where age_at_infusion is null) "
            "from intermediate.int_patients_unioned where centre_code = ?",
            [centre],
        )
        assert n > 5, centre
        assert set(sexes) <= {"f", "m", None}, (centre, sexes)
        assert bad_dates <= 1, centre
    # a unit that converts, per layout: tj IL-6 ng/mL -> pg/mL happens in intermediate;
    # zj temperatures in °F become plausible °C in staging
    [(low, high)] = demo.query(
        "select min(tmax_c), max(tmax_c) from staging.stg_zj__daily_observations "
        "where tmax_c between 30 and 45"
    )
    assert 35 <= low and high <= 42


def test_no_direct_identifier_leaves_raw_and_staging(demo):
    phi_columns = demo.query(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_schema not in ('raw', 'staging') "
        "and column_name in ('mrn', 'full_name', 'date_of_birth', 'centre_patient_id')"
    )
    # centre ids exist only in the restricted crosswalk and the queries back to the centres
    assert sorted(phi_columns) == [
        ("restricted", "centre_queries", "centre_patient_id"),
        ("restricted", "patient_crosswalk", "centre_patient_id"),
    ]
    with demo.connect() as conn:
        identifiers = {
            v
            for (v,) in conn.execute(
                "select mrn from staging.stg_xz__patients "
                "union select full_name from staging.stg_xz__patients"
            ).fetchall()
            if v
        }
        assert len(identifiers) > 20
        for schema, table in conn.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema not in ('raw', 'staging', 'restricted')"
        ).fetchall():
            columns = [
                c
                for (c, t) in conn.execute(
                    "select column_name, data_type from information_schema.columns "
                    "where table_schema = ? and table_name = ?",
                    [schema, table],
                ).fetchall()
                if t == "VARCHAR"
            ]
            for column in columns:
                values = {
                    v
                    for (v,) in conn.execute(
                        f'select distinct "{column}" from {schema}."{table}"'
                    ).fetchall()
                }
                assert not values & identifiers, (schema, table, column)


def test_patient_key_is_the_hmac_of_centre_and_id(demo):
    from cartwh.transform.plugin import patient_key

    rows = demo.query(
        "select centre_code, centre_patient_id, patient_key "
        "from restricted.patient_crosswalk order by 1, 2 limit 5"
    )
    assert rows
    for centre, patient_id, key in rows:
        assert key == patient_key(TEST_SECRET, centre, patient_id)
        assert key != patient_key(OTHER_SECRET, centre, patient_id)


def test_cli_sql_prints_a_table_and_csv(demo):
    env = {**inherited_environment(), **demo.env()}
    query = "select centre_code, count(*) as n from raw.deliveries group by 1 order by 1"
    table = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "sql", "--warehouse", query],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert table.returncode == 0 and "centre_code" in table.stdout and "(4 rows)" in table.stdout
    as_csv = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "sql", "--warehouse", query, "--format", "csv"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [r["centre_code"] for r in rows] == list(sorted(CENTRES))
    refused = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "sql", "--warehouse", "delete from raw.deliveries"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 1 and "read-only" in refused.stderr.lower()


def test_dagster_definitions_come_from_the_registry_not_the_landing_folder(demo, tmp_path):
    """Raw and dbt assets of the registered centres, whatever folders the landing area holds."""
    import dataclasses

    from orchestration.definitions import build_definitions

    landing = tmp_path / "landing"
    (landing / "fx" / "2023-03-01").mkdir(parents=True)  # a centre nobody registered
    settings = dataclasses.replace(demo.settings(), landing=landing)
    keys = {k.to_user_string() for k in build_definitions(settings).resolve_all_asset_keys()}
    for centre in CENTRES:
        assert f"raw/{centre}__patients" in keys
        assert f"staging/stg_{centre}__patients" in keys
    assert {"intermediate/int_patients_unioned", "restricted/patient_crosswalk"} <= keys
    assert not any("fx" in key for key in keys)


def test_the_dbt_resource_knows_the_version_of_the_dbt_it_runs(tmp_path):
    """The dbt resource does not ask ``dbt --version`` (orchestration/resources.py): the
    version it assumes is the one the executable it runs reports."""
    import re

    from orchestration.resources import dbt_resource

    (tmp_path / "dbt_project.yml").write_text("name: x\nversion: '1'\nprofile: x\n")
    resource = dbt_resource(tmp_path)
    output = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    reported = re.search(r"(\d+\.\d+\.\d+)", output).group(1)
    assert str(resource._cli_version) == reported


def test_dbt_parses_again_only_when_what_it_reads_changed(tmp_path):
    """The definitions load skips ``dbt parse`` when the manifest was parsed from the same
    project files, vars and environment (cartwh/transform/prepare.py)."""
    import json

    from cartwh.settings import read_settings
    from cartwh.transform.prepare import prepare

    env = {"CARTWH_DATA": str(tmp_path), "CARTWH_SECRET": TEST_SECRET}
    settings = read_settings({**env, "CARTWH_CUTOFF": "2023-03-01"})
    registry = load_registry(settings.mappings)
    manifest = settings.dbt_work / "target" / "manifest.json"

    def parsed() -> str:
        return json.loads(manifest.read_text())["metadata"]["invocation_id"]

    prepare(settings, registry)
    first = parsed()
    prepare(settings, registry)
    assert parsed() == first  # same inputs: the manifest is reused
    prepare(read_settings({**env, "CARTWH_CUTOFF": "2023-02-01"}), registry)
    assert parsed() != first  # other vars: parsed again


def test_the_report_reads_only_the_drawn_columns_of_the_daily_table(demo):
    """A row per patient-day is read with the swimmer's columns, the key as a category (a copy
    goes to each drawing process), and the same rows in the same order as the whole table."""
    import pandas as pd

    from analysis_assets.figures import DRAWN_COLUMNS
    from orchestration.assets.analysis import _read_mart

    with demo.connect() as conn:
        [narrow] = _read_mart(conn, ["daily_toxicity"], DRAWN_COLUMNS).values()
        [whole] = _read_mart(conn, ["daily_toxicity"]).values()
    assert list(narrow.columns) == DRAWN_COLUMNS["daily_toxicity"] != list(whole.columns)
    assert isinstance(narrow["patient_key"].dtype, pd.CategoricalDtype)
    assert len(narrow) == len(whole) > 0
    pd.testing.assert_frame_equal(
        narrow.astype({"patient_key": object}), whole[list(narrow.columns)]
    )
