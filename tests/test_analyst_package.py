"""The PHI-free analyst package (issue 12): `cartwh publish`, the refresh publishing it, what
it holds (mart, analysis and quality only, de-identified under HIPAA Safe Harbor), its
Parquet copy and codebook, and `cartwh sql` reading it by default."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from cartwh.analyst import check_publishable, publish_package
from cartwh.analyst.deidentify import (
    ALLOWED_DATES,
    PUBLISHED_SCHEMAS,
    PublishError,
    day_offset,
    published_columns,
    select_sql,
)
from cartwh.exitcodes import ExitCode
from cartwh.warehouse import write_lock
from tests.conftest import run_cartwh


@pytest.fixture(scope="module")
def package(demo, tmp_path_factory) -> Path:
    """The package of the session demo, published by the CLI into a folder of its own (the
    demo's warehouse is only read)."""
    folder = tmp_path_factory.mktemp("analyst") / "package"
    before = demo.warehouse.stat().st_mtime_ns
    result = run_cartwh(["publish", "--out", str(folder)], demo.env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("published the analyst package of refresh ")
    assert demo.warehouse.stat().st_mtime_ns == before
    return folder


@pytest.fixture(scope="module")
def both(demo, package):
    """One connection: the package as ``pkg``, the demo's warehouse as ``wh`` (read-only)."""
    conn = duckdb.connect()
    conn.execute(f"attach '{package / 'analyst.duckdb'}' as pkg (read_only)")
    conn.execute(f"attach '{demo.warehouse}' as wh (read_only)")
    yield conn
    conn.close()


def _tables(conn, catalog: str, schemas=PUBLISHED_SCHEMAS) -> dict[tuple[str, str], int]:
    names = conn.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = ? and table_type = 'BASE TABLE' and table_schema in "
        f"({', '.join('?' for _ in schemas)})",
        [catalog, *schemas],
    ).fetchall()
    return {
        (s, t): conn.execute(f'select count(*) from {catalog}.{s}."{t}"').fetchone()[0]
        for s, t in names
    }


def test_the_refresh_published_the_package_beside_the_demo(demo):
    folder = demo.root / "analyst"
    assert (folder / "analyst.duckdb").is_file()
    assert (folder / "codebook.csv").is_file() and (folder / "codebook.md").is_file()
    provenance = json.loads((folder / "provenance.json").read_text(encoding="utf-8"))
    ((run_id, cutoff),) = demo.query("select distinct run_id, cutoff from analysis.provenance")
    assert provenance["run_id"] == run_id and provenance["cutoff"] == cutoff.isoformat()
    delivered = demo.query("select centre_code, delivery_id, sha256 from analysis.provenance")
    assert sorted(
        (d["centre_code"], d["delivery_id"], d["sha256"]) for d in provenance["deliveries"]
    ) == sorted(delivered)
    assert not [p for p in folder.iterdir() if p.name.startswith((".next-", ".old-"))]


def test_only_mart_analysis_and_quality_with_the_warehouse_s_tables_and_rows(both):
    schemas_with_tables = {
        s
        for (s,) in both.execute(
            "select distinct table_schema from information_schema.tables "
            "where table_catalog = 'pkg'"
        ).fetchall()
    }
    assert schemas_with_tables == set(PUBLISHED_SCHEMAS)
    assert _tables(both, "pkg") == _tables(both, "wh")
    assert _tables(both, "pkg")[("mart", "patient_outcomes")] == 93


def test_no_date_column_but_provenance(both):
    dated = both.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = 'pkg' and (data_type like 'DATE%' or data_type like 'TIME%')"
    ).fetchall()
    assert set(dated) <= ALLOWED_DATES
    assert ("analysis", "provenance", "cutoff") in set(dated)


