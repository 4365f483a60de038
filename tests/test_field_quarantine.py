"""Field-level quarantine on the demo consortium (issue 9): a bad value in a non-key field is set
to missing and queried back to its centre, naming what its rule allows; the rest of its row
flows on. Only a bad key field (the patient id, the entity's key, the date that anchors the row)
or a conflicting duplicate holds a row back, and every row and every breached value is accounted
for. (The exact outcome of each kind of bad value is in tests/test_bad_deliveries.py.)"""

from __future__ import annotations

import pandas as pd
import pytest

from cartwh.quality import results
from models.extract_format import ENTITIES

PHI = {c.name for e in ENTITIES.values() for c in e.columns if c.phi}


def _key_fields(entity: str) -> set[str]:
    spec = ENTITIES[entity]
    return {"centre_patient_id", *spec.key} | ({spec.date_column} if spec.date_column else set())


@pytest.fixture(scope="module")
def nulled(demo) -> pd.DataFrame:
    with demo.connect() as conn:
        return conn.execute("select * from quality.nulled_fields").df()


def test_the_demo_has_nulled_values_of_every_rule(nulled):
    assert set(nulled["rule"]) >= {"required_missing", "unknown_code", "out_of_range"}
    assert nulled["message"].notna().all()


def test_no_key_field_is_nulled(nulled):
    keyed = nulled[
        nulled.apply(lambda r: r["column_name"] in _key_fields(r["entity"]), axis="columns")
    ]
    assert keyed.empty, keyed.to_string()


def test_rows_held_back_for_a_breach_break_a_key_field(demo):
    with demo.connect() as conn:
        held = conn.execute(
            "select entity, source_file, source_row_number, list(column_name) as columns "
            "from quality.quarantine where rule <> 'conflicting_duplicate' "
            "and (entity, source_file, source_row_number, coalesce(source_day, -1)) not in ("
            "  select entity, source_file, source_row_number, coalesce(source_day, -1) "
            "  from quality.quarantine where rule = 'conflicting_duplicate') "
            "group by all"
        ).df()
    assert len(held) > 0
    without_key = held[
        held.apply(lambda r: not set(r["columns"]) & _key_fields(r["entity"]), axis="columns")
    ]
    assert without_key.empty, without_key.to_string()


def test_nulled_values_are_missing_downstream_and_their_rows_flow_on(demo, nulled):
    patients = nulled[(nulled["entity"] == "patients") & ~nulled["column_name"].isin(PHI)]
    assert len(patients) >= 3
    with demo.connect() as conn:
        for item in patients.itertuples():
            rows = conn.execute(
                f"select {item.column_name}, ph_status, disease_status "
                "from intermediate.int_patients_accepted "
                "where centre_code = ? and _source_file = ? and _row_number = ?",
                [item.centre_code, item.source_file, item.source_row_number],
            ).fetchall()
            assert len(rows) == 1, item
            value, ph_status, disease_status = rows[0]
            assert value is None, item
            if item.column_name not in ("ph_status", "disease_status"):
                assert ph_status is not None and disease_status is not None, item
            mart = conn.execute(
                "select count(*) from mart.patient_outcomes where patient_key = ?",
                [item.patient_key],
            ).fetchall()
            assert mart == [(1,)], item


def test_the_queries_name_the_rule_and_what_it_allows(demo, nulled):
    with demo.connect() as conn:
        queries = conn.execute("select * from restricted.centre_queries where kind = 'nulled'").df()
    assert len(queries) == len(nulled)
    for rule, words in {
        "out_of_range": (" outside ", " is not "),
        "unknown_code": (" is not one of ",),
        "required_missing": (" is required but empty",),
    }.items():
        whats = queries.loc[queries["rule"] == rule, "what"]
        assert len(whats) and all(any(x in w for x in words) for w in whats), rule
    blasts = nulled[
        (nulled["column_name"] == "bm_blasts_pct_pre") & (nulled["rule"] == "out_of_range")
    ]
    for item in blasts.itertuples():
        assert item.message.startswith(f"bm_blasts_pct_pre: {item.value} outside 0–100")


def test_phi_values_are_masked_in_nulled_fields(nulled):
    phi = nulled[nulled["column_name"].isin(PHI)]
    assert (phi["value"].isna() | (phi["value"] == "***")).all()


def test_every_value_is_accounted_for(demo):
    with demo.connect() as conn:
        assert results.unaccounted_fields(conn).empty
        [(breaches, accounted, nulled)] = conn.execute(
            "select sum(field_breaches), "
            "sum(nulled_fields + quarantined_breaches + removed_copy_breaches), "
            "sum(nulled_fields) from quality.reconciliation"
        ).fetchall()
        assert breaches == accounted and nulled > 0
        assert conn.execute("select count(*) from quality.nulled_fields").fetchall() == [(nulled,)]


def test_results_report_nulled_fields_and_keep_their_columns(demo):
    with demo.connect() as conn:
        summary = results.centre_summary(conn)
        by_rule = results.nulled_fields_by_rule(conn)
        sample = results.nulled_fields_sample(conn, 5)
        quarantine = results.quarantine_by_rule(conn)
    assert list(summary.columns) == [
        "centre_code",
        "delivery_id",
        "checks_run",
        "failed",
        "blocking_failed",
        "not_applicable",
        "source_rows",
        "rows_quarantined",
        "rows_duplicate_removed",
        "fields_nulled",
    ]
    assert list(quarantine.columns) == ["centre_code", "rule", "source_rows"]
    assert list(by_rule.columns) == [
        "centre_code",
        "rule",
        "entity",
        "column_name",
        "fields_nulled",
        "source_rows",
    ]
    assert summary["fields_nulled"].sum() == by_rule["fields_nulled"].sum() > 0
    assert len(sample) == 5 and "patient_key" in sample.columns
