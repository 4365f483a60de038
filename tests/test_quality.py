"""Quality layer on the demo consortium: every injected imperfection is caught by a named check
and lands in the right centre's query file (as a row held back or a value set to missing); the
rest of the data flows on."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pandera.errors
import pytest

from models.extract_format import ENTITIES
from models.patient_outcomes import PatientOutcomes
from tests.conftest import inherited_environment

RULE_OF_KIND = {
    "missing_value": {"required_missing"},
    "out_of_range": {"out_of_range"},
    "duplicate_row": {"exact_duplicate"},
    "conflicting_duplicate": {"conflicting_duplicate"},
    "unknown_code": {"unknown_code"},
    "date_before_infusion": {"event_before_infusion", "assessment_before_infusion"},
    "mg_per_kg_without_weight": {"mg_per_kg_without_weight"},
}


@pytest.fixture(scope="module")
def injected(demo) -> pd.DataFrame:
    truth = pd.read_csv(demo.truth / "imperfections.csv", dtype=str, keep_default_na=False)
    last = truth[truth["delivery_id"] == "2023-03-01"].copy()
    last["source_file"] = last["file"] + last["sheet"].map(lambda s: f"[{s}]" if s else "")
    last["row_number"] = last["row_number"].astype(int)
    return last


@pytest.fixture(scope="module")
def query_files(demo) -> dict[str, pd.DataFrame]:
    folder = demo.output / "queries"
    return {
        path.parent.name: pd.read_csv(path, dtype=str, keep_default_na=False)
        for path in folder.glob("*/queries_*.csv")
    }


def test_every_kind_of_imperfection_was_injected(injected):
    assert set(injected["kind"]) == set(RULE_OF_KIND)


def test_each_imperfection_is_in_its_centres_query_file_under_its_rule(injected, query_files):
    assert set(query_files) == {"xz", "tj", "zz", "zj"}
    missed = []
    for item in injected.itertuples():
        queries = query_files[item.centre_code]
        found = queries[
            (queries["source_file"] == item.source_file)
            & (queries["source_row_number"] == str(item.row_number))
            & (queries["rule"].isin(RULE_OF_KIND[item.kind]))
        ]
        if found.empty:
            missed.append((item.centre_code, item.source_file, item.row_number, item.kind))
    assert not missed, missed


def test_query_files_name_the_centres_own_patients_only(demo, query_files):
    with demo.connect() as conn:
        crosswalk = conn.execute(
            "select centre_code, centre_patient_id from restricted.patient_crosswalk"
        ).df()
    for centre, queries in query_files.items():
        own = set(crosswalk.loc[crosswalk["centre_code"] == centre, "centre_patient_id"])
        named = set(queries["centre_patient_id"]) - {""}
        assert named and named <= own, centre


def test_phi_values_are_masked_in_quarantine(demo):
    for table in ("quality.quarantine", "quality.nulled_fields"):
        rows = demo.query(
            f"select count(*) filter (where value <> '***') from {table} "
            "where column_name in ('mrn', 'full_name', 'date_of_birth')"
        )
        assert rows == [(0,)], table


def test_the_rest_flows_and_every_row_is_accounted_for(demo):
    assert demo.query("select count(*) from mart.patient_outcomes") == [(93,)]
    statuses = dict(demo.query("select status, count(*) from quality.reconciliation group by 1"))
    assert set(statuses) <= {"passed", "quarantined", "duplicate_removed", "empty"}
    assert statuses["quarantined"] > 10 and statuses["duplicate_removed"] > 5
    raw_rows = demo.query(
        "select sum(rows_read) from raw.deliveries d join raw.current_deliveries c "
        "using (centre_code, delivery_id) where d.status = 'loaded'"
    )[0][0]
    assert sum(statuses.values()) == raw_rows


def test_check_results_have_dqd_shape_and_no_blocking_failure(demo):
    frame = demo.query(
        "select check_name, category, context, numerator, denominator, status, severity "
        "from quality.check_results"
    )
    results = pd.DataFrame(
        frame,
        columns=[
            "check_name",
            "category",
            "context",
            "numerator",
            "denominator",
            "status",
            "severity",
        ],
    )
    assert set(results["category"]) == {"conformance", "completeness", "plausibility"}
    assert set(results["context"]) == {"verification", "validation"}
    assert (results.loc[results["denominator"] == 0, "status"] == "not_applicable").all()
    assert not ((results["status"] == "failed") & (results["severity"] == "blocking")).any()
    assert ((results["status"] == "failed") & (results["severity"] == "warn")).sum() >= 7


def test_cartwh_quality_summarises_per_centre(demo):
    env = {**inherited_environment(), **demo.env()}
    result = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "quality"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    for centre in ("xz", "tj", "zz", "zj"):
        assert f"\n{centre:>11}" in result.stdout or f" {centre} " in result.stdout
    assert "rows_quarantined" in result.stdout and "failed checks:" in result.stdout


def test_the_mart_satisfies_its_contract_and_the_contract_can_fail(demo):
    """Types, ranges and codes: the pandera contract. (One-row invariants such as "LFS only
    for complete responders" are dbt tests beside the mart: tests/test_contracts.py.)"""
    with demo.connect() as conn:
        frame = conn.execute("select * from mart.patient_outcomes").df()
    PatientOutcomes.validate(frame, lazy=True)
    broken = frame.copy()
    broken.loc[broken.index[0], "crs_max_grade"] = 7
    broken.loc[broken.index[1], "sex"] = "x"
    broken.loc[broken.index[2], "cr_day"] = 1000  # after the response window
    with pytest.raises(pandera.errors.SchemaErrors) as errors:
        PatientOutcomes.validate(broken, lazy=True)
    cases = errors.value.failure_cases
    failed = set(cases["check"].astype(str))
    assert any("less_than_or_equal_to(5)" in f for f in failed)
    assert any(f.startswith("isin(") for f in failed)
    assert set(cases["column"]) == {"crs_max_grade", "sex", "cr_day"}


def test_asset_checks_report_counts_and_pseudonymous_samples(demo):
    from dagster import build_asset_check_context

    from orchestration.checks.quality import (
        blocking_quality_checks_pass,
        every_row_accounted_for,
        patient_outcomes_contract,
        quarantined_rows,
    )
    from orchestration.resources import Warehouse

    warehouse = Warehouse(
        database=str(demo.warehouse), connection_config={"access_mode": "READ_ONLY"}
    )
    context = build_asset_check_context()
    assert blocking_quality_checks_pass(context, warehouse=warehouse).passed
    assert every_row_accounted_for(context, warehouse=warehouse).passed
    assert patient_outcomes_contract(context, warehouse=warehouse).passed
    quarantine = quarantined_rows(context, warehouse=warehouse)
    assert not quarantine.passed and quarantine.metadata["quarantined_source_rows"].value > 10
    sample = quarantine.metadata["sample"].value
    assert "patient_key" in sample
    with demo.connect() as conn:
        ids = [
            i
            for (i,) in conn.execute(
                "select centre_patient_id from restricted.patient_crosswalk"
            ).fetchall()
        ]
    assert not any(f" {i} " in sample for i in ids)


def test_data_docs_are_built_and_load_nothing_from_the_network(demo):
    import re

    docs = demo.output / "data_docs"
    pages = list(docs.rglob("*.html"))
    assert (docs / "index.html") in pages and len(pages) >= 7  # index, 3 suites, 3 validations
    for page in pages:
        html = page.read_text(encoding="utf-8")
        remote = re.findall(
            r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"'](https?://[^\"']+)", html
        )
        assert not remote, (page, remote)
        for local in re.findall(
            r"<(?:script|link|img)\b[^>]*\b(?:src|href)=[\"']([^\"'#?]+)", html
        ):
            if "static/vendor/" in local or "logo-long" in local:  # what make_offline rewrote
                assert (page.parent / local).resolve().exists(), (page, local)
    assert "bootstrap.min.css" in (docs / "index.html").read_text(encoding="utf-8")


def test_expectation_suites_catch_implausible_marts(demo, tmp_path):
    """Cohort-level plausibility (ICANS mostly on or after CRS onset) is caught, and the
    toxicity window of the suites is the study parameter."""
    import dataclasses

    import duckdb

    from cartwh.parameters import study_parameters
    from cartwh.quality.expectations import validate_mart

    conn = duckdb.connect()
    conn.execute(f"attach '{demo.warehouse}' as demo (read_only)")
    conn.execute("create schema mart")
    conn.execute("create table mart.time_to_event as select * from demo.mart.time_to_event")
    conn.execute(
        "create table mart.daily_toxicity as select * replace ("
        "case when study_day = 0 then 31 else study_day end as study_day) "
        "from demo.mart.daily_toxicity"
    )
    conn.execute(
        "create table mart.patient_outcomes as select * replace ("
        "crs_onset_day - 1 as icans_onset_day) from demo.mart.patient_outcomes"
    )
    results = {r.suite: r for r in validate_mart(conn, tmp_path / "docs")}
    assert results["time_to_event"].success
    failed = {f["expectation"] for f in results["patient_outcomes"].failed}
    assert "expect_column_pair_values_a_to_be_greater_than_b" in failed
    assert {(f["expectation"], f["column"]) for f in results["daily_toxicity"].failed} == {
        ("expect_column_values_to_be_between", "study_day")
    }
    wider = dataclasses.replace(study_parameters(), toxicity_window_days=31)
    results = {r.suite: r for r in validate_mart(conn, tmp_path / "docs2", wider)}
    assert results["daily_toxicity"].success


def test_a_suite_reads_only_the_columns_its_expectations_name():
    """The daily table's suite reads two of its columns; a suite with a whole-table
    expectation (the row count) reads every column."""
    import great_expectations.expectations as gxe

    from cartwh.parameters import study_parameters
    from cartwh.quality.expectations import _suites, columns_named

    suites = _suites(gxe, study_parameters())
    assert columns_named(suites["daily_toxicity"][1]) == ["study_day", "crs_grade"]
    assert columns_named(suites["time_to_event"][1]) == ["aval_days"]
    assert columns_named(suites["patient_outcomes"][1]) is None
    pair = gxe.ExpectColumnPairValuesAToBeGreaterThanB(column_A="a", column_B="b")
    assert columns_named([pair, gxe.ExpectColumnMeanToBeBetween(column="a")]) == ["a", "b"]


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_staging_rules_agree_with_the_pandera_contract(demo, entity):
    """The SQL quarantine rules are generated from the pandera models: rows staging accepts
    satisfy the model; rows it flags as required_missing or out_of_range fail it; and a value it
    flags as unknown_code or unparsable did not survive typing (it is null in the typed column,
    which is why the rule needs the delivered text and runs in staging)."""
    from models.extract_format import CONTRACTS

    columns = ", ".join(ENTITIES[entity].column_names)
    union = " union all ".join(
        f"select {columns}, _violations from staging.stg_{c}__{entity}"
        for c in ("xz", "tj", "zz", "zj")
    )
    with demo.connect() as conn:
        frame = conn.execute(union).df()
    schema = CONTRACTS[entity].to_schema()
    schema.unique = None  # duplicates are a separate rule (conflicting / exact)
    violations = frame.pop("_violations")
    flagged = violations.map(len) > 0
    schema.validate(frame[~flagged], lazy=True)
    visible = violations.map(
        lambda vs: any(v["rule"] in ("required_missing", "out_of_range") for v in vs)
    )
    if visible.any():
        with pytest.raises(pandera.errors.SchemaErrors) as errors:
            schema.validate(frame[visible], lazy=True)
        assert set(frame.index[visible]) <= set(
            errors.value.failure_cases["index"].dropna().astype(int)
        )
    for index, row_violations in violations[flagged & ~visible].items():
        for violation in row_violations:
            assert pd.isna(frame.at[index, violation["column"]]), (index, violation)


def test_grade_4_is_a_valid_maximum_grade_and_the_suite_agrees_with_dbt(demo, tmp_path):
    """ASTCT grade 4 (and 5, death from the toxicity) is valid: the great-expectations suite
    accepts the same maximum grades as the mart's dbt accepted_values, and only those."""
    import duckdb
    import yaml

    from cartwh.project import DBT_PROJECT_DIR
    from cartwh.quality.expectations import MAX_GRADES, validate_mart

    spec = yaml.safe_load(
        (DBT_PROJECT_DIR / "models" / "marts" / "patient_outcomes.yml").read_text("utf-8")
    )
    [model] = spec["models"]
    for column in model["columns"]:
        if column["name"] in ("crs_max_grade", "icans_max_grade"):
            [test] = column["data_tests"]
            assert tuple(test["accepted_values"]["arguments"]["values"]) == MAX_GRADES

    conn = duckdb.connect()
    conn.execute(f"attach '{demo.warehouse}' as demo (read_only)")
    conn.execute("create schema mart")
    for table in ("time_to_event", "daily_toxicity"):
        conn.execute(f"create table mart.{table} as select * from demo.mart.{table}")
    conn.execute(
        "create table mart.patient_outcomes as select * replace ("
        "case when crs_max_grade = 3 then 4 else crs_max_grade end as crs_max_grade) "
        "from demo.mart.patient_outcomes"
    )
    assert conn.execute(
        "select count(*) from mart.patient_outcomes where crs_max_grade = 4"
    ).fetchone()[0]
    failing = lambda: {  # noqa: E731
        f["column"] for r in validate_mart(conn, tmp_path / "docs") for f in r.failed
    }
    assert "crs_max_grade" not in failing()
    conn.execute("update mart.patient_outcomes set icans_max_grade = 6 where icans_max_grade = 0")
    assert "icans_max_grade" in failing()
