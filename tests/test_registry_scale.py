"""Registry scale (issue 13): 10,000 generated patients over 20 centres, with the generator's
imperfections, refreshed end to end through the real CLI into a data folder of their own.

The imperfections include deaths, relapses and CR assessments dated before the index
infusion. Each must be a plausibility finding queried back to its centre, the endpoint it
affects excluded with its reason counted in the cohort flow, and no time negative: the
blocking checks pass and the report is written. Slow (a few minutes): run by ``make bench``.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pytest

from cartwh.demo.centres import centre_codes
from tests.conftest import TEST_SECRET, run_cartwh

pytestmark = pytest.mark.slow

PATIENTS, CENTRES = 10_000, 20
MAPPINGS = Path(__file__).resolve().parents[1] / "mappings"


def register_centres(mappings: Path) -> None:
    """The project's centre registry plus the generated centres beyond the demo's four, which
    deliver the canonical layout (``cartwh.demo.centres``)."""
    shutil.copytree(MAPPINGS, mappings)
    own_layout = {path.stem for path in mappings.glob("*.yml")}
    canonical = [code for code in centre_codes(CENTRES) if code not in own_layout]
    (mappings / "canonical-centres.yml").write_text(
        f"centres: [{', '.join(canonical)}]\n", encoding="utf-8"
    )


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A refreshed 10k-patient warehouse: its environment, the refresh's result and timings."""
    root = tmp_path_factory.mktemp("registry")
    env = {
        "CARTWH_LANDING": str(root / "landing"),
        "CARTWH_WAREHOUSE": str(root / "warehouse.duckdb"),
        "CARTWH_OUTPUT": str(root / "output"),
        "CARTWH_DATA": str(root),
        "CARTWH_SECRET": TEST_SECRET,
        "CARTWH_CUTOFF": "2023-03-01",
        "CARTWH_MAPPINGS": str(root / "mappings"),
    }
    register_centres(root / "mappings")
    started = time.monotonic()
    generated = run_cartwh(
        ["generate", "--patients", str(PATIENTS), "--centres", str(CENTRES)]
        + ["--out", env["CARTWH_LANDING"], "--truth", str(root / "truth")],
        env,
        timeout=900,
    )
    assert generated.returncode == 0, generated.stderr
    generate_s = time.monotonic() - started
    started = time.monotonic()
    refreshed = run_cartwh(["refresh"], env, timeout=1800)
    refresh_s = time.monotonic() - started
    print(f"\nregistry scale: generate {generate_s:.0f} s, refresh {refresh_s:.0f} s")
    return {"env": env, "root": root, "refresh": refreshed}


def query(registry, sql: str) -> list[tuple]:
    with duckdb.connect(registry["env"]["CARTWH_WAREHOUSE"], read_only=True) as conn:
        return conn.execute(sql).fetchall()


def test_refresh_completes_and_writes_the_report(registry):
    refreshed = registry["refresh"]
    assert refreshed.returncode == 0, refreshed.stdout[-3000:] + refreshed.stderr[-3000:]
    report = registry["root"] / "output" / "report.html"
    assert report.is_file() and report.stat().st_size > 0
    [(patients, centres)] = query(
        registry, "select count(*), count(distinct centre_code) from mart.patient_outcomes"
    )
    assert centres == CENTRES and patients > 0.95 * PATIENTS


def test_every_blocking_check_passes(registry):
    assert (
        query(
            registry,
            """
        select check_name, centre_code, status from quality.check_results
        where severity = 'blocking' and status not in ('passed', 'not_applicable')
        """,
        )
        == []
    )
    quality = run_cartwh(["quality"], registry["env"])
    assert quality.returncode == 0, quality.stdout[-3000:] + quality.stderr[-3000:]
    # the statistics ran: the pandera contract of the mart (blocking) let them through
    [(km_rows,)] = query(registry, "select count(*) from analysis.km_estimates")
    assert km_rows > 0


def test_no_negative_time_reaches_the_mart(registry):
    [(os_min, lfs_min)] = query(
        registry, "select min(os_days), min(lfs_days) from mart.patient_outcomes"
    )
    [(aval_min,)] = query(registry, "select min(aval_days) from mart.time_to_event")
    assert os_min >= 0 and lfs_min >= 0 and aval_min >= 0


