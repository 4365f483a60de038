"""The analyses of :data:`analysis_assets.study.ANALYSES` as plain functions: each takes the
mart tables it reads (by name) and returns the analysis tables it writes (by name)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from analysis_assets.biomarker_tables import biomarker_tests
from analysis_assets.cox_tables import cox_tables
from analysis_assets.descriptive_tables import characteristics, cohort_flow, toxicity_summary
from analysis_assets.manuscript_tables import table1_layout, table2_layout
from analysis_assets.report_numbers import number_audit
from analysis_assets.response_tables import response_rates
from analysis_assets.robustness import robustness_tables
from analysis_assets.study import ANALYSES
from analysis_assets.survival_tables import follow_up_table, survival_tables

__all__ = ["COMPUTE", "run_analysis"]

Tables = dict[str, pd.DataFrame]


def descriptive_analysis(mart: Tables) -> Tables:
    outcomes = mart["patient_outcomes"]
    long = characteristics(outcomes)
    return {
        "cohort_flow": cohort_flow(mart["cohort_flow"]),
        "characteristics": long,
        "table1": table1_layout(long),
        "toxicity_summary": toxicity_summary(outcomes),
    }


def survival_analysis(mart: Tables) -> Tables:
    outcomes = mart["patient_outcomes"]
    return {**survival_tables(outcomes), "follow_up": follow_up_table(outcomes)}


def response_analysis(mart: Tables) -> Tables:
    return {"response_rates": response_rates(mart["patient_outcomes"])}


def biomarker_analysis(mart: Tables) -> Tables:
    return {"biomarker_tests": biomarker_tests(mart["patient_outcomes"])}


def cox_analysis(mart: Tables) -> Tables:
    tables = cox_tables(mart["patient_outcomes"])
    return {**tables, "table2": table2_layout(tables["cox_multivariate"])}


def robustness_analysis(mart: Tables) -> Tables:
    return robustness_tables(mart)


def audit_analysis(tables: Tables) -> Tables:
    """The audit of printed numbers: the study's and those of the analysis tables it reads."""
    return {"number_audit": number_audit(tables)}


#: analysis (a key of study.ANALYSES) -> its function
COMPUTE: dict[str, Callable[[Tables], Tables]] = {
    "descriptive_analysis": descriptive_analysis,
    "survival_analysis": survival_analysis,
    "response_analysis": response_analysis,
    "biomarker_analysis": biomarker_analysis,
    "cox_analysis": cox_analysis,
    "robustness_analysis": robustness_analysis,
    "audit_analysis": audit_analysis,
}


def run_analysis(name: str, mart: Tables, analysis: Tables | None = None) -> Tables:
    """The tables of one analysis, in the order ``study.ANALYSES`` declares them.

    Parameters
    ----------
    name : str
        A key of ``study.ANALYSES``.
    mart : dict of name -> DataFrame
        At least the mart tables the analysis declares as inputs (bare names).
    analysis : dict of name -> DataFrame, optional
        The analysis tables it declares as ``analysis_inputs`` (bare names), when it has any.

    Returns
    -------
    dict of name -> DataFrame

    Raises
    ------
    ValueError
        When the function returns other tables than the study declares.
    """
    declared = ANALYSES[name]
    inputs = {table: mart[table] for table in declared.inputs}
    inputs.update({table: (analysis or {})[table] for table in declared.analysis_inputs})
    tables = COMPUTE[name](inputs)
    if set(tables) != set(declared.tables):
        raise ValueError(
            f"{name} computed {sorted(tables)}, the study declares {sorted(declared.tables)}"
        )
    return {table: tables[table] for table in declared.tables}
