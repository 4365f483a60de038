"""Endpoints excluded because an event is dated before its clock starts, as the report's data
completeness paragraph states them (the rule itself: dbt unit tests beside
int_endpoint_exclusions, int_response_evaluated and int_survival_derived; the demo's counts:
tests/test_cohort_flow.py; at scale: tests/test_registry_scale.py)."""

from __future__ import annotations

import html

import pandas as pd

from analysis_assets.report import completeness_sentences


def exclusions(counts: dict[tuple[int, int], int]) -> pd.DataFrame:
    """mart.cohort_exclusions for 'all' and one centre, with these counts (0 elsewhere)."""
    reasons = {
        (4, 1): "no assessment on days 21–45, no death or relapse before day 21",
        (4, 2): "a CR assessment dated before the index infusion and no CR on days 21–45 "
        "(queried to the centre)",
        (5, 1): "no CR on an assessment of days 21–45",
        (6, 1): "death dated before the index infusion (queried to the centre)",
        (7, 1): "relapse or death dated before the index infusion (queried to the centre)",
        (7, 2): "relapse or death dated after the infusion but before the CR date "
        "(queried to the centre)",
    }
    endpoints = {(4, 2): "response", (6, 1): "OS", (7, 1): "LFS", (7, 2): "LFS"}
    rows = [
        {
            "centre_code": centre,
            "step_order": s,
            "reason_order": r,
            "reason": text,
            "dated_before_clock_endpoint": endpoints.get((s, r)),
            "n": n,
        }
        for centre in ("all", "c1")
        for (s, r), text in reasons.items()
        for n in [counts.get((s, r), 0)]
    ]
    return pd.DataFrame(rows)


#: two patients, everything known (the paragraph speaks of patients only when there are some)
PATIENTS = pd.DataFrame({"sex": ["f", "m"], "age_at_infusion": [30, 40]})


def test_completeness_names_each_endpoint_excluded_with_its_reason_and_count():
    lines = completeness_sentences(
        {
            "patient_outcomes": PATIENTS,
            "cohort_exclusions": exclusions({(6, 1): 2, (7, 2): 1, (4, 2): 1, (5, 1): 9}),
        }
    )
    [line] = [x for x in lines if "clock starts" in x]
    assert line == (
        "An event dated before its clock starts would give a negative time: it is queried "
        "back to the centre and that endpoint of the patient is left out of its analyses "
        "(cohort flow): the day-30 response of 1 patient (a CR assessment dated before the "
        "index infusion and no CR on days 21–45); OS of 2 patients (death dated before the "
        "index infusion); LFS of 1 patient (relapse or death dated after the infusion but "
        "before the CR date)."
    )


def test_completeness_says_so_when_no_event_precedes_its_clock():
    lines = completeness_sentences(
        {"patient_outcomes": PATIENTS, "cohort_exclusions": exclusions({(5, 1): 9})}
    )
    assert [x for x in lines if "clock starts" in x] == [
        "No death, relapse or CR was dated before its clock starts (the index infusion, or "
        "the CR date for LFS): no endpoint was excluded for it."
    ]
    assert not [x for x in completeness_sentences({"patient_outcomes": PATIENTS}) if "clock" in x]


def test_lfs_population_names_the_cr_patients_without_an_lfs_time():
    po = pd.DataFrame(
        {
            "cr_day30": [True, True, True, False],
            "lfs_months": [3.0, 5.0, None, None],
            "lfs_event": [1, 0, None, None],
        }
    )
    [line] = [x for x in completeness_sentences({"patient_outcomes": po}) if x.startswith("LFS")]
    assert line == (
        "LFS is defined for the patients in CR at day 30 only (3 of 4 infused patients), of "
        "whom 2 have an LFS time; the others are not in the LFS analyses."
    )


def test_demo_report_states_the_excluded_lfs(demo):
    text = html.unescape((demo.output / "report.html").read_text(encoding="utf-8"))
    assert "LFS of 1 patient (relapse or death dated before the index infusion)" in text