def _text_values(conn, sources: list[str]) -> None:
    """Every distinct text value of the package's tables (``sources``: SQL of each) into the
    temporary table ``shown``."""
    conn.execute("create or replace temp table shown (value varchar)")
    for source in sources:
        columns = conn.execute(f"select * from {source} limit 0").description
        for name, type_code, *_ in columns:
            if str(type_code) == "VARCHAR":
                quoted = '"' + name.replace('"', '""') + '"'
                conn.execute(
                    f"insert into shown select distinct {quoted} from {source} "
                    f"where {quoted} is not null"
                )


def _forbidden(conn) -> None:
    """Temporary table ``forbidden``: every date of care of the demo patients (every DATE of
    intermediate and mart, as YYYY-MM-DD and YYYY/MM/DD) and every direct identifier (names,
    MRNs, dates of birth of staging; centre patient ids of the crosswalk). The study calendar
    (the cut-off, the delivery ids: dates of extracts, published as provenance) is not a date
    of care, even where a patient's last contact falls on it."""
    dated = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = 'wh' and table_schema in ('intermediate', 'mart') "
        "and data_type = 'DATE' and column_name <> 'cutoff_date'"
    ).fetchall()
    assert len(dated) > 20
    union = " union ".join(f'select "{c}" as d from wh.{s}."{t}"' for s, t, c in dated)
    patients = [
        t
        for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_catalog = 'wh' "
            "and table_schema = 'staging' and table_name like 'stg_%__patients'"
        ).fetchall()
    ]
    identifiers = " union ".join(
        f"select full_name as s, 'name' as kind from wh.staging.{t} union "
        f"select mrn, 'mrn' from wh.staging.{t} union "
        f"select strftime(date_of_birth, '%Y-%m-%d'), 'date of birth' from wh.staging.{t}"
        for t in patients
    )
    conn.execute(
        f"""
        create or replace temp table forbidden as
        with care as (
            select distinct d from ({union}) where d is not null
            except select cutoff from wh.analysis.provenance
            except select try_cast(delivery_id[1:10] as date) from wh.raw.deliveries
        )
        select strftime(d, '%Y-%m-%d') as s, 'date of care' as kind from care
        union select strftime(d, '%Y/%m/%d'), 'date of care' from care
        union select s, kind from ({identifiers}) where s is not null
        union select centre_patient_id, 'centre patient id' from wh.restricted.patient_crosswalk
        """
    )
    kinds = dict(conn.execute("select kind, count(*) from forbidden group by 1").fetchall())
    assert kinds["date of care"] > 1000 and kinds["name"] >= 90 and kinds["mrn"] >= 90
    assert kinds["centre patient id"] == 93


def test_no_date_of_care_or_identifier_in_the_database_or_the_parquet(both, package):
    tables = _tables(both, "pkg")
    sources = [f'pkg.{s}."{t}"' for s, t in tables]
    sources += [f"read_parquet('{package / 'parquet' / s / (t + '.parquet')}')" for s, t in tables]
    _text_values(both, sources)
    _forbidden(both)
    assert both.execute("select count(*) from shown").fetchone()[0] > 1000
    leaked = both.execute(
        "select f.kind, f.s, s.value from shown s join forbidden f on contains(s.value, f.s) "
        "limit 5"
    ).fetchall()
    assert leaked == []
    # and in the bytes of the files themselves: names, MRNs and centre patient ids
    needles = [
        s.encode("utf-8")
        for (s,) in both.execute(
            "select s from forbidden where kind in ('name', 'mrn', 'centre patient id')"
        ).fetchall()
    ]
    for path in [package / "analyst.duckdb", *sorted((package / "parquet").rglob("*.parquet"))]:
        content = path.read_bytes()
        assert not [n for n in needles if n in content], path
    for path in (package / "codebook.csv", package / "codebook.md", package / "provenance.json"):
        text = path.read_text(encoding="utf-8")
        assert not [n for n in needles if n.decode() in text], path


