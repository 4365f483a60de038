"""The dbt ymls and the pandera contracts say the same thing.

Code lists and column descriptions have one source, the contracts in ``models/``: every
``accepted_values`` list of a dbt model column is checked against the contract that defines
the column (``models/patient_outcomes.py`` for the mart, ``models/extract_format.py`` for the
intermediate ``int_<entity>_*`` models), and the quality-gate plumbing ymls
(``int_<entity>_{unioned,checked,accepted}``) list every canonical non-PHI column with the
contract's description. The one-row invariants of the mart are dbt tests beside it; the last
test shows that a broken mart fails them and that Dagster treats them as blocking checks.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from models.extract_format import ENTITIES
from models.patient_outcomes import PatientOutcomes
from tests.conftest import inherited_environment

DBT_PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"
MODELS = DBT_PROJECT / "models"
GATE_STAGES = ("unioned", "checked", "accepted")
# intermediate models that carry an entity's columns without its name as their prefix
CARRIES_ENTITY = {"int_index_infusions": "infusions"}
SELECTION = "patient_outcomes,test_name:expression_is_true"
MART_INVARIANTS = {
    "patient_outcomes_severe_crs_is_grade_3_plus": "error",
    "patient_outcomes_lfs_only_for_complete_responders": "error",
    "patient_outcomes_os_months_are_days_over_30_4375": "error",
    "patient_outcomes_lfs_months_are_days_over_30_4375": "error",
    "patient_outcomes_os_not_shorter_than_lfs": "warn",
}


def _models() -> dict[str, tuple[Path, dict]]:
    found: dict[str, tuple[Path, dict]] = {}
    for path in sorted(MODELS.rglob("*.yml")):
        for model in yaml.safe_load(path.read_text(encoding="utf-8")).get("models", []):
            assert model["name"] not in found, f"{model['name']} documented twice"
            found[model["name"]] = (path, model)
    return found


def _columns(model: dict) -> dict[str, dict]:
    return {column["name"]: column for column in model.get("columns", [])}


def _tests(entry: dict, name: str) -> list[dict]:
    """The arguments (and config) of every generic test ``name`` of a column or model."""
    found = []
    for test in entry.get("data_tests", []) or []:
        if isinstance(test, dict) and name in test:
            spec = test[name] or {}
            found.append({**spec.get("arguments", {}), **spec})
    return found


def _accepted_values(column: dict) -> list | None:
    tests = _tests(column, "accepted_values")
    assert len(tests) <= 1, column["name"]
    return list(tests[0]["values"]) if tests else None


def _entity_of(model_name: str) -> str | None:
    if model_name in CARRIES_ENTITY:
        return CARRIES_ENTITY[model_name]
    matches = [e for e in ENTITIES if model_name.startswith(f"int_{e}_")]
    return max(matches, key=len) if matches else None


def _mart_contract() -> dict[str, dict]:
    """The check statistics of every column of the mart contract (allowed_values for an isin
    list, min_value / max_value for a range)."""
    contract = {}
    for name, column in PatientOutcomes.to_schema().columns.items():
        statistics: dict = {"dtype": str(column.dtype)}
        for check in column.checks:
            statistics.update(check.statistics)
        contract[name] = statistics
    return contract


def test_the_yml_parser_sees_the_code_lists():
    models = _models()
    assert _accepted_values(_columns(models["patient_outcomes"][1])["sex"]) == ["m", "f"]
    assert _entity_of("int_daily_observations_unioned") == "daily_observations"
    assert _entity_of("int_labs_standardised") == "labs"
    assert _entity_of("int_index_infusions") == "infusions"
    assert _entity_of("int_toxicity_summarised") is None


def test_mart_code_lists_equal_the_mart_contract():
    """Every isin list of the contract is the yml's accepted_values, and every accepted_values
    list of a contract column is its isin list (or, for integer codes such as grades, the
    integers of its closed range)."""
    columns = _columns(_models()["patient_outcomes"][1])
    contract = _mart_contract()
    missing = sorted(set(contract) - set(columns))
    assert not missing, f"contract columns the mart yml does not document: {missing}"
    mismatches = []
    for name, statistics in contract.items():
        listed = _accepted_values(columns[name])
        if "allowed_values" in statistics:
            codes = list(statistics["allowed_values"])
        elif listed is not None and statistics.get("max_value") is not None:
            codes = list(range(statistics.get("min_value", 0), statistics["max_value"] + 1))
        else:
            codes = None
        if listed is None and codes is None:
            continue
        if listed is None or codes is None or sorted(map(str, listed)) != sorted(map(str, codes)):
            mismatches.append(f"{name}: yml {listed} != contract {codes}")
    assert not mismatches, "\n".join(mismatches)


def test_intermediate_code_lists_come_from_the_extract_format():
    """Plumbing models carry the contract's codes unchanged; a derived model may narrow a
    code list (e.g. standardised lab units), never widen it."""
    checked, problems = 0, []
    for name, (_, model) in _models().items():
        entity = _entity_of(name)
        if entity is None:
            continue
        plumbing = name in {f"int_{entity}_{stage}" for stage in GATE_STAGES}
        canonical = {c.name: c for c in ENTITIES[entity].columns}
        for column_name, column in _columns(model).items():
            listed = _accepted_values(column)
            if listed is None or column_name not in canonical:
                continue
            codes = list(canonical[column_name].codes)
            checked += 1
            if plumbing and listed != codes:
                problems.append(f"{name}.{column_name}: {listed} != contract {codes}")
            if not plumbing and not set(listed) <= set(codes):
                problems.append(f"{name}.{column_name}: {sorted(set(listed) - set(codes))}")
    assert checked >= 30
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("entity", list(ENTITIES))
def test_gate_ymls_document_the_contract(entity):
    models = _models()
    canonical = [c for c in ENTITIES[entity].columns if not c.phi]
    for stage in GATE_STAGES:
        name = f"int_{entity}_{stage}"
        path, model = models[name]
        assert path.parent == MODELS / "intermediate" / "gate", path
        assert "Grain:" in model["description"], name
        columns = _columns(model)
        assert {"patient_key", "centre_code"} <= set(columns), name
        assert "centre_patient_id" not in columns, name  # replaced by patient_key
        for column in canonical:
            if column.name == "centre_patient_id":
                continue
            documented = columns.get(column.name)
            expected = {"name": column.name, "description": column.description}
            assert documented is not None, f"{name} lacks {column.name}: add {expected}"
            assert documented["description"] == column.description, (name, expected)
            listed = _accepted_values(documented)
            if stage == "unioned":
                assert listed == (list(column.codes) or None), (name, column.name)
            else:
                assert listed in (None, list(column.codes)), (name, column.name)


def test_no_phi_column_is_documented_after_staging():
    phi = {c.name for e in ENTITIES.values() for c in e.columns if c.phi}
    leaks = [
        f"{name}.{column}"
        for name, (_, model) in _models().items()
        for column in _columns(model)
        if column in phi
    ]
    assert not leaks, leaks


def test_entity_date_columns():
    assert {name: e.date_column for name, e in ENTITIES.items()} == {
        "patients": None,
        "infusions": "infusion_date",
        "daily_observations": "obs_date",
        "labs": "sample_date",
        "car_t_kinetics": "sample_date",
        "treatments": "admin_date",
        "response_assessments": "assessment_date",
        "follow_up_events": "event_date",
    }
    for entity in ENTITIES.values():
        if entity.date_column:
            column = entity.column(entity.date_column)
            assert column.dtype == "date" and column.required


def test_last_known_alive_sources_are_the_dated_entities():
    column = _columns(_models()["int_last_known_alive"][1])["last_known_alive_source"]
    dated = {name for name, e in ENTITIES.items() if e.date_column}
    assert set(_accepted_values(column)) == dated


def test_intermediate_models_are_in_gate_or_clinical():
    folders = {
        name: path.parent.relative_to(MODELS).as_posix()
        for name, (path, _) in _models().items()
        if name.startswith("int_")
    }
    gate = {f"int_{e}_{stage}" for e in ENTITIES for stage in GATE_STAGES}
    gate |= {"int_patients_deduplicated", "int_current_deliveries_staged"}
    assert {n for n, f in folders.items() if f == "intermediate/gate"} == gate
    assert {n for n, f in folders.items() if f != "intermediate/gate"} == {
        n for n, f in folders.items() if f == "intermediate/clinical"
    }
    for sql in (MODELS / "intermediate").rglob("*.sql"):
        assert sql.with_suffix(".yml").exists(), f"{sql.name} has no same-named yml"


def test_mart_invariants_are_tests_beside_the_mart():
    path, model = _models()["patient_outcomes"]
    assert path.parent == MODELS / "marts"
    declared = {
        test["name"]: (test.get("config") or {}).get("severity", "error")
        for test in _tests(model, "expression_is_true")
    }
    assert {n: s for n, s in declared.items() if n in MART_INVARIANTS} == MART_INVARIANTS


def test_a_broken_mart_fails_its_invariants_and_they_block(demo, tmp_path):
    """On a copy of the demo warehouse whose mart breaks the invariants, `dbt test` fails on
    the error-severity invariants (a failing `dbt build` stops the run: the analyses
    downstream do not run), and dagster-dbt turns them into blocking asset checks."""
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, dbt_assets

    warehouse = tmp_path / "broken.duckdb"
    shutil.copy(demo.warehouse, warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        keys = [
            k
            for (k,) in conn.execute(
                "select patient_key from mart.patient_outcomes "
                "where not cr_day30 and severe_crs is not null order by patient_key limit 2"
            ).fetchall()
        ]
        conn.execute(
            "update mart.patient_outcomes set lfs_days = 1, lfs_months = 1 / 30.4375, "
            "severe_crs = not severe_crs where patient_key = ?",
            [keys[0]],
        )
        conn.execute(
            "update mart.patient_outcomes set os_months = os_months + 1 where patient_key = ?",
            [keys[1]],
        )
    checkout_before = sorted(p.name for p in DBT_PROJECT.iterdir())
    env = {**inherited_environment(), **demo.env(), "CARTWH_WAREHOUSE": str(warehouse)}
    result = subprocess.run(
        [sys.executable, "-m", "cartwh.cli", "dbt", "test", "-s", SELECTION],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert sorted(p.name for p in DBT_PROJECT.iterdir()) == checkout_before  # work folder only
    assert result.returncode != 0, result.stdout[-2000:]
    target = tmp_path / "broken_work" / "dbt" / "target"
    statuses = {
        r["unique_id"].split(".")[2]: r["status"]
        for r in json.loads((target / "run_results.json").read_text())["results"]
    }
    assert {n: statuses[n] for n in MART_INVARIANTS} == {
        "patient_outcomes_severe_crs_is_grade_3_plus": "fail",
        "patient_outcomes_lfs_only_for_complete_responders": "fail",
        "patient_outcomes_os_months_are_days_over_30_4375": "fail",
        "patient_outcomes_lfs_months_are_days_over_30_4375": "pass",
        "patient_outcomes_os_not_shorter_than_lfs": "pass",
    }

    @dbt_assets(
        manifest=target / "manifest.json",
        dagster_dbt_translator=DagsterDbtTranslator(
            settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)
        ),
    )
    def _dbt(context): ...

    blocking = {spec.name: spec.blocking for spec in _dbt.check_specs}
    assert {n: blocking[n] for n in MART_INVARIANTS} == {
        n: severity == "error" for n, severity in MART_INVARIANTS.items()
    }
