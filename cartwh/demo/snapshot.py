"""Delivery snapshots of a chunk (what a centre knew at a date) and the latent truth."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from models.extract_format import ENTITIES

from .clinical import DAYS, WINDOW

STEROID_FACTORS = {
    "dexamethasone": 1.0,
    "methylprednisolone": 0.1875,
    "prednisone": 0.15,
    "prednisolone": 0.15,
    "hydrocortisone": 0.0375,
}


def reported_grades(L: SimpleNamespace, s_rel: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The centre's recorded maximum grades, as known ``s_rel`` days after infusion."""
    seen = DAYS[None, :] <= s_rel[:, None]
    crs = np.where(seen, L.crs, 0).max(axis=1).astype(float)
    icans = np.where(seen, L.icans, 0).max(axis=1).astype(float)
    if L.centre.grading_system == "lee2014":
        crs = np.where(crs > 0, np.clip(crs + L.lee_delta_crs, 1, 4), 0)
        icans = np.where(icans > 0, np.clip(icans + L.lee_delta_icans, 1, 4), 0)
    return crs, icans


def patients_frame(L: SimpleNamespace, s_rel: np.ndarray) -> pd.DataFrame:
    crs, icans = reported_grades(L, s_rel)
    pi = np.arange(L.n)
    return pd.DataFrame(
        {
            "centre_patient_id": L.pid,
            "mrn": L.mrn,
            "full_name": L.full_name,
            "date_of_birth": L.dob.astype(float),
            "sex": L.sex,
            "diagnosis_date": L.dx_day.astype(float),
            "ph_status": L.ph,
            "prior_therapy_lines": L.lines.astype(float),
            "relapse_count": L.relapse_count.astype(float),
            "disease_status": L.status,
            "prior_hsct": L.prior_hsct,
            "bm_blasts_pct_pre": L.blasts,
            "extramedullary_pre": L.emd,
            "weight_kg": L.weight,
            "reported_crs_grade": crs,
            "reported_icans_grade": icans,
            "reported_grading_system": np.full(L.n, L.centre.grading_system, dtype=object),
            "_pi": pi,
            "_day": np.zeros(L.n, dtype=np.int64),
        }
    )


def _known_death(L, s_rel):
    return np.isfinite(L.death_day) & (L.death_day <= s_rel) & (L.death_day <= L.ltfu_day)


def snapshot(
    L: SimpleNamespace, rec: dict[str, pd.DataFrame], s_day: int
) -> dict[str, pd.DataFrame]:
    """Canonical frames of the delivery made on epoch day ``s_day``."""
    s_rel = (s_day - L.day0).astype(np.int64)
    inc = s_rel >= 0
    out = {"patients": patients_frame(L, s_rel)[inc]}
    last = np.full(L.n, -(10**9), dtype=np.int64)
    for name, df in rec.items():
        pi = df["_pi"].to_numpy()
        keep = inc[pi] & (df["_day"].to_numpy() <= s_rel[pi])
        out[name] = df[keep]
        np.maximum.at(last, pi[keep], df["_day"].to_numpy()[keep])
    # last contact of every patient not known dead at the snapshot
    alive = inc & ~_known_death(L, s_rel)
    lc = np.minimum(L.ltfu_day, s_rel - L.last_contact_lag)
    lc = np.minimum(np.maximum(np.maximum(lc, last), 0), s_rel).astype(np.int64)
    p = np.flatnonzero(alive)
    none = np.full(len(p), None, dtype=object)
    contact = pd.DataFrame(
        {
            "centre_patient_id": L.pid[p],
            "event_date": (L.day0[p] + lc[p]).astype(float),
            "event_type": np.full(len(p), "last_contact", dtype=object),
            "relapse_site": none,
            "cd19_status": none,
            "death_cause": none,
            "_pi": p,
            "_day": lc[p],
            "_o": 3,
        }
    )
    fu = pd.concat([out["follow_up_events"], contact], ignore_index=True)
    fu = fu.sort_values(["_pi", "_day", "_o"], kind="stable").drop(columns="_o")
    out["follow_up_events"] = fu
    L.last_alive = np.where(alive, lc, np.nan)
    return {name: out[name].reset_index(drop=True) for name in ENTITIES}


