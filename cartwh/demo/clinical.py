"""Day-level clinical records of one chunk, from its latent patients.

The latent daily CRS and ICANS grades (day 0..30) come first; the raw signs
are then emitted so that the ASTCT 2019 rules of ``clinical-rules.md`` grade
them back exactly (on clean data): fever on every CRS day except treated days
(previous day CRS, anti-cytokine therapy on or before the day) whose organ
grade carries the grade; organ signs on non-CRS days only when the previous
day was not a CRS day either ("another cause").

Records are canonical DataFrames with epoch-day dates and two hidden columns,
``_pi`` (patient index in the chunk) and ``_day`` (day after infusion).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from .config import WINDOW

DAYS = np.arange(-1, WINDOW + 1)  # the daily grid: baseline day -1, then 0..30
NDAY = len(DAYS)
LAB_DAYS = np.array([-1, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 21, 28])
KIN_DAYS = np.array([1, 4, 7, 10, 14, 21, 28, 60, 90, 180, 270, 365, 540, 730])


def _obj(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def _tent(onset, peak, end, grade, slope) -> np.ndarray:
    """Grades on the grid: rising to ``grade`` at ``peak``, then falling by 1/day."""
    d = DAYS[None, :]
    g = grade[:, None]
    up = g - slope[:, None] * (peak[:, None] - d)
    down = g - (d - peak[:, None])
    val = np.clip(np.where(d < peak[:, None], up, down), 1, np.maximum(g, 1))
    inside = (d >= onset[:, None]) & (d <= end[:, None]) & (g > 0)
    return np.where(inside, val, 0).astype(np.int8)


def _episode(rng, grade, onset, lmin, lmax, max_rise):
    n = len(grade)
    lo, hi = np.asarray(lmin)[grade], np.asarray(lmax)[grade]
    length = lo + np.floor(rng.random(n) * (hi - lo + 1)).astype(np.int64)
    length = np.maximum(length, 1)
    rise = np.floor(rng.random(n) * (np.minimum(length - 1, max_rise) + 1)).astype(np.int64)
    end = np.minimum(onset + length - 1, WINDOW)
    peak = np.minimum(onset + rise, end)
    slope = rng.integers(1, 4, n)
    return _tent(onset, peak, end, grade, slope), end


def toxicity(rng, L: SimpleNamespace) -> None:
    """Latent daily grades ``L.crs`` / ``L.icans`` (n x 32, days -1..30)."""
    n = L.n
    g = L.crs_peak
    onset = np.clip(np.round(np.exp(rng.normal(np.log(5), 0.45, n))), 1, 14).astype(np.int64)
    L.crs, L.crs_end = _episode(rng, g, onset, [0, 2, 3, 4, 6], [0, 5, 7, 10, 13], 3)
    k = L.icans_peak
    lag = rng.choice(7, size=n, p=[0.08, 0.2, 0.22, 0.2, 0.14, 0.1, 0.06])
    ionset = np.where(g > 0, onset + lag, rng.integers(4, 11, n))
    ionset = np.clip(ionset, 4, 19)
    L.icans, _ = _episode(rng, k, ionset, [0, 1, 2, 3, 4], [0, 3, 5, 7, 9], 2)
    alive = DAYS[None, :] <= L.death_day[:, None]
    L.crs = np.where(alive, L.crs, 0).astype(np.int8)
    L.icans = np.where(alive, L.icans, 0).astype(np.int8)
    L.alive_grid = alive


def _first(mask: np.ndarray) -> np.ndarray:
    """Day of the first True per row (np.inf when none)."""
    has = mask.any(axis=1)
    return np.where(has, DAYS[np.argmax(mask, axis=1)], np.inf)


def _repeat_days(pi, start, count):
    idx = np.repeat(pi, count)
    offs = np.arange(len(idx)) - np.repeat(np.cumsum(count) - count, count)
    return idx, np.repeat(start, count) + offs, offs


def treatments(rng, L: SimpleNamespace) -> pd.DataFrame:
    n = L.n
    fg2 = _first(L.crs >= 2)
    onset = _first(L.crs >= 1)
    ionset = _first(L.icans >= 1)
    crs_end = L.crs_end.astype(float)
    # tocilizumab: during the CRS episode, from the first grade-2 day (or onset + 1..2)
    t_start = np.where(np.isfinite(fg2), fg2 + rng.integers(0, 2, n), onset + rng.integers(1, 3, n))
    t_start = np.clip(t_start, onset, crs_end)
    t_start = np.where(L.toci, t_start, np.inf)
    t_days = np.where(L.toci, 1 + ((rng.random(n) < 0.2) & (t_start < WINDOW)), 0).astype(np.int64)
    mgkg = np.where(L.weight < 30, 12.0, 8.0)
    t_dose = np.minimum(np.round(mgkg * L.weight / 10) * 10, 800.0)
    t_dose = np.where(rng.random(n) < 0.05, 80.0, t_dose)
    pi_t = np.flatnonzero(L.toci)
    ti, tday, _ = _repeat_days(pi_t, t_start[pi_t].astype(np.int64), t_days[pi_t])

    # corticosteroids: for ICANS from its onset, for CRS after tocilizumab / grade 2
    crs_base = np.maximum(
        np.where(np.isfinite(t_start), t_start, onset + 1),
        np.where(np.isfinite(fg2), fg2, onset + 1),
    )
    s_start = np.where(
        L.icans_peak > 0, ionset + rng.integers(0, 2, n), crs_base + rng.integers(0, 2, n)
    )
    s_start = np.clip(np.where(L.steroids, s_start, 0), 0, WINDOW - 1).astype(np.int64)
    severe = (L.crs_peak >= 3) | (L.icans_peak >= 3)
    dur = np.round(np.exp(rng.normal(np.log(np.where(severe, 6.5, 4.5)), 0.55, n)))
    dur = np.clip(dur, 1, 20).astype(np.int64)
    dur = np.where(L.steroids, np.minimum(dur, WINDOW - s_start + 1), 0)
    s_ind = np.where(L.icans_peak > 0, "icans", "crs")
    pulse = severe & (rng.random(n) < 0.3)
    mp_low = ~severe & (rng.random(n) < 0.15)
    d0 = np.where(
        severe, rng.choice([20.0, 40.0], n), rng.choice([10.0, 20.0, 40.0], n, p=[0.2, 0.45, 0.35])
    )
    pi_s = np.flatnonzero(L.steroids)
    si, sday, j = _repeat_days(pi_s, s_start[pi_s], dur[pi_s])
    dex = np.maximum(np.round(d0[si] * 0.8 ** (j // 2) / 2.5) * 2.5, 2.5)
    drug = np.full(len(si), "dexamethasone", dtype=object)
    dose = dex
    is_pulse = pulse[si] & (j < 3)
    drug[is_pulse] = "methylprednisolone"
    dose = np.where(is_pulse, 1000.0, dose)
    is_low = mp_low[si]
    drug[is_low] = "methylprednisolone"
    dose = np.where(
        is_low, np.maximum(np.round(2 * L.weight[si] * 0.75 ** (j // 2) / 10) * 10, 10), dose
    )

    pi_p = np.flatnonzero(L.premed)
    frames = [
        (
            ti,
            tday,
            np.full(len(ti), "tocilizumab", dtype=object),
            t_dose[ti],
            np.full(len(ti), "crs", dtype=object),
        ),
        (si, sday, drug, dose, _obj(s_ind[si])),
        (
            pi_p,
            np.zeros(len(pi_p), dtype=np.int64),
            np.full(len(pi_p), "hydrocortisone", dtype=object),
            np.full(len(pi_p), 100.0),
            np.full(len(pi_p), "other", dtype=object),
        ),
    ]
    pi = np.concatenate([f[0] for f in frames]).astype(np.int64)
    day = np.concatenate([f[1] for f in frames]).astype(np.int64)
    df = pd.DataFrame(
        {
            "centre_patient_id": L.pid[pi],
            "admin_date": (L.day0[pi] + day).astype(float),
            "drug": np.concatenate([f[2] for f in frames]),
            "dose": np.concatenate([f[3] for f in frames]).astype(float),
            "dose_unit": np.full(len(pi), "mg", dtype=object),
            "indication": np.concatenate([f[4] for f in frames]),
            "_pi": pi,
            "_day": day,
        }
    )
    # several administrations of one drug on one day are one row (total that day)
    df = df.groupby(["_pi", "_day", "drug"], sort=True, as_index=False).agg(
        {
            "centre_patient_id": "first",
            "admin_date": "first",
            "dose": "sum",
            "dose_unit": "first",
            "indication": "first",
        }
    )
    df = df[
        [
            "centre_patient_id",
            "admin_date",
            "drug",
            "dose",
            "dose_unit",
            "indication",
            "_pi",
            "_day",
        ]
    ]
    first_any = np.full(n, np.inf)
    np.minimum.at(first_any, df["_pi"].to_numpy(), df["_day"].to_numpy().astype(float))
    L.first_treatment_day = first_any
    L.toci_start = t_start
    return df.reset_index(drop=True)


def observation_mask(rng, L: SimpleNamespace) -> None:
    """Which grid days have a row: all while alive, none (chart not abstracted), or sparse."""
    obs = L.alive_grid.copy()
    obs[L.no_obs] = False
    for i in np.flatnonzero(L.sparse):
        keep = set()
        for grid in (L.crs[i], L.icans[i]):
            for thr in (1, 3):
                hit = np.flatnonzero(grid >= thr)
                if len(hit):
                    keep.add(int(hit[0]))
            if grid.max() > 0:
                keep.add(int(np.argmax(grid)))
        target = int(rng.integers(6, 13))
        pool = [j for j in range(1, NDAY) if j not in keep]
        extra = rng.choice(pool, size=max(0, target - len(keep)), replace=False)
        row = np.zeros(NDAY, dtype=bool)
        row[list(keep) + [int(x) for x in extra]] = True
        obs[i] = row & L.alive_grid[i]
    L.obs = obs


def daily_observations(rng, L: SimpleNamespace) -> pd.DataFrame:
    n = L.n
    shape = (n, NDAY)
    crs, icans = L.crs.astype(np.int64), L.icans.astype(np.int64)
    prev = np.zeros(shape, dtype=np.int64)
    prev[:, 1:] = crs[:, :-1]
    d = np.broadcast_to(DAYS, shape)
    treated = d >= L.first_treatment_day[:, None]
    u = rng.random((8,) + shape)

    drop = (crs >= 2) & (prev >= 1) & treated & ~L.sparse[:, None] & (u[0] < 0.5)
    fever = (crs >= 1) & ~drop
    other_fever = (crs == 0) & (d >= 0) & ((L.early_death[:, None] & (u[1] < 0.6)) | (u[1] < 0.015))
    tmax = np.round(36.8 + rng.normal(0, 0.3, shape), 1).clip(35.8, 37.9)
    hot = np.round(38.1 + rng.gamma(2.0, 0.3, shape) + 0.25 * np.maximum(crs - 1, 0), 1).clip(
        38.1, 41.5
    )
    tmax = np.where(fever | other_fever, hot, tmax)
    normal_day = (crs == 0) & ~other_fever
    tmax = np.where(normal_day & (u[2] < 0.02), np.nan, tmax)
    foc = np.where(other_fever, "yes", np.where(normal_day & (u[2] > 0.85), None, "no"))

    # organ grades: hemodynamic h and respiratory r, max(h, r) = CRS grade on grade>=2 days
    g = crs
    other = np.where(u[3] < 0.5, 0, 2 + np.floor(u[4] * np.maximum(g - 1, 1)).astype(np.int64))
    other = np.minimum(other, g)
    hemo_dom = u[5] < 0.5
    h = np.where(g >= 2, np.where(hemo_dom, g, other), 0)
    r = np.where(g >= 2, np.where(hemo_dom, other, g), 0)
    another = (crs == 0) & (prev == 0) & ~other_fever & (d >= 0) & (u[6] < 0.01)
    h = np.where(another & (u[5] < 0.5), 2, h)
    r = np.where(another & (u[5] >= 0.5), 2, r)

    v = rng.random((6,) + shape)
    hypot = np.where(h >= 2, "yes", "no")
    pressin_only = (h == 3) & (v[0] < 0.1)
    vaso = np.select([h == 4, (h == 3) & ~pressin_only], [2 + (v[1] < 0.2), 1], 0).astype(float)
    pressin = np.where(
        pressin_only | ((h == 3) & (v[2] < 0.2)) | ((h == 4) & (v[2] < 0.3)), "yes", "no"
    )

    dev = np.full(shape, "none", dtype=object)
    flow = np.full(shape, np.nan)
    r2 = r == 2
    nc2 = r2 & (v[3] < 0.9)
    dev[nc2] = "nasal_cannula"
    flow = np.where(nc2 & (v[4] < 0.8), 1 + np.floor(v[5] * 6), flow)
    dev[r2 & (v[3] >= 0.9)] = "blow_by"
    r3 = r == 3
    kind3 = np.floor(v[3] * 5).astype(np.int64)
    dev3 = np.array(
        ["high_flow_nasal_cannula", "nasal_cannula", "facemask", "non_rebreather", "venturi"],
        dtype=object,
    )
    lo3, hi3 = np.array([20, 7, 6, 10, 4]), np.array([60, 10, 10, 15, 12])
    dev[r3] = dev3[kind3[r3]]
    f3 = lo3[kind3] + np.floor(v[5] * (hi3[kind3] - lo3[kind3] + 1))
    flow = np.where(r3, np.where(kind3 == 0, np.round(f3 / 5) * 5, f3), flow)
    r4 = r == 4
    dev[r4] = np.array(["cpap", "bipap", "mechanical_ventilation"], dtype=object)[
        np.minimum(np.floor(v[3] * 3), 2).astype(np.int64)[r4]
    ]

    # ICANS: ICE (age >= 12) or CAPD (< 12), consciousness, seizure, motor, oedema, ICP
    k = icans
    w = rng.random((6,) + shape)
    ice = np.full(shape, 10.0)
    ice = np.where(w[0] < 0.1, np.nan, ice)
    cons = np.full(shape, "alert", dtype=object)
    seiz = np.full(shape, "none", dtype=object)
    motor = np.full(shape, "no", dtype=object)
    edema = np.full(shape, "none", dtype=object)
    icp = np.full(shape, "no", dtype=object)
    noc = np.full(shape, "no", dtype=object)
    ri = lambda lo, hi: lo + np.floor(w[1] * (hi - lo + 1))  # noqa: E731
    cons_pick = lambda opts: np.asarray(opts, dtype=object)[  # noqa: E731
        np.minimum(np.floor(w[2] * len(opts)), len(opts) - 1).astype(np.int64)
    ]
    var = w[3]
    m = k == 1
    ice[m] = ri(7, 9)[m]
    cons[m] = cons_pick(["alert", "alert", "awakens_spontaneously"])[m]
    m = (k == 2) & (var < 0.8)
    ice[m] = ri(3, 6)[m]
    cons[m] = cons_pick(["alert", "awakens_spontaneously", "awakens_to_voice"])[m]
    m = (k == 2) & (var >= 0.8)
    ice[m] = ri(7, 9)[m]
    cons[m] = "awakens_to_voice"
    m = (k == 3) & (var < 0.65)
    ice[m] = ri(0, 2)[m]
    cons[m] = cons_pick(
        ["alert", "awakens_spontaneously", "awakens_to_voice", "awakens_to_tactile"]
    )[m]
    m = (k == 3) & (var >= 0.65) & (var < 0.8)
    ice[m] = ri(3, 6)[m]
    cons[m] = "awakens_to_tactile"
    m = (k == 3) & (var >= 0.8) & (var < 0.9)
    ice[m] = ri(3, 6)[m]
    cons[m] = cons_pick(["alert", "awakens_spontaneously", "awakens_to_voice"])[m]
    seiz[m] = "resolved_rapidly"
    m = (k == 3) & (var >= 0.9)
    ice[m] = ri(3, 9)[m]
    cons[m] = cons_pick(["alert", "awakens_spontaneously"])[m]
    edema[m] = "focal"
    m = (k == 4) & (var < 0.6)
    ice[m] = 0
    cons[m] = "unarousable"
    m = (k == 4) & (var >= 0.6)
    ice[m] = ri(0, 2)[m]
    cons[m] = "awakens_to_tactile"
    seiz[m & (w[4] < 0.35)] = "prolonged_or_repetitive"
    motor[m & (w[4] >= 0.35) & (w[4] < 0.6)] = "yes"
    edema[m & (w[4] >= 0.6) & (w[4] < 0.85)] = "diffuse"
    icp[m & (w[4] >= 0.85)] = "yes"
    m = (k == 0) & (d >= 0) & (w[5] < 0.005)  # findings with another cause: not ICANS
    ice[m] = ri(6, 9)[m]
    noc[m] = "yes"
    # children under 12: CAPD instead of ICE; grade 2 carried by consciousness
    child = np.broadcast_to(L.child_lt12[:, None], shape)
    capd = np.select([ice >= 10, ice >= 7, ice >= 3], [0.0, ri(1, 4), ri(5, 8)], ri(9, 20))
    capd = np.where(cons == "unarousable", ri(24, 32), capd)
    capd = np.where(np.isnan(ice), np.nan, capd)
    cons = np.where(child & (k == 2), "awakens_to_voice", cons)
    capd = np.where(child, capd, np.nan)
    ice = np.where(child, np.nan, ice)

    keep = L.obs
    pi, j = np.nonzero(keep)
    day = DAYS[j]
    return pd.DataFrame(
        {
            "centre_patient_id": L.pid[pi],
            "obs_date": (L.day0[pi] + day).astype(float),
            "tmax_c": tmax[keep],
            "fever_other_cause": _obj(foc[keep]),
            "hypotension": _obj(hypot[keep]),
            "vasopressor_count": vaso[keep],
            "vasopressin": _obj(pressin[keep]),
            "oxygen_device": dev[keep],
            "oxygen_flow_l_min": flow[keep],
            "ice_score": ice[keep],
            "capd_score": capd[keep],
            "consciousness": _obj(cons[keep]),
            "seizure": seiz[keep],
            "motor_weakness": motor[keep],
            "cerebral_edema": edema[keep],
            "raised_icp_signs": icp[keep],
            "neuro_other_cause": noc[keep],
            "_pi": pi,
            "_day": day,
        }
    )


def labs(rng, L: SimpleNamespace) -> pd.DataFrame:
    n, K = L.n, len(LAB_DAYS)
    d = np.broadcast_to(LAB_DAYS, (n, K)).astype(float)
    g = L.crs_peak.astype(float)
    peak_day = np.where(g > 0, DAYS[np.argmax(L.crs, axis=1)], rng.integers(4, 9, n)).astype(float)
    width = 1.5 + 0.4 * g
    il6_base = np.exp(rng.normal(np.log(6), 0.5, n))
    il6_peak = np.exp(np.log(12) + 1.1 * g + 1.3 * L.high_blasts + rng.normal(0, 0.6, n))
    il6_peak = np.maximum(il6_peak, il6_base * 1.2)
    fer_base = np.exp(rng.normal(np.log(700), 0.6, n))
    fer_peak = fer_base * (1.5 + 0.6 * g) * np.exp(rng.normal(0, 0.4, n))
    crp_base = np.exp(rng.normal(np.log(6), 0.7, n))
    crp_peak = (15 + 35 * g) * np.exp(rng.normal(0, 0.4, n))

    def curve(base, peak, shift, wid):
        z = (d - (peak_day + shift)[:, None]) / wid[:, None]
        return base[:, None] + (peak - base)[:, None] * np.exp(-0.5 * z * z)

    values = {
        "il6": np.round(curve(il6_base, il6_peak, 0.0, width), 1),
        "ferritin": np.round(curve(fer_base, fer_peak, 2.0, width + 2.5)),
        "crp": np.round(curve(crp_base, crp_peak, 1.0, width + 1.0), 1),
    }
    drawn = (rng.random((n, K)) < np.where(d > 14, 0.6, 0.85)) & (d <= L.death_day[:, None])
    parts = []
    for a, (analyte, vals) in enumerate(values.items()):
        mask = drawn & (rng.random((n, K)) < (0.75 if analyte == "il6" else 0.92))
        pi, j = np.nonzero(mask)
        parts.append(
            pd.DataFrame(
                {
                    "_pi": pi,
                    "_day": LAB_DAYS[j],
                    "_a": a,
                    "analyte": analyte,
                    "value": vals[mask],
                    "unit": {"il6": "pg/ml", "ferritin": "ng/ml", "crp": "mg/l"}[analyte],
                }
            )
        )
    df = pd.concat(parts, ignore_index=True).sort_values(["_pi", "_day", "_a"], kind="stable")
    pi, day = df["_pi"].to_numpy(), df["_day"].to_numpy()
    out = pd.DataFrame(
        {
            "centre_patient_id": L.pid[pi],
            "sample_date": (L.day0[pi] + day).astype(float),
            "analyte": df["analyte"].to_numpy(dtype=object),
            "value": df["value"].to_numpy(float),
            "unit": df["unit"].to_numpy(dtype=object),
            "_pi": pi,
            "_day": day,
        }
    )
    return out


def _last_day(L) -> np.ndarray:
    """Last day on which the patient can have a record (death, loss to follow-up)."""
    return np.minimum(L.death_day, L.ltfu_day)


def kinetics(rng, L: SimpleNamespace) -> pd.DataFrame:
    n, K = L.n, len(KIN_DAYS)
    d = np.broadcast_to(KIN_DAYS, (n, K)).astype(float)
    peak = np.log10(3e4 * (1 + 0.3 * L.crs_peak)) + rng.normal(0, 0.45, n)
    tp = rng.integers(7, 15, n).astype(float)
    persist = np.clip(np.exp(rng.normal(np.log(150), 0.9, n)), 28, 1500)
    lv = np.where(
        d <= tp[:, None],
        peak[:, None] - 0.4 * (tp[:, None] - d),
        peak[:, None] - 1.6 * np.log10(d / tp[:, None]),
    )
    copies = np.where(d > persist[:, None], 0.0, np.round(10**lv))
    # the sample nearest the peak is always taken
    near = np.argmin(np.abs(d - tp[:, None]), axis=1)
    take = (rng.random((n, K)) < 0.85) | (np.arange(K)[None, :] == near[:, None])
    take &= L.kinetics[:, None] & (d <= _last_day(L)[:, None])
    pi, j = np.nonzero(take)
    pb = pd.DataFrame(
        {
            "_pi": pi,
            "_day": KIN_DAYS[j],
            "specimen": "peripheral_blood",
            "copies_per_ug_gdna": copies[take],
        }
    )
    # one marrow sample at the day-30 assessment
    bm_pi = np.flatnonzero(L.kinetics & np.isfinite(L.assess_day))
    bm = pd.DataFrame(
        {
            "_pi": bm_pi,
            "_day": L.assess_day[bm_pi].astype(np.int64),
            "specimen": "bone_marrow",
            "copies_per_ug_gdna": np.round(copies[bm_pi, 6] * rng.uniform(0.2, 0.8, len(bm_pi))),
        }
    )
    df = pd.concat([pb, bm], ignore_index=True).sort_values(
        ["_pi", "_day", "specimen"], kind="stable"
    )
    pi, day = df["_pi"].to_numpy(), df["_day"].to_numpy()
    return pd.DataFrame(
        {
            "centre_patient_id": L.pid[pi],
            "sample_date": (L.day0[pi] + day).astype(float),
            "specimen": df["specimen"].to_numpy(dtype=object),
            "copies_per_ug_gdna": df["copies_per_ug_gdna"].to_numpy(float),
            "_pi": pi,
            "_day": day,
        }
    )


def response(rng, L: SimpleNamespace) -> pd.DataFrame:
    n = L.n
    alive30 = ~L.early_death
    day = np.minimum(28 + rng.integers(-2, 6, n), L.death_day - 1).astype(float)
    L.assess_day = np.where(alive30, day, np.inf)
    cr = L.cr
    blasts = np.where(cr, np.round(rng.uniform(0, 4.5, n), 1), np.round(rng.uniform(5, 85, n), 1))
    circ = np.where(cr, "no", np.where(rng.random(n) < 0.5, "yes", "no"))
    emd = np.where(
        cr,
        np.where(rng.random(n) < 0.5, "no", "not_assessed"),
        np.where(rng.random(n) < 0.15, "yes", "no"),
    )
    mrd_pos = np.round(np.exp(rng.uniform(np.log(0.011), np.log(4.5), n)), 3)
    mrd_neg = np.where(rng.random(n) < 0.7, 0.0, np.round(rng.uniform(0.001, 0.009, n), 3))
    mrd = np.where(
        cr, np.where(L.mrd_neg, mrd_neg, mrd_pos), np.round(blasts * rng.uniform(0.6, 1, n), 2)
    )
    rows = [(np.flatnonzero(alive30), L.assess_day, blasts, circ, emd, mrd)]
    # a month-3 marrow for patients still in remission, and a marrow at marrow relapse
    d90 = 90 + rng.integers(-14, 15, n)
    m90 = cr & (d90 < L.relapse_day) & (d90 < _last_day(L))
    rows.append(
        (
            np.flatnonzero(m90),
            d90.astype(float),
            np.round(rng.uniform(0, 3, n), 1),
            np.full(n, "no"),
            np.full(n, "not_assessed"),
            np.where(rng.random(n) < 0.85, 0.0, np.round(rng.uniform(0.01, 1, n), 3)),
        )
    )
    mrel = (
        np.isfinite(L.relapse_day)
        & np.isin(L.relapse_site, ["bone_marrow", "combined"])
        & (L.relapse_day <= L.ltfu_day)
    )
    rb = np.round(rng.uniform(8, 90, n), 1)
    rows.append(
        (
            np.flatnonzero(mrel),
            L.relapse_day,
            rb,
            np.where(rng.random(n) < 0.6, "yes", "no"),
            np.where(L.relapse_site == "combined", "yes", "not_assessed"),
            np.round(rb * 0.9, 2),
        )
    )
    parts = [
        pd.DataFrame(
            {
                "_pi": p,
                "_day": dd[p].astype(np.int64),
                "bm_blasts_pct": b[p],
                "circulating_blasts": _obj(c[p]),
                "extramedullary_disease": _obj(e[p]),
                "mrd_pct": m[p],
            }
        )
        for p, dd, b, c, e, m in rows
    ]
    df = pd.concat(parts, ignore_index=True).sort_values(["_pi", "_day"], kind="stable")
    pi, dd = df["_pi"].to_numpy(), df["_day"].to_numpy()
    return pd.DataFrame(
        {
            "centre_patient_id": L.pid[pi],
            "assessment_date": (L.day0[pi] + dd).astype(float),
            "bm_blasts_pct": df["bm_blasts_pct"].to_numpy(float),
            "circulating_blasts": df["circulating_blasts"].to_numpy(object),
            "extramedullary_disease": df["extramedullary_disease"].to_numpy(object),
            "mrd_pct": df["mrd_pct"].to_numpy(float),
            "_pi": pi,
            "_day": dd,
        }
    )


def events(L: SimpleNamespace) -> pd.DataFrame:
    """Relapse, death and allo-HSCT events (known: on or before loss to follow-up)."""
    n = L.n
    known = lambda day: np.isfinite(day) & (day <= L.ltfu_day)  # noqa: E731
    none = np.full(n, None, dtype=object)
    spec = [
        (known(L.relapse_day), L.relapse_day, "relapse", L.relapse_site, L.cd19, none, 1),
        (known(L.hsct_day), L.hsct_day, "allo_hsct", none, none, none, 0),
        (known(L.death_day), L.death_day, "death", none, none, L.death_cause, 2),
    ]
    parts = []
    for mask, day, etype, site, cd19, cause, order in spec:
        p = np.flatnonzero(mask)
        parts.append(
            pd.DataFrame(
                {
                    "_pi": p,
                    "_day": day[p].astype(np.int64),
                    "_o": order,
                    "event_type": etype,
                    "relapse_site": _obj(site[p]),
                    "cd19_status": _obj(cd19[p]),
                    "death_cause": _obj(cause[p]),
                }
            )
        )
    df = pd.concat(parts, ignore_index=True)
    pi, day = df["_pi"].to_numpy(), df["_day"].to_numpy()
    return pd.DataFrame(
        {
            "centre_patient_id": L.pid[pi],
            "event_date": (L.day0[pi] + day).astype(float),
            "event_type": df["event_type"].to_numpy(object),
            "relapse_site": df["relapse_site"].to_numpy(object),
            "cd19_status": df["cd19_status"].to_numpy(object),
            "death_cause": df["death_cause"].to_numpy(object),
            "_pi": pi,
            "_day": day,
            "_o": df["_o"].to_numpy(),
        }
    )


def infusions(L: SimpleNamespace) -> pd.DataFrame:
    n = L.n
    second = np.flatnonzero(np.isfinite(L.reinfusion_day) & (L.reinfusion_day < _last_day(L)))
    pi = np.concatenate([np.arange(n), second])
    num = np.concatenate([np.ones(n, dtype=np.int64), np.full(len(second), 2)])
    day = np.concatenate([np.zeros(n, dtype=np.int64), L.reinfusion_day[second].astype(np.int64)])
    order = np.lexsort((num, pi))
    pi, num, day = pi[order], num[order], day[order]
    dose = L.cell_dose[pi].copy()
    dose[num == 2] = np.round(dose[num == 2] * 1.5 / 1e4) * 1e4
    return pd.DataFrame(
        {
            "centre_patient_id": L.pid[pi],
            "infusion_number": num.astype(float),
            "infusion_date": (L.day0[pi] + day).astype(float),
            "cell_dose_per_kg": dose,
            "product_name": L.product[pi],
            "costimulatory_domain": L.costim[pi],
            "lymphodepletion": L.ld[pi],
            "_pi": pi,
            "_day": day,
        }
    )


def build_records(rng, L: SimpleNamespace) -> dict[str, pd.DataFrame]:
    """Every dated record of the chunk up to the cut-off (snapshots filter them)."""
    toxicity(rng, L)
    rec = {"treatments": treatments(rng, L)}
    observation_mask(rng, L)
    rec["daily_observations"] = daily_observations(rng, L)
    rec["labs"] = labs(rng, L)
    rec["response_assessments"] = response(rng, L)
    rec["car_t_kinetics"] = kinetics(rng, L)
    rec["follow_up_events"] = events(L)
    rec["infusions"] = infusions(L)
    return rec
