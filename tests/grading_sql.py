"""The project's own grading SQL, rendered from the dbt sources and run in an in-memory DuckDB.

``int_daily_toxicity_graded`` (daily ASTCT CRS/ICANS grades) and ``int_toxicity_summarised``
(patient maxima, grade 5) are plain Jinja over the clinical macros of
``dbt_project/macros/clinical/``; the only dbt context they use is ``ref()`` and ``var()``. So the
models are rendered with jinja2 (macros prepended to the model's source, ``var()`` read from
``dbt_project.yml``, ``ref()`` naming a table created here, everything else undefined and loud)
and created over small input tables (the daily grades materialised after each load, as dbt
materialises the model). A change to a macro, a model or a var changes
what runs here; no dbt project, profile or compile step is involved.

:class:`GradingDatabase` loads patients (Python dicts, see :func:`GradingDatabase.load`) and
returns the graded days and patient summaries.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from pathlib import Path

import duckdb
import jinja2
import pyarrow as pa
import yaml

from models.extract_format import ENTITIES

ROOT = Path(__file__).resolve().parents[1]
DBT = ROOT / "dbt_project"
CLINICAL_MACROS = DBT / "macros" / "clinical"
CLINICAL_MODELS = DBT / "models" / "intermediate" / "clinical"

#: day 0 of every generated patient (only differences of dates matter to the grading)
DAY0 = dt.date(2020, 1, 1)

OBSERVATIONS = ENTITIES["daily_observations"]
#: the canonical sign columns of a daily observation (all but the patient id and the date)
SIGN_COLUMNS = tuple(
    c for c in OBSERVATIONS.columns if c.name not in ("centre_patient_id", OBSERVATIONS.date_column)
)

_ARROW_TYPES = {
    "text": pa.string(),
    "code": pa.string(),
    "integer": pa.int64(),
    "decimal": pa.float64(),
    "date": pa.date32(),
}
_SQL_TYPES = {"text": "varchar", "code": "varchar", "integer": "bigint", "decimal": "double"}

#: the input tables the two models ref(), with the columns they read
INPUTS: dict[str, dict[str, pa.DataType]] = {
    "int_index_infusions": {
        "patient_key": pa.string(),
        "centre_code": pa.string(),
        "infusion_date": pa.date32(),
    },
    "int_patients_deduplicated": {
        "patient_key": pa.string(),
        "age_at_infusion": pa.int64(),
        "reported_crs_grade": pa.int64(),
        "reported_icans_grade": pa.int64(),
        "reported_grading_system": pa.string(),
    },
    "int_treatments_standardised": {
        "patient_key": pa.string(),
        "admin_date": pa.date32(),
        "drug": pa.string(),
        "drug_class": pa.string(),
        "indication": pa.string(),
    },
    "int_follow_up_events_accepted": {
        "patient_key": pa.string(),
        "event_date": pa.date32(),
        "event_type": pa.string(),
        "death_cause": pa.string(),
    },
    "int_daily_observations_accepted": {
        "patient_key": pa.string(),
        "obs_date": pa.date32(),
        **{c.name: _ARROW_TYPES[c.dtype] for c in SIGN_COLUMNS},
    },
}
_ARROW_TO_SQL = {pa.string(): "varchar", pa.int64(): "bigint", pa.float64(): "double"}
_ARROW_TO_SQL[pa.date32()] = "date"


@functools.cache
def dbt_vars() -> dict:
    return yaml.safe_load((DBT / "dbt_project.yml").read_text())["vars"]


@functools.cache
def drug_classes() -> dict[str, str]:
    """drug -> drug_class, from the project's seed (what int_treatments_standardised joins)."""
    lines = (DBT / "seeds" / "drug_classes.csv").read_text().splitlines()
    header = lines[0].split(",")
    rows = [dict(zip(header, line.split(","))) for line in lines[1:] if line]
    return {row["drug"]: row["drug_class"] for row in rows}


def render_model(name: str) -> str:
    """The compiled SQL of a clinical model: its source with the clinical macros, ``ref(x)``
    -> ``x`` (the tables of :data:`INPUTS` or a view of another rendered model) and
    ``var(x)`` -> dbt_project.yml's value; any other dbt construct fails to render."""
    macros = "\n".join(p.read_text() for p in sorted(CLINICAL_MACROS.glob("*.sql")))
    source = (CLINICAL_MODELS / f"{name}.sql").read_text()
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    variables = dbt_vars()

    def var(key: str):
        return variables[key]

    def ref(model: str) -> str:
        if model not in INPUTS and model not in GRADING_MODELS:
            raise KeyError(f"{name} refs {model}, which the property tests do not provide")
        return model

    return environment.from_string(macros + "\n" + source).render(var=var, ref=ref)


