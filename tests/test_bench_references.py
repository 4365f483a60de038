"""The benchmark's plain grading references (benchmarks/reference_grading.py) compute the same
daily CRS/ICANS grades as the dbt model ``int_daily_toxicity_graded`` of the session demo, so
that the benchmark compares like with like."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import reference_grading  # noqa: E402


@pytest.fixture(scope="module")
def graded(demo):
    with demo.connect() as conn:
        inputs = reference_grading.read_inputs(conn)
        warehouse = reference_grading.warehouse_grades(conn)
        by_sql = conn.sql(reference_grading.grading_sql()).df()
    return inputs, warehouse, by_sql


def test_the_demo_has_days_of_every_kind(graded):
    _, warehouse, _ = graded
    # otherwise equality below would prove little
    assert warehouse["fever_day"].any() and warehouse["treated_day"].any()
    assert (warehouse["crs_day"] & ~warehouse["fever_day"]).any()
    assert set(warehouse["crs_grade"]) >= {0, 1, 2} and set(warehouse["icans_grade"]) >= {0, 1}


def test_bare_sql_reference_equals_the_model(graded):
    _, warehouse, by_sql = graded
    assert reference_grading.differences(by_sql, warehouse) is None


def test_pandas_reference_equals_the_model(graded):
    inputs, warehouse, _ = graded
    assert reference_grading.differences(reference_grading.grade_pandas(inputs), warehouse) is None


def test_a_changed_grade_is_noticed(graded):
    inputs, warehouse, _ = graded
    by_pandas = reference_grading.grade_pandas(inputs)
    by_pandas.loc[by_pandas.index[0], "icans_grade"] += 1
    assert reference_grading.differences(by_pandas, warehouse) == "columns differ: icans_grade"
