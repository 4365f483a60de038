"""mart.exposure_intervals (counting-process data built in SQL) equals the Python tmerge builder
:func:`analysis_assets.time_dependent.counting_process` on the session demo, exposure by
exposure, with the onset days of mart.patient_exposures (the exposures' one definition, in
dbt), and keeps its invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis_assets.robustness import exposure_flags
from analysis_assets.study import ROBUSTNESS_EXPOSURES, TIME_DEPENDENT_ENDPOINTS
from analysis_assets.time_dependent import counting_process


@pytest.fixture(scope="module")
def mart(demo) -> dict[str, pd.DataFrame]:
    with demo.connect() as conn:
        return {
            t: conn.execute(f"select * from mart.{t}").df()
            for t in (
                "exposure_intervals",
                "time_to_event",
                "patient_outcomes",
                "patient_exposures",
            )
        }


def _python_intervals(mart, endpoint: str, exposure: str) -> pd.DataFrame:
    """counting_process on the endpoint's times with the exposure's onset from the origin."""
    tte = mart["time_to_event"]
    tte = tte[(tte["paramcd"] == endpoint) & (tte["aval_days"] > 0)]
    exposures = exposure_flags(mart["patient_exposures"])
    d = tte.merge(exposures, on="patient_key")
    onset, known = d[f"{exposure}_onset_day"], d[f"{exposure}_onset_known"]
    d = d[known]
    patients = pd.DataFrame(
        {
            "id": d["patient_key"],
            "time": d["aval_days"].astype(float),
            "event": (d["cnsr"] == 0).astype(int),
            "onset": (onset[known] - d["start_day"]).astype(float),
        }
    )
    out = counting_process(patients).rename(columns={"id": "patient_key", "exposed": exposure})
    return out[["patient_key", "tstart", "tstop", "event", exposure]]


def _sql_intervals(mart, endpoint: str, exposure: str) -> pd.DataFrame:
    """The SQL intervals of one endpoint merged over the other exposures' splits."""
    cp = mart["exposure_intervals"]
    cp = cp[(cp["paramcd"] == endpoint) & cp[exposure].notna()]
    merged = cp.groupby(["patient_key", exposure], as_index=False).agg(
        tstart=("tstart", "min"), tstop=("tstop", "max"), event=("event", "max")
    )
    return merged[["patient_key", "tstart", "tstop", "event", exposure]]


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    df = df.astype({"tstart": float, "tstop": float, "event": int, df.columns[-1]: int})
    return df.sort_values(["patient_key", "tstart"]).reset_index(drop=True)


@pytest.mark.parametrize("endpoint", TIME_DEPENDENT_ENDPOINTS)
@pytest.mark.parametrize("exposure", list(ROBUSTNESS_EXPOSURES))
def test_sql_intervals_equal_the_python_tmerge_builder(mart, endpoint, exposure):
    expected = _sorted(_python_intervals(mart, endpoint, exposure))
    actual = _sorted(_sql_intervals(mart, endpoint, exposure))
    assert len(expected) > 0
    pd.testing.assert_frame_equal(actual, expected)


def test_the_demo_has_splits_and_unknown_onset_days(mart):
    """The comparison above is not vacuous: OS is split, and an unknown onset day is null."""
    cp = mart["exposure_intervals"]
    os_ = cp[cp["paramcd"] == "OS"]
    assert os_.groupby("patient_key").size().max() >= 3
    assert (os_.groupby("patient_key")["crs"].nunique() == 2).sum() >= 10
    outcomes = mart["patient_outcomes"]
    unknown = outcomes[(outcomes["crs_max_grade"] >= 1) & outcomes["crs_onset_day"].isna()]
    assert len(unknown) >= 1
    assert os_[os_["patient_key"].isin(unknown["patient_key"])]["crs"].isna().all()


def test_intervals_tile_each_follow_up(mart):
    cp = mart["exposure_intervals"].sort_values(["patient_key", "paramcd", "tstart"])
    assert (cp["tstart"] < cp["tstop"]).all()
    per = cp.groupby(["patient_key", "paramcd"])
    assert (per["tstart"].min() == 0).all()
    previous = per["tstop"].shift()
    assert np.array_equal(cp["tstart"][previous.notna()], previous.dropna())
    assert (per["event"].sum() <= 1).all()
    tte = mart["time_to_event"]
    ends = tte[tte["aval_days"] > 0].set_index(["patient_key", "paramcd"])
    last = per.agg(tstop=("tstop", "max"), event=("event", "max"))
    joined = last.join(ends, how="outer")
    assert (joined["tstop"] == joined["aval_days"]).all()
    assert (joined["event"] == (joined["cnsr"] == 0)).all()


def test_the_mart_has_the_studys_exposures(mart):
    """dbt's exposure list (macro robustness_exposures) is study.ROBUSTNESS_EXPOSURES, in order,
    in both marts, then the toxicity flags from the reported grades; patient_exposures has one
    row per patient of patient_outcomes."""
    names = list(ROBUSTNESS_EXPOSURES)
    exposures = mart["patient_exposures"]
    suffixes = ("", "_onset_day", "_onset_known")
    expected = ["patient_key", "centre_code", *(f"{e}{s}" for e in names for s in suffixes)]
    reported = ["crs_reported", "icans_reported", "grade_3_plus_reported"]
    assert list(exposures.columns) == expected + reported
    assert list(mart["exposure_intervals"].columns[-len(names) :]) == names
    assert sorted(exposures["patient_key"]) == sorted(mart["patient_outcomes"]["patient_key"])
    # the demo's CRS at an unknown day (test above) is exposed with its onset not known
    assert (exposures["crs"] & ~exposures["crs_onset_known"]).sum() >= 1