def test_day_offsets_are_the_date_differences_of_the_warehouse(both):
    rows = both.execute(
        """
        select
            count(*),
            count_if(p.os_days is distinct from date_diff('day', s.infusion_date, s.os_end_date)),
            count_if(p.allo_hsct_day is distinct from
                date_diff('day', s.infusion_date, s.allo_hsct_date)),
            count_if(p.infusion_year is distinct from year(s.infusion_date))
        from pkg.mart.patient_outcomes p
        join wh.intermediate.int_survival_derived s using (patient_key)
        """
    ).fetchone()
    assert rows[0] == 93 and rows[1:] == (0, 0, 0)
    with_hsct = both.execute(
        "select count(*) from pkg.mart.patient_outcomes where allo_hsct_day is not null"
    ).fetchone()[0]
    assert with_hsct > 0


def test_the_parquet_tables_equal_the_database_tables(both, package):
    for schema, table in _tables(both, "pkg"):
        in_db = f'pkg.{schema}."{table}"'
        parquet = f"read_parquet('{package / 'parquet' / schema / (table + '.parquet')}')"
        described = [
            [d[0] for d in both.execute(f"select * from {source} limit 0").description]
            for source in (in_db, parquet)
        ]
        assert described[0] == described[1], table
        for first, second in ((in_db, parquet), (parquet, in_db)):
            assert both.execute(
                f"select count(*) from (select * from {first} except all select * from {second})"
            ).fetchone() == (0,), (schema, table)


