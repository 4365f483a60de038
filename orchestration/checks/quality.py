"""Asset checks that wrap the quality layer, with failing counts and samples as metadata.

Blocking checks make the downstream statistics meaningless when they fail (no patients, a
centre's infusion dates missing, rows unaccounted for, a mart that breaks its contract):
Dagster then does not run the assets downstream of them. Samples carry pseudonymous keys only.
"""

import pandera.errors
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    asset_check,
)

from cartwh.quality import results
from models.patient_outcomes import PatientOutcomes
from orchestration.resources import Warehouse

CHECK_RESULTS = AssetKey(["quality", "check_results"])
RECONCILIATION = AssetKey(["quality", "reconciliation"])
QUARANTINE = AssetKey(["quality", "quarantine"])
NULLED_FIELDS = AssetKey(["quality", "nulled_fields"])
PATIENT_OUTCOMES = AssetKey(["mart", "patient_outcomes"])
SAMPLE_ROWS = 20


def _markdown(frame) -> MetadataValue:
    return MetadataValue.md(frame.to_markdown(index=False) if len(frame) else "none")


def _held_back(by_rule, sample, total: str, count_column: str) -> AssetCheckResult:
    """A warning check on what the gate held back: the total, by centre and rule, a sample."""
    return AssetCheckResult(
        passed=by_rule.empty,
        severity=AssetCheckSeverity.WARN,
        metadata={
            total: int(by_rule[count_column].sum()) if len(by_rule) else 0,
            "by_centre_and_rule": _markdown(by_rule),
            "sample": _markdown(sample),
        },
    )


@asset_check(
    asset=CHECK_RESULTS,
    blocking=True,
    description="No blocking quality check failed (no patients, index infusions missing, "
    "rows unaccounted for).",
)
def blocking_quality_checks_pass(context: AssetCheckExecutionContext, warehouse: Warehouse):
    with warehouse.get_connection() as conn:
        failed = results.failed_checks(conn, "blocking")
        rules = dict(conn.execute(CATALOGUE_RULES).fetchall()) if len(failed) else {}
    return AssetCheckResult(
        passed=failed.empty,
        description=_blocking_failures(failed, rules) if len(failed) else None,
        metadata={"failed_blocking_checks": len(failed), "failures": _markdown(failed)},
    )


CATALOGUE_RULES = "select check_name, description from reference.check_catalogue"


def _blocking_failures(failed, rules: dict[str, str]) -> str:
    """One line per failed blocking check: where, the rule, how many of how many."""
    return "\n".join(
        [
            f"{len(failed)} blocking quality check(s) failed:",
            *(
                f"{r.centre_code} delivery {r.delivery_id}, {r.table_name}: {r.check_name}: "
                f"{r.numerator} of {r.denominator} ({r.pct_failing:.1f}%, threshold "
                f"{r.threshold_pct:g}%) - {rules.get(r.check_name, 'see the check catalogue')}"
                for r in failed.itertuples()
            ),
        ]
    )


@asset_check(
    asset=CHECK_RESULTS, description="Warning-level quality checks: what to ask the centres about."
)
def warning_quality_checks(context: AssetCheckExecutionContext, warehouse: Warehouse):
    with warehouse.get_connection() as conn:
        failed = results.failed_checks(conn, "warn")
        run, not_applicable = results.check_counts(conn)
    return AssetCheckResult(
        passed=failed.empty,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "checks_run": run,
            "not_applicable": not_applicable,
            "failed_warning_checks": len(failed),
            "failures": _markdown(failed),
        },
    )


@asset_check(
    asset=RECONCILIATION,
    blocking=True,
    description="Every delivered row is passed, quarantined, duplicate-removed or empty, "
    "and the ledger's row counts equal the raw rows.",
)
def every_row_accounted_for(context: AssetCheckExecutionContext, warehouse: Warehouse):
    with warehouse.get_connection() as conn:
        statuses = results.rows_by_status(conn)
        unbalanced = results.unbalanced_files(conn)
        unaccounted_values = results.unaccounted_fields(conn)
    unaccounted = ~statuses["status"].isin(results.ACCOUNTED_STATUSES)
    lost = int(statuses.loc[unaccounted, "source_rows"].sum())
    problems = [
        *([f"{lost} delivered rows have no reconciliation status"] if lost else []),
        *(
            f"{r.centre_code} {r.table_name}: {r.numerator} of {r.denominator} rows not "
            "accounted for (ledger, raw and reconciliation disagree)"
            for r in unbalanced.head(SAMPLE_ROWS).itertuples()
        ),
    ]
    return AssetCheckResult(
        passed=lost == 0 and unbalanced.empty,
        description="\n".join(problems) or None,
        metadata={
            "rows_by_status": _markdown(statuses),
            "lost_rows": lost,
            "unbalanced_files": _markdown(unbalanced),
            "rows_with_unaccounted_values": _markdown(unaccounted_values),
        },
    )


@asset_check(asset=QUARANTINE, description="Rows held back, by rule, with a sample.")
def quarantined_rows(context: AssetCheckExecutionContext, warehouse: Warehouse):
    with warehouse.get_connection() as conn:
        by_rule = results.quarantine_by_rule(conn)
        sample = results.quarantine_sample(conn, SAMPLE_ROWS)
    return _held_back(by_rule, sample, "quarantined_source_rows", "source_rows")


@asset_check(
    asset=NULLED_FIELDS,
    description="Values set to missing (the rest of their row kept), by rule, with a sample.",
)
def nulled_values(context: AssetCheckExecutionContext, warehouse: Warehouse):
    with warehouse.get_connection() as conn:
        by_rule = results.nulled_fields_by_rule(conn)
        sample = results.nulled_fields_sample(conn, SAMPLE_ROWS)
    return _held_back(by_rule, sample, "nulled_fields", "fields_nulled")


@asset_check(
    asset=PATIENT_OUTCOMES,
    blocking=True,
    description="mart.patient_outcomes satisfies its pandera contract "
    "(models/patient_outcomes.py).",
)
def patient_outcomes_contract(context: AssetCheckExecutionContext, warehouse: Warehouse):
    with warehouse.get_connection() as conn:
        frame = conn.execute("select * from mart.patient_outcomes").df()
    if frame.empty:
        return AssetCheckResult(
            passed=False,
            description="mart.patient_outcomes has no patients",
            metadata={"patients": 0, "problem": "the mart has no patients"},
        )
    try:
        PatientOutcomes.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as errors:
        cases = errors.failure_cases
        keyed = cases.merge(frame[["patient_key"]], left_on="index", right_index=True, how="left")
        sample = keyed[["column", "check", "failure_case", "patient_key"]].head(SAMPLE_ROWS)
        patients = keyed["patient_key"].dropna().nunique()
        return AssetCheckResult(
            passed=False,
            description=f"mart.patient_outcomes breaks its contract (models/patient_outcomes.py):"
            f" {len(cases)} failure(s) in {patients} of {len(frame)} patients\n"
            + "\n".join(
                f"{r.column}: {r.check} (value {r.failure_case}, patient_key {r.patient_key})"
                for r in sample.head(5).itertuples()
            ),
            metadata={
                "patients": len(frame),
                "failure_cases": len(cases),
                "sample": _markdown(sample.astype(str)),
            },
        )
    return AssetCheckResult(passed=True, metadata={"patients": len(frame)})


QUALITY_CHECKS = [
    blocking_quality_checks_pass,
    warning_quality_checks,
    every_row_accounted_for,
    quarantined_rows,
    patient_outcomes_contract,
    nulled_values,
]