def _per_patient(n, pi, values, how):
    out = np.full(n, np.nan)
    if how == "max":
        np.fmax.at(out, pi, values)
    elif how == "min":
        np.fmin.at(out, pi, values)
    elif how == "sum":
        out[:] = 0.0
        np.add.at(out, pi, values)
    return out


def truth(L: SimpleNamespace, final: dict[str, pd.DataFrame], cutoff_day: int) -> pd.DataFrame:
    """One row per patient: the latent values the warehouse should derive (clean data)."""
    n = L.n
    window = (DAYS >= 0)[None, :] & L.obs
    observed = window.sum(axis=1)
    has_obs = observed > 0

    def derived(grid, thr):
        g = np.where(window, grid, 0)
        latent_first = np.where(
            (grid >= thr).any(axis=1), DAYS[np.argmax(grid >= thr, axis=1)], np.nan
        )
        return g.max(axis=1), latent_first, ((g >= 1) & window).sum(axis=1)

    crs_obs, crs_on, crs_dur = derived(L.crs, 1)
    _, crs_sev_on, _ = derived(L.crs, 3)
    ic_obs, ic_on, ic_dur = derived(L.icans, 1)
    _, ic_sev_on, _ = derived(L.icans, 3)
    crs_max = np.where(has_obs, crs_obs, L.crs.max(axis=1)).astype(int)
    ic_max = np.where(has_obs, ic_obs, L.icans.max(axis=1)).astype(int)
    if not np.all(L.crs.max(axis=1) == crs_max) or not np.all(L.icans.max(axis=1) == ic_max):
        raise RuntimeError("observed grades differ from latent maxima")
    crs_dur = np.where(has_obs, crs_dur, (L.crs >= 1).sum(axis=1))
    ic_dur = np.where(has_obs, ic_dur, (L.icans >= 1).sum(axis=1))
    seizure = np.zeros(n, dtype=bool)
    obs = final["daily_observations"]
    if len(obs):
        sz = obs["seizure"].isin(["resolved_rapidly", "prolonged_or_repetitive"]).to_numpy()
        seizure[obs["_pi"].to_numpy()[sz]] = True

    tr = final["treatments"]
    tr = tr[(tr["indication"] != "other") & (tr["_day"] >= 0) & (tr["_day"] <= WINDOW)]
    pi_all, day_all = tr["_pi"].to_numpy(), tr["_day"].to_numpy().astype(float)
    toci = (tr["drug"] == "tocilizumab").to_numpy()
    ster = tr["drug"].isin(list(STEROID_FACTORS)).to_numpy()
    dexeq = tr["dose"].to_numpy() * tr["drug"].map(STEROID_FACTORS).fillna(0).to_numpy()

    def exposure(mask, dose):
        first = _per_patient(n, pi_all[mask], day_all[mask], "min")
        lastd = _per_patient(n, pi_all[mask], day_all[mask], "max")
        cum = _per_patient(n, pi_all[mask], dose[mask], "sum")
        got = np.isfinite(first)
        return got, first, np.where(got, cum, np.nan), np.where(got, lastd - first + 1, np.nan)

    t_got, t_first, t_cum, t_dur = exposure(toci, tr["dose"].to_numpy())
    s_got, s_first, s_cum, s_dur = exposure(ster, dexeq)

    lab = final["labs"]
    lab = lab[(lab["_day"] >= 0) & (lab["_day"] <= WINDOW)]
    peak = {}
    for analyte in ("il6", "ferritin"):
        sub = lab[lab["analyte"] == analyte]
        peak[analyte] = _per_patient(n, sub["_pi"].to_numpy(), sub["value"].to_numpy(), "max")
    kin = final["car_t_kinetics"]
    kin = kin[
        (kin["specimen"] == "peripheral_blood") & (kin["_day"] >= 0) & (kin["_day"] <= WINDOW)
    ]
    peak_car = _per_patient(n, kin["_pi"].to_numpy(), kin["copies_per_ug_gdna"].to_numpy(), "max")

    s_rel = cutoff_day - L.day0
    death_known = _known_death(L, s_rel)
    os_days = np.where(death_known, L.death_day, L.last_alive)
    relapse_known = (
        np.isfinite(L.relapse_day) & (L.relapse_day <= s_rel) & (L.relapse_day <= L.ltfu_day)
    )
    cr_day = np.where(L.cr, L.assess_day, np.nan)
    lfs_end = np.where(relapse_known, L.relapse_day, os_days)
    lfs_event = relapse_known | death_known
    fin = lambda x: np.where(np.isfinite(x), x, np.nan)  # noqa: E731
    rep_crs, rep_icans = reported_grades(L, s_rel)
    mode = np.select([L.no_obs, L.sparse], ["none", "sparse"], "full")
    severe_icans = (ic_max >= 3) | seizure
    tox_group = np.select(
        [(crs_max >= 3) | (ic_max >= 3), (crs_max >= 1) | (ic_max >= 1)],
        ["grade_3_plus", "other"],
        "none",
    )
    return pd.DataFrame(
        {
            "centre_code": L.centre.code,
            "centre_patient_id": L.pid,
            "infusion_date": np.datetime_as_string(L.day0.astype("datetime64[D]")),
            "age_years": L.age,
            "child_under_12": L.child_lt12,
            "sex": L.sex,
            "weight_kg": L.weight,
            "cell_dose_per_kg": L.cell_dose,
            "bm_blasts_pct_pre": L.blasts,
            "high_blasts": L.high_blasts,
            "observation": mode,
            "observed_days": observed,
            "grade_source": np.where(has_obs, "derived", "reported"),
            "crs_max_grade": crs_max,
            "crs_onset_day": crs_on,
            "crs_duration_days": crs_dur,
            "severe_crs": crs_max >= 3,
            "severe_crs_onset_day": crs_sev_on,
            "icans_max_grade": ic_max,
            "icans_onset_day": ic_on,
            "icans_duration_days": ic_dur,
            "severe_icans": severe_icans,
            "severe_icans_onset_day": ic_sev_on,
            "concurrent_crs_icans": (crs_max >= 1) & (ic_max >= 1),
            "any_crs_or_icans": (crs_max >= 1) | (ic_max >= 1),
            "toxicity_group": tox_group,
            "received_tocilizumab": t_got,
            "tocilizumab_first_day": t_first,
            "tocilizumab_cumulative_mg": t_cum,
            "tocilizumab_duration_days": t_dur,
            "received_steroids": s_got,
            "steroid_first_day": s_first,
            "steroid_cumulative_dexeq_mg": s_cum,
            "steroid_duration_days": s_dur,
            "peak_il6_pg_ml": peak["il6"],
            "peak_ferritin_ng_ml": peak["ferritin"],
            "kinetics_available": np.isfinite(peak_car),
            "peak_car_copies": peak_car,
            "cr_day30": L.cr,
            "cr_day": cr_day,
            "mrd_negative_cr": L.mrd_neg,
            "early_death": L.early_death,
            "death_day": fin(L.death_day),
            "death_cause": L.death_cause,
            "relapse_day": fin(L.relapse_day),
            "allo_hsct_day": fin(L.hsct_day),
            "lost_to_follow_up_day": fin(L.ltfu_day),
            "os_days": os_days,
            "os_event": death_known,
            "lfs_days": np.where(L.cr, lfs_end - cr_day, np.nan),
            "lfs_event": np.where(L.cr, lfs_event, False),
            "reported_crs_grade": rep_crs.astype(int),
            "reported_icans_grade": rep_icans.astype(int),
            "reported_grading_system": L.centre.grading_system,
        }
    )