def test_the_codebook_has_every_published_column_with_a_meaning(both, package):
    with open(package / "codebook.csv", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    published = both.execute(
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = 'pkg'"
    ).fetchall()
    assert sorted((r["schema"], r["table"], r["column"], r["type"]) for r in rows) == sorted(
        published
    )
    assert all(r["meaning"].strip() for r in rows)
    by_column = {(r["schema"], r["table"], r["column"]): r for r in rows}
    age = by_column[("mart", "patient_outcomes", "age_at_infusion")]
    assert age["unit"] == "years" and "90 = 90 or older" in age["codes"]
    assert "90" in age["deidentification"]
    assert by_column[("mart", "patient_outcomes", "sex")]["codes"] == "m = Male; f = Female"
    assert by_column[("mart", "patient_outcomes", "os_days")]["unit"] == "days"
    markdown = (package / "codebook.md").read_text(encoding="utf-8")
    assert "## mart.patient_outcomes" in markdown and "| age_top_coded |" in markdown


# ------------------------------------------------- the rules, on small hand-made warehouses


@pytest.fixture
def small():
    conn = duckdb.connect()
    for schema in (*PUBLISHED_SCHEMAS, "intermediate"):
        conn.execute(f"create schema {schema}")
    yield conn
    conn.close()


def _published(conn, schema: str, table: str) -> list[tuple]:
    columns = [c for c in published_columns(conn) if (c.schema, c.table) == (schema, table)]
    return conn.execute(select_sql(columns, f"{schema}.{table}") + " order by all").fetchall()


def test_ages_above_89_are_published_as_90(small):
    small.execute("create table mart.patient_outcomes (patient_key varchar, age_at_infusion int)")
    small.execute("insert into mart.patient_outcomes values ('a', 93), ('b', 89), ('c', 45)")
    small.execute("insert into mart.patient_outcomes values ('d', null)")
    assert _published(small, "mart", "patient_outcomes") == [
        ("a", 90),
        ("b", 89),
        ("c", 45),
        ("d", None),
    ]
    small.execute(
        "create table analysis.characteristics (variable varchar, median double, "
        "minimum double, maximum double, value varchar)"
    )
    small.execute(
        "insert into analysis.characteristics values "
        "('age_at_infusion', 91.5, 22, 93, '91.5 (22–93)'), "
        "('age_at_infusion', 45, 22, 89, '45 (22–89)'), "
        "('peak_il6_pg_ml', 120.5, 5, 4100, '120.5 (5–4100)')"
    )
    assert _published(small, "analysis", "characteristics") == [
        ("age_at_infusion", 45.0, 22.0, 89.0, "45 (22–89)"),
        ("age_at_infusion", 90.0, 22.0, 90.0, "90+ (22–90+)"),
        ("peak_il6_pg_ml", 120.5, 5.0, 4100.0, "120.5 (5–4100)"),
    ]


def test_a_date_column_without_a_rule_stops_the_publication(small):
    small.execute(
        "create table mart.patient_outcomes (patient_key varchar, os_days int, death_date date)"
    )
    with pytest.raises(PublishError, match=r"mart\.patient_outcomes\.death_date \(DATE\)"):
        published_columns(small)
    small.execute("create table quality.refreshed (loaded_at timestamp)")
    with pytest.raises(PublishError, match=r"quality\.refreshed\.loaded_at"):
        check_publishable(small)


def test_day_offset_counts_days_from_the_index_infusion(small):
    small.execute("create table intermediate.int_index_infusions (patient_key varchar, d date)")
    small.execute(
        "insert into intermediate.int_index_infusions values "
        "('a', date '2020-03-01'), ('b', date '2021-12-30')"
    )
    small.execute("create table mart.deaths (patient_key varchar, death_date date)")
    small.execute(
        "insert into mart.deaths values ('a', date '2020-03-01'), ('a', date '2021-03-01'), "
        "('b', date '2022-01-02'), ('b', null)"
    )
    name, sql = day_offset("death_date", ("intermediate.int_index_infusions", "d"))
    assert name == "death_day"
    rows = small.execute(
        f"select patient_key, {sql} from mart.deaths as src order by all"
    ).fetchall()
    assert rows == [("a", 0), ("a", 365), ("b", 3), ("b", None)]


def test_dates_in_the_quality_tables_raw_values_are_withheld(small):
    small.execute(
        "create table quality.quarantine (column_name varchar, value varchar, message varchar)"
    )
    small.execute(
        "insert into quality.quarantine values "
        "('obs_date', '2021-02-30', 'obs_date: ''2021-02-30'' is not a date as YYYY-MM-DD'), "
        "('infusion_date', '44567', 'infusion_date: ''44567'' is not a date (Excel day number)'), "
        "('tmax_c', '2021/03/04', 'tmax_c: ''2021/03/04'' is not a number'), "
        "('tmax_c', '389', 'tmax_c: 389 outside 30–45')"
    )
    assert _published(small, "quality", "quarantine") == [
        ("infusion_date", None, "infusion_date: '[date]' is not a date (Excel day number)"),
        ("obs_date", None, "obs_date: '[date]' is not a date as YYYY-MM-DD"),
        ("tmax_c", "389", "tmax_c: 389 outside 30–45"),
        ("tmax_c", "[date]", "tmax_c: '[date]' is not a number"),
    ]


def test_a_column_without_a_meaning_fails_the_codebook(small):
    small.execute("create table mart.patient_outcomes (patient_key varchar, centre_code varchar)")
    check_publishable(small)  # documented in the mart's yml
    small.execute("alter table mart.patient_outcomes add column mystery_score double")
    with pytest.raises(PublishError, match=r"no meaning for mart\.patient_outcomes\.mystery_score"):
        check_publishable(small)
    small.execute("alter table mart.patient_outcomes drop column mystery_score")
    small.execute("create table analysis.follow_up (method varchar, undocumented varchar)")
    with pytest.raises(PublishError, match=r"analysis\.follow_up\.undocumented"):
        check_publishable(small)


def test_publishing_without_a_published_refresh_changes_nothing(small, tmp_path):
    small.execute("create table mart.patient_outcomes (patient_key varchar)")
    with pytest.raises(PublishError, match="run `cartwh refresh`"):
        publish_package(small, tmp_path / "package")
    assert not (tmp_path / "package").exists()


# ---------------------------------------------------------------------------- cartwh sql


def test_cartwh_sql_reads_the_analyst_database_and_the_warehouse_only_when_asked(demo, package):
    env = {**demo.env(), "CARTWH_ANALYST": str(package)}
    mart = run_cartwh(
        ["sql", "select count(*) as n from mart.patient_outcomes", "--format", "csv"], env
    )
    assert mart.returncode == 0 and mart.stdout.split() == ["n", "93"], mart.stderr
    for query in ("select * from raw.deliveries", "select * from restricted.patient_crosswalk"):
        refused = run_cartwh(["sql", query], env)
        assert refused.returncode == ExitCode.FAILED and "does not exist" in refused.stderr
    warehouse = run_cartwh(
        [
            "sql",
            "--warehouse",
            "select count(*) as n from restricted.patient_crosswalk",
            "--format",
            "csv",
        ],
        env,
    )
    assert warehouse.returncode == 0 and warehouse.stdout.split() == ["n", "93"]
    written = run_cartwh(["sql", "create table mart.x as select 1"], env)
    assert written.returncode == ExitCode.FAILED and "read-only" in written.stderr.lower()


def test_cartwh_sql_without_an_analyst_database_says_how_to_make_one(demo, tmp_path):
    result = run_cartwh(["sql", "select 1"], {**demo.env(), "CARTWH_ANALYST": str(tmp_path)})
    assert result.returncode == ExitCode.USAGE and result.stdout == ""
    assert result.stderr.strip() == (
        f"cartwh: no analyst database at {tmp_path / 'analyst.duckdb'}: run `cartwh refresh` or "
        "`cartwh publish`, or query the warehouse with --warehouse"
    )


def test_cartwh_sql_answers_while_a_refresh_holds_the_warehouse(package, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"")  # never opened: its writers' lock alone keeps readers out
    env = {
        "CARTWH_WAREHOUSE": str(warehouse),
        "CARTWH_DATA": str(tmp_path),
        "CARTWH_ANALYST": str(package),
    }
    with write_lock(warehouse):
        answered = run_cartwh(["sql", "select count(*) as n from mart.patient_outcomes"], env, 60)
        busy = run_cartwh(["sql", "--warehouse", "select 1", "--wait", "0.5"], env, 60)
    assert answered.returncode == 0 and "93" in answered.stdout, answered.stderr
    assert busy.returncode == ExitCode.BUSY


def test_a_reader_keeps_its_package_and_a_failed_publication_changes_nothing(
    demo, package, small, tmp_path
):
    copy = tmp_path / "package"
    shutil.copytree(package, copy)
    reader = duckdb.connect(str(copy / "analyst.duckdb"), read_only=True)
    try:
        with demo.connect() as warehouse:
            publish_package(warehouse, copy)  # renamed over the file the reader has open
        assert reader.execute("select count(*) from mart.patient_outcomes").fetchone() == (93,)
    finally:
        reader.close()
    published = {p: p.read_bytes() for p in sorted(copy.rglob("*")) if p.is_file()}
    # a warehouse whose quality table carries a date as text: refused after it was staged
    small.execute(
        "create table analysis.provenance as select 'r1' as run_id, now() as generated_at, "
        "'v' as code_version, date '2023-03-01' as cutoff, 'xz' as centre_code, "
        "'2023-03-01' as delivery_id, 'abc' as sha256, 1 as files, 1 as rows"
    )
    small.execute("create table quality.check_results as select 'seen 2021-03-04' as description")
    with pytest.raises(PublishError, match=r"dates written as text in quality\.check_results"):
        publish_package(small, copy)
    with pytest.raises(PublishError, match=r"quality\.check_results\.description \(1 rows\)"):
        check_publishable(small)  # what the refresh runs before it publishes anything
    assert {p: p.read_bytes() for p in sorted(copy.rglob("*")) if p.is_file()} == published
    assert not [p for p in copy.iterdir() if p.name.startswith((".next-", ".old-"))]