# Which patients lose which endpoint, derived here from the accepted rows independently of
# int_endpoint_exclusions: a death before day 0 (OS), a relapse or death before the CR date of a
# patient in CR at day 30 (LFS: before day 0 is reason 1, from day 0 on reason 2).
EXPECTED = """
with
infused as (
    select patient_key, centre_code, infusion_date from intermediate.int_index_infusions
),
outcomes as (
    select patient_key, cr_day30, cr_day, os_days, lfs_days from mart.patient_outcomes
),
events as (
    select infused.patient_key, events.event_type, events.event_date - infused.infusion_date as day
    from intermediate.int_follow_up_events_accepted as events
    inner join infused on events.patient_key = infused.patient_key
    where events.event_type in ('death', 'relapse')
)
select 'OS' as endpoint, 6 as step_order, 1 as reason_order, patient_key
from events where event_type = 'death' and day < 0 group by patient_key
union all
select 'LFS', 7, case when min(events.day) < 0 then 1 else 2 end, outcomes.patient_key
from outcomes inner join events on outcomes.patient_key = events.patient_key
where outcomes.cr_day30 and events.day < outcomes.cr_day
group by outcomes.patient_key
"""


def test_events_before_their_clock_exclude_the_endpoint_with_a_counted_reason(registry):
    expected = query(
        registry, f"select endpoint, step_order, reason_order, patient_key from ({EXPECTED})"
    )
    assert any(e[0] == "OS" for e in expected) and any(e[0] == "LFS" for e in expected), (
        "the generator's imperfections should give both kinds at this scale"
    )
    excluded = query(
        registry,
        """
        select endpoint, step_order, reason_order, patient_key
        from intermediate.int_endpoint_exclusions where endpoint in ('OS', 'LFS')
        """,
    )
    assert sorted(excluded) == sorted(expected)
    # the excluded endpoint is empty in the mart and absent from time_to_event
    leaks = query(
        registry,
        f"""
        with expected as ({EXPECTED})
        select expected.endpoint, expected.patient_key from expected
        inner join mart.patient_outcomes as po on expected.patient_key = po.patient_key
        where (expected.endpoint = 'OS' and po.os_days is not null)
            or (expected.endpoint = 'LFS' and po.lfs_days is not null)
        union all
        select expected.endpoint, expected.patient_key from expected
        inner join mart.time_to_event as tte
            on expected.patient_key = tte.patient_key
            and tte.paramcd like (expected.endpoint || '%')
        """,
    )
    assert leaks == []
    # counted by reason in the cohort flow, overall and per centre
    counted = dict(
        ((step, reason), n)
        for step, reason, n in query(
            registry,
            """
            select step_order, reason_order, n from mart.cohort_exclusions
            where centre_code = 'all' and step_order in (6, 7)
            """,
        )
    )
    by_reason = {}
    for _endpoint, step, reason, _key in expected:
        by_reason[(step, reason)] = by_reason.get((step, reason), 0) + 1
    assert {k: v for k, v in counted.items() if v} == by_reason
    [(os_excluded, lfs_excluded)] = query(
        registry,
        """
        select sum(excluded_n) filter (where step_order = 6),
            sum(excluded_n) filter (where step_order = 7)
        from mart.cohort_flow where centre_code = 'all'
        """,
    )
    assert os_excluded == sum(v for (s, _), v in by_reason.items() if s == 6)
    assert lfs_excluded == sum(v for (s, _), v in by_reason.items() if s == 7)


def test_a_cr_before_the_infusion_without_a_window_cr_excludes_the_response(registry):
    [(excluded, queried, evaluable, counted)] = query(
        registry,
        """
        with excluded as (
            select patient_key from intermediate.int_endpoint_exclusions
            where endpoint = 'response'
        )
        select
            (select count(*) from excluded),
            (select count(*) from excluded where patient_key in (
                select patient_key from quality.plausibility_findings
                where check_name = 'assessment_before_infusion')),
            (select count(*) from mart.patient_outcomes
             where patient_key in (select patient_key from excluded)
                and (response_evaluable or cr_day30 is not null)),
            (select n from mart.cohort_exclusions
             where centre_code = 'all' and step_order = 4 and reason_order = 2)
        """,
    )
    assert excluded > 0 and queried == excluded and evaluable == 0 and counted == excluded


def test_events_before_the_infusion_are_queried_back_to_the_centres(registry):
    [(findings, queries)] = query(
        registry,
        """
        select
            (select count(*) from quality.plausibility_findings
             where check_name = 'event_before_infusion'),
            (select count(*) from restricted.centre_queries
             where kind = 'plausibility' and rule = 'event_before_infusion'
                and centre_patient_id is not null and source_line is not null)
        """,
    )
    assert findings > 0 and queries == findings
    files = list((registry["root"] / "output" / "queries").glob("*/queries_*.csv"))
    assert any("event_before_infusion" in f.read_text(encoding="utf-8") for f in files)