#: the models under test, in dependency order
GRADING_MODELS = ("int_daily_toxicity_graded", "int_toxicity_summarised")
DAILY, SUMMARY = GRADING_MODELS


class GradingDatabase:
    """One in-memory DuckDB: input tables, the rendered models as views."""

    def __init__(self) -> None:
        self.con = duckdb.connect(":memory:")
        self.con.execute("set threads = 1")
        for table, columns in INPUTS.items():
            body = ", ".join(f"{c} {_ARROW_TO_SQL[t]}" for c, t in columns.items())
            self.con.execute(f"create table {table} ({body})")
        self.sql = {model: render_model(model) for model in GRADING_MODELS}
        # the daily grades are materialised after each load (as dbt does: the model is a
        # table), so the patient summary reads them without grading the days again
        self.con.execute(f"create view {DAILY}__view as {self.sql[DAILY]}")
        self.con.execute(f"create table {DAILY} as select * from {DAILY}__view limit 0")
        self.con.execute(f"create view {SUMMARY} as {self.sql[SUMMARY]}")

    def close(self) -> None:
        self.con.close()

    def load(self, patients: dict[str, dict], shuffle: random.Random | None = None) -> None:
        """Replace the inputs with ``patients`` (key -> patient). A patient is a dict:
        ``age`` (age at infusion or None), ``rows`` [(study_day, {sign column: value})] (two
        rows on one day are two delivered rows), ``treatments`` [(study_day, drug,
        indication)], ``death`` (study_day, death_cause) or None, ``reported`` (crs grade,
        icans grade, grading system). ``shuffle`` permutes the rows of every input table."""
        records: dict[str, list[dict]] = {table: [] for table in INPUTS}
        classes = drug_classes()
        for key, patient in patients.items():
            records["int_index_infusions"].append(
                {"patient_key": key, "centre_code": "xx", "infusion_date": DAY0}
            )
            crs, icans, system = patient["reported"]
            records["int_patients_deduplicated"].append(
                {
                    "patient_key": key,
                    "age_at_infusion": patient["age"],
                    "reported_crs_grade": crs,
                    "reported_icans_grade": icans,
                    "reported_grading_system": system,
                }
            )
            for day, drug, indication in patient["treatments"]:
                records["int_treatments_standardised"].append(
                    {
                        "patient_key": key,
                        "admin_date": DAY0 + dt.timedelta(days=day),
                        "drug": drug,
                        "drug_class": classes[drug],
                        "indication": indication,
                    }
                )
            if patient["death"] is not None:
                day, cause = patient["death"]
                records["int_follow_up_events_accepted"].append(
                    {
                        "patient_key": key,
                        "event_date": DAY0 + dt.timedelta(days=day),
                        "event_type": "death",
                        "death_cause": cause,
                    }
                )
            for day, signs in patient["rows"]:
                records["int_daily_observations_accepted"].append(
                    {"patient_key": key, "obs_date": DAY0 + dt.timedelta(days=day), **signs}
                )
        for table, columns in INPUTS.items():
            rows = records[table]
            if shuffle is not None:
                rows = rows[:]
                shuffle.shuffle(rows)
            self.con.execute(f"delete from {table}")
            if rows:
                arrow = pa.Table.from_pylist(rows, schema=pa.schema(list(columns.items())))
                self.con.register("_input", arrow)
                self.con.execute(f"insert into {table} by name select * from _input")
                self.con.unregister("_input")
        self.con.execute(f"delete from {DAILY}")
        self.con.execute(f"insert into {DAILY} select * from {DAILY}__view")

    def query(self, sql: str) -> list[dict]:
        cursor = self.con.execute(sql)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def days(self) -> dict[tuple[str, int], dict]:
        """(patient_key, study_day) -> the row of int_daily_toxicity_graded."""
        rows = self.query("select * from int_daily_toxicity_graded")
        return {(r["patient_key"], r["study_day"]): r for r in rows}

    def summaries(self) -> dict[str, dict]:
        """patient_key -> the row of int_toxicity_summarised."""
        return {r["patient_key"]: r for r in self.query("select * from int_toxicity_summarised")}
