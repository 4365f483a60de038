"""Patient-level latent model of one chunk of one centre's patients.

Every count that the study reports is drawn by quota sampling
(:func:`quotas.choose`), so the default cohort matches it exactly; the
survival model is proportional-hazards with a cure fraction, and any CRS or
ICANS multiplies the hazards of relapse and death by ``toxicity_hr``.
"""

from __future__ import annotations

from statistics import NormalDist
from types import SimpleNamespace

import numpy as np

from .centres import Centre
from .config import (
    INFUSION_END,
    INFUSION_START,
    INFUSION_TREND,
    MIN_FOLLOW_UP_DAYS,
    epoch_day,
)
from .names import full_names, mrns, patient_ids
from .quotas import choose, stratified_uniform

INF = np.inf
_NORMAL = NormalDist()


def infusion_days(rng: np.random.Generator, n: int, cutoff_day: int) -> np.ndarray:
    """Sorted, stratified infusion dates (epoch days), denser in later years."""
    start = epoch_day(INFUSION_START)
    end = min(epoch_day(INFUSION_END), cutoff_day - MIN_FOLLOW_UP_DAYS)
    if end <= start:
        raise ValueError("cut-off too early: no room for infusions after May 2016")
    a = INFUSION_TREND
    u = np.sort(stratified_uniform(rng, n))
    t = (-1.0 + np.sqrt(1.0 + 2.0 * a * u * (1.0 + a / 2.0))) / a
    return (start + np.floor(t * (end - start + 1))).astype(np.int64).clip(start, end)


def _inv_norm(u: np.ndarray) -> np.ndarray:
    return np.array([_NORMAL.inv_cdf(float(x)) for x in np.clip(u, 1e-9, 1 - 1e-9)])


def _ph_time(rng, n, hr, cure, scale, shape) -> np.ndarray:
    """Event times under S(t) = S0(t)^hr, S0 = cure + (1-cure)*Weibull(scale, shape)."""
    v = rng.random(n) ** (1.0 / hr)
    t = np.full(n, INF)
    ev = v > cure
    s = (v[ev] - cure) / (1.0 - cure)
    t[ev] = scale * (-np.log(np.clip(s, 1e-12, 1.0))) ** (1.0 / shape)
    return t


def _pick(rng, choices, p, n):
    return np.asarray(choices, dtype=object)[rng.choice(len(choices), size=n, p=p)]


