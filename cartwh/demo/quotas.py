"""Quota sampling: exact counts, spread over centres and chunks.

Global targets (``config.TARGETS``, scaled by N/93) are apportioned to the
units (one unit = one chunk of one centre's patients) by largest remainder,
hierarchically (e.g. severe CRS in proportion to each unit's CRS count), so
that the whole cohort hits each target exactly while patients are generated
chunk by chunk.
"""

from __future__ import annotations

import numpy as np

from .config import STUDY_PATIENTS, TARGETS


def apportion(total: int, weights) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    out = np.zeros(len(w), dtype=np.int64)
    if total <= 0 or len(w) == 0 or w.sum() <= 0:
        return out
    exact = total * w / w.sum()
    out[:] = np.floor(exact + 1e-9)
    rest = int(total - out.sum())
    if rest > 0:
        order = np.argsort(-(exact - out), kind="stable")
        out[order[:rest]] += 1
    return out


def scaled(key: str, patients: int) -> int:
    return int(np.floor(TARGETS[key] * patients / STUDY_PATIENTS + 0.5))


def choose(rng: np.random.Generator, k: int, weights, eligible=None) -> np.ndarray:
    """Boolean mask of ``k`` items drawn without replacement with probability
    proportional to ``weights`` (Efraimidis-Spirakis keys)."""
    w = np.asarray(weights, dtype=float).copy()
    if eligible is not None:
        w[~np.asarray(eligible, dtype=bool)] = 0.0
    mask = np.zeros(len(w), dtype=bool)
    pos = np.flatnonzero(w > 0)
    k = min(int(k), len(pos))
    if k <= 0:
        return mask
    keys = np.log(rng.random(len(pos)) + 1e-300) / w[pos]
    mask[pos[np.argpartition(-keys, k - 1)[:k]]] = True
    return mask


def stratified_uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    """n stratified uniforms in random order: one in each of n equal bins."""
    u = (np.arange(n) + rng.random(n)) / max(n, 1)
    return rng.permutation(u)


def unit_quotas(sizes, no_obs_weights, patients: int, children: int) -> list[dict[str, int]]:
    """Per-unit counts for every quota key, summing to the global targets."""
    n = np.asarray(sizes, dtype=np.int64)

    def split(key, weights, cap=None):
        q = apportion(scaled(key, patients), weights)
        return np.minimum(q, cap) if cap is not None else q

    q: dict[str, np.ndarray] = {}
    q["male"] = split("male", n, n)
    q["children"] = np.minimum(apportion(children, n), n)
    q["early_death"] = split("early_death", n, n)
    alive = n - q["early_death"]
    q["crs"] = split("crs", alive, alive)
    q["crs_severe"] = split("crs_severe", q["crs"], q["crs"])
    q["crs_g4"] = split("crs_g4", q["crs_severe"], q["crs_severe"])
    mild = q["crs"] - q["crs_severe"]
    q["crs_g2"] = split("crs_g2", mild, mild)
    q["icans_with_crs"] = split("icans_with_crs", q["crs"], q["crs"])
    no_crs = alive - q["crs"]
    q["icans_without_crs"] = split("icans_without_crs", no_crs, no_crs)
    icans = q["icans_with_crs"] + q["icans_without_crs"]
    q["icans_severe"] = split("icans_severe", icans, icans)
    q["icans_g4"] = split("icans_g4", q["icans_severe"], q["icans_severe"])
    mild_i = icans - q["icans_severe"]
    q["icans_g2"] = split("icans_g2", mild_i, mild_i)
    q["tocilizumab"] = split("tocilizumab", q["crs"], q["crs"])
    toxic = q["crs"] + q["icans_without_crs"]
    q["steroids"] = split("steroids", toxic, toxic)
    q["non_cr"] = split("non_cr", alive, alive)
    cr = alive - q["non_cr"]
    q["mrd_negative"] = split("mrd_negative", cr, cr)
    q["kinetics"] = split("kinetics", alive, alive)
    q["hsct"] = split("hsct", cr, cr)
    w_no_obs = alive * np.asarray(no_obs_weights, dtype=float)
    q["no_obs"] = split("no_obs", w_no_obs, alive)
    q["sparse"] = split("sparse", alive, alive - q["no_obs"])
    q["ltfu"] = split("ltfu", alive, alive)
    return [{k: int(v[i]) for k, v in q.items()} for i in range(len(n))]
