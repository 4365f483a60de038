"""mart.cohort_flow on the demo warehouse: a tree of nested steps whose exclusions add up, in
agreement with mart.patient_outcomes, carried into analysis.cohort_flow and drawn with its
exclusion boxes (the dbt unit test beside the model covers the hand-made cases)."""

from __future__ import annotations

import pandas as pd
import pytest

PARENTS = {1: None, 2: 1, 3: 2, 4: 2, 5: 4, 6: 2, 7: 5}


@pytest.fixture(scope="module")
def flow(demo) -> pd.DataFrame:
    with demo.connect() as conn:
        return conn.execute("select * from mart.cohort_flow order by centre_code, step_order").df()


def test_every_step_names_its_parent_and_is_nested_in_it(flow):
    assert {"parent_step_order", "analysis_population", "excluded_n", "excluded_reason"} <= set(
        flow.columns
    )
    for centre, steps in flow.groupby("centre_code"):
        steps = steps.set_index("step_order")
        assert sorted(steps.index) == sorted(PARENTS), centre
        for step, row in steps.iterrows():
            parent = PARENTS[step]
            if parent is None:
                assert pd.isna(row["parent_step_order"]) and pd.isna(row["excluded_n"])
                continue
            assert row["parent_step_order"] == parent, (centre, step)
            assert row["n"] <= steps.loc[parent, "n"], (centre, step)
            assert steps.loc[parent, "n"] == row["n"] + row["excluded_n"], (centre, step)
            assert isinstance(row["excluded_reason"], str) and row["excluded_reason"]


def test_centres_add_up_to_all(flow):
    centres = flow[flow["centre_code"] != "all"].groupby("step_order")[["n", "excluded_n"]].sum()
    overall = flow[flow["centre_code"] == "all"].set_index("step_order")
    assert (centres["n"] == overall["n"]).all()
    assert (centres["excluded_n"].iloc[1:] == overall["excluded_n"].iloc[1:]).all()


def test_flow_agrees_with_the_patient_outcomes(demo, flow):
    with demo.connect() as conn:
        [(infused, gradable, evaluable, in_cr, not_cr, with_os, with_lfs)] = conn.execute(
            """
            select count(*), count(*) filter (where toxicity_gradable),
                count(*) filter (where response_evaluable), count(*) filter (where cr_day30),
                count(*) filter (where response_evaluable and not cr_day30),
                count(os_days), count(lfs_days)
            from mart.patient_outcomes
            """
        ).fetchall()
    overall = flow[flow["centre_code"] == "all"].set_index("step_order")
    # steps 6 and 7 are the populations of the OS and LFS analyses: the patients with a time
    assert list(overall["n"].iloc[1:]) == [
        infused,
        gradable,
        evaluable,
        in_cr,
        with_os,
        with_lfs,
    ]
    assert overall.loc[3, "excluded_n"] == infused - gradable
    assert overall.loc[4, "excluded_n"] == infused - evaluable
    assert overall.loc[5, "excluded_n"] == not_cr
    assert "21–45" in overall.loc[4, "excluded_reason"]  # the response window of the vars


def test_exclusion_reasons_add_up_to_each_steps_exclusions(demo, flow):
    with demo.connect() as conn:
        reasons = conn.execute("select * from mart.cohort_exclusions").df()
    by_step = reasons.groupby(["centre_code", "step_order"])["n"].sum()
    steps = flow[flow["step_order"] > 1].set_index(["centre_code", "step_order"])["excluded_n"]
    assert sorted(by_step.index) == sorted(steps.index)
    for key, excluded in steps.items():
        assert by_step[key] == excluded, key
    assert (reasons["n"] >= 0).all() and reasons["reason"].str.len().gt(0).all()
    # not in CR at day 30, by response_basis of the evaluable patients without CR
    with demo.connect() as conn:
        [(died,)] = conn.execute(
            "select count(*) from mart.patient_outcomes where response_basis = 'early_death'"
        ).fetchall()
    all_reasons = reasons[reasons["centre_code"] == "all"].set_index(["step_order", "reason_order"])
    assert all_reasons.loc[(5, 2), "n"] == died


def test_analysis_flow_and_figure_carry_the_tree(demo):
    with demo.connect() as conn:
        analysis = conn.execute(
            "select * from analysis.cohort_flow where centre_code = 'all' order by step_order"
        ).df()
    assert list(analysis["parent_step_order"].iloc[1:]) == [1, 2, 2, 4, 2, 5]
    figures = demo.output / "figures"
    for stem in ("cohort_flow", "figure2_survival_by_toxicity", "figure3_survival_by_grade"):
        for ext in ("png", "pdf", "svg"):
            assert (figures / f"{stem}.{ext}").stat().st_size > 0, (stem, ext)
    svg = (figures / "cohort_flow.svg").read_text(encoding="utf-8")
    assert "Not in CR at day 30 (n = " in svg


def test_endpoints_dated_before_their_clock_are_counted_by_reason(demo, flow):
    """The demo's one relapse dated before the infusion belongs to a patient in CR at day 30:
    LFS of that patient is excluded (step 7, reason 1), the query goes to the centre, and every
    excluded endpoint is empty in the mart."""
    with demo.connect() as conn:
        excluded = conn.execute(
            "select endpoint, step_order, reason_order, patient_key "
            "from intermediate.int_endpoint_exclusions"
        ).fetchall()
        [(finding_patients,)] = conn.execute(
            """
            select count(distinct findings.patient_key)
            from quality.plausibility_findings as findings
            inner join mart.patient_outcomes as po on findings.patient_key = po.patient_key
            where findings.check_name = 'event_before_infusion' and po.cr_day30
                and findings.detail like 'relapse%'
            """
        ).fetchall()
        leaks = conn.execute(
            """
            select x.endpoint, x.patient_key
            from intermediate.int_endpoint_exclusions as x
            inner join mart.patient_outcomes as po on x.patient_key = po.patient_key
            where (x.endpoint = 'OS' and po.os_days is not null)
                or (x.endpoint = 'LFS' and po.lfs_days is not null)
                or (x.endpoint = 'response' and po.response_evaluable)
            """
        ).fetchall()
        reasons = conn.execute(
            "select step_order, reason_order, dated_before_clock_endpoint, n "
            "from mart.cohort_exclusions where centre_code = 'all' and n > 0 "
            "and step_order in (6, 7)"
        ).fetchall()
        endpoints = conn.execute(
            "select distinct step_order, reason_order, dated_before_clock_endpoint "
            "from mart.cohort_exclusions where dated_before_clock_endpoint is not null "
            "order by all"
        ).fetchall()
    assert finding_patients == 1
    assert [(e, s, r) for e, s, r, _ in excluded] == [("LFS", 7, 1)]
    assert leaks == []
    assert reasons == [(7, 1, "LFS", 1)]
    # the endpoint each reason takes away, as the report's completeness paragraph names it
    assert endpoints == [(4, 2, "response"), (6, 1, "OS"), (7, 1, "LFS"), (7, 2, "LFS")]
    overall = flow[flow["centre_code"] == "all"].set_index("step_order")
    assert overall.loc[7, "excluded_n"] == 1 and overall.loc[6, "excluded_n"] == 0