def sample_patients(
    rng: np.random.Generator,
    centre: Centre,
    start: int,
    day0: np.ndarray,
    q: dict[str, int],
    *,
    toxicity_hr: float,
    cutoff_day: int,
    id_width: int,
) -> SimpleNamespace:
    n = len(day0)
    L = SimpleNamespace(n=n, centre=centre, day0=day0.astype(np.int64))
    L.pid = patient_ids(centre.id_prefix, start, n, id_width)
    L.mrn = mrns(centre.index, start, n)
    L.full_name = full_names(rng, n, centre.hanzi_names)

    # demographics ---------------------------------------------------------
    L.sex = np.where(choose(rng, q["male"], np.ones(n)), "m", "f").astype(object)
    child = choose(rng, q["children"], np.ones(n))
    age = np.empty(n, dtype=np.int64)
    na = int((~child).sum())
    z = _inv_norm(stratified_uniform(rng, na))
    age[~child] = np.clip(np.floor(21.5 + 7.0 * np.exp(0.9 * z)), 22, 70)
    age[child] = 3 + np.floor(stratified_uniform(rng, int(child.sum())) * 15).astype(np.int64)
    L.age = age
    L.child_lt12 = age < 12
    L.dob = day0 - np.round(age * 365.2425 + rng.uniform(15, 350, n)).astype(np.int64)
    male = L.sex == "m"
    w_adult = np.where(male, rng.normal(64, 9, n), rng.normal(56, 8, n)).clip(40, 110)
    w_child = (2.2 * age + 9) * np.exp(rng.normal(0, 0.15, n))
    L.weight = np.round(np.where(age < 18, np.maximum(w_child, 10), w_adult), 1)
    L.dx_day = day0 - rng.integers(180, 2000, n)

    # disease ----------------------------------------------------------------
    L.ph = _pick(rng, ["positive", "negative", "unknown"], [0.22, 0.73, 0.05], n)
    refractory = rng.random(n) < 0.35
    L.status = np.where(refractory, "refractory", "relapsed").astype(object)
    L.relapse_count = np.where(
        refractory, (rng.random(n) < 0.3).astype(int), np.minimum(1 + rng.poisson(0.5, n), 4)
    )
    L.lines = np.clip(2 + rng.poisson(1.4, n) - refractory, 1, 9)
    L.prior_hsct = np.where(~refractory & (rng.random(n) < 0.25), "yes", "no").astype(object)
    high = rng.random(n) < 0.5
    L.blasts = np.round(
        np.where(high, rng.uniform(20, 95, n), np.exp(rng.uniform(np.log(0.5), np.log(19.5), n))), 1
    )
    L.high_blasts = L.blasts >= 20
    L.emd = np.where(rng.random(n) < 0.12, "yes", "no").astype(object)
    zd = _inv_norm(stratified_uniform(rng, n))
    L.cell_dose = np.round(1.1e6 * np.exp(0.45 * zd) / 1e4).clip(10, 1000) * 1e4
    L.product = _pick(rng, ["CD19 CAR-T (humanized)", "CD19 CAR-T (murine)"], [0.6, 0.4], n)
    L.costim = _pick(rng, ["4-1bb", "cd28", "other"], [0.85, 0.13, 0.02], n)
    L.ld = _pick(rng, ["flu_cy", "other"], [0.95, 0.05], n)

    # early deaths and toxicity (quota sampling) --------------------------------
    L.early_death = choose(rng, q["early_death"], np.ones(n))
    ok = ~L.early_death
    dose_rel = L.cell_dose / 1.1e6
    crs = choose(rng, q["crs"], dose_rel**1.5 * (1 + 0.3 * L.high_blasts), ok)
    severe = choose(rng, q["crs_severe"], dose_rel * (1 + 2.0 * L.high_blasts), crs)
    g4 = choose(rng, q["crs_g4"], np.ones(n), severe)
    g2 = choose(rng, q["crs_g2"], np.ones(n), crs & ~severe)
    L.crs_peak = np.select([g4, severe, g2, crs], [4, 3, 2, 1], 0).astype(np.int64)
    icans_c = choose(rng, q["icans_with_crs"], np.array([0, 1, 2, 4, 6.0])[L.crs_peak], crs)
    icans_n = choose(rng, q["icans_without_crs"], np.ones(n), ok & ~crs)
    icans = icans_c | icans_n
    isev = choose(rng, q["icans_severe"], 1.0 + L.crs_peak, icans)
    ig4 = choose(rng, q["icans_g4"], np.ones(n), isev)
    ig2 = choose(rng, q["icans_g2"], np.ones(n), icans & ~isev)
    L.icans_peak = np.select([ig4, isev, ig2, icans], [4, 3, 2, 1], 0).astype(np.int64)
    L.toci = choose(rng, q["tocilizumab"], np.array([0, 0.3, 3.0, 40, 40])[L.crs_peak], crs)
    w_ster = np.maximum(
        np.array([0, 0.3, 1.5, 20, 20])[L.crs_peak], np.array([0, 5.0, 5.0, 50, 50])[L.icans_peak]
    )
    L.steroids = choose(rng, q["steroids"], w_ster, crs | icans)
    L.premed = rng.random(n) < 0.05  # hydrocortisone premedication, indication "other"
    L.any_tox = crs | icans

    # observation completeness ---------------------------------------------------
    L.no_obs = choose(rng, q["no_obs"], np.ones(n), ok)
    L.sparse = choose(rng, q["sparse"], np.ones(n), ok & ~L.no_obs)

    # response -------------------------------------------------------------------
    L.cr = ok & ~choose(rng, q["non_cr"], np.ones(n), ok)
    L.mrd_neg = choose(rng, q["mrd_negative"], np.ones(n), L.cr)
    L.kinetics = choose(rng, q["kinetics"], np.ones(n), ok)

    # survival (days after infusion; inf = no event) -------------------------------
    hr = np.where(L.any_tox, float(toxicity_hr), 1.0)
    relapse = np.where(L.cr, 35 + _ph_time(rng, n, hr, 0.45, 330, 1.0), INF)
    nrm = 31 + _ph_time(rng, n, hr, 0.86, 500, 0.9)
    after = _ph_time(rng, n, hr, 0.08, 210, 1.1)
    refr_death = 31 + _ph_time(rng, n, hr, 0.05, 160, 1.0)
    death = np.where(L.cr, np.minimum(nrm, relapse + after), refr_death)
    relapse = np.where(relapse < death, relapse, INF)
    early_day = rng.integers(1, 5, n).astype(float)
    death = np.where(L.early_death, early_day, death)
    L.relapse_day = np.floor(relapse)
    L.death_day = np.floor(death)
    L.death_day = np.where(
        np.isfinite(L.relapse_day) & (L.death_day <= L.relapse_day), L.relapse_day + 1, L.death_day
    )
    potential = (cutoff_day - day0).astype(float)
    ltfu = choose(rng, q["ltfu"], np.ones(n), ok & (potential > 120))
    L.ltfu_day = np.where(ltfu, np.floor(rng.uniform(90, np.maximum(potential, 91))), INF)

    hsct_day = rng.integers(35, 121, n).astype(float)
    eligible = (
        L.cr
        & (hsct_day < L.relapse_day)
        & (hsct_day < L.death_day)
        & (hsct_day < L.ltfu_day)
        & (hsct_day < potential)
    )
    L.hsct_day = np.where(choose(rng, q["hsct"], np.ones(n), eligible), hsct_day, INF)
    cause_nrm = _pick(rng, ["infection", "other", "unknown"], [0.6, 0.25, 0.15], n)
    with np.errstate(invalid="ignore"):
        trm = np.isfinite(L.hsct_day) & (L.death_day - L.hsct_day < 365) & (rng.random(n) < 0.7)
    cause_nrm = np.where(trm, "transplant", cause_nrm)
    cause_rel = np.where(rng.random(n) < 0.9, "disease", "infection")
    L.death_cause = np.select(
        [L.early_death, ~L.cr, np.isfinite(L.relapse_day)],
        ["infection", "disease", cause_rel],
        cause_nrm,
    ).astype(object)
    L.death_cause[~np.isfinite(L.death_day)] = None
    L.relapse_site = _pick(
        rng, ["bone_marrow", "extramedullary", "cns", "combined"], [0.65, 0.1, 0.1, 0.15], n
    )
    L.cd19 = _pick(rng, ["positive", "negative", "unknown"], [0.55, 0.35, 0.1], n)
    reinf = np.isfinite(L.relapse_day) & (L.cd19 == "positive") & (rng.random(n) < 0.2)
    L.reinfusion_day = np.where(reinf, L.relapse_day + rng.integers(20, 61, n), INF)
    L.last_contact_lag = rng.integers(0, 46, n)
    # Lee 2014 discordance of the reported grades (applied at the Lee centre only)
    L.lee_delta_crs = rng.choice([-1, 0, 1], size=n, p=[0.2, 0.65, 0.15])
    L.lee_delta_icans = rng.choice([-1, 0, 1], size=n, p=[0.10, 0.80, 0.10])
    return L
