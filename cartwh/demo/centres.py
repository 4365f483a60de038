"""The demo consortium's centres: codes, sizes and layouts."""

from __future__ import annotations

from dataclasses import dataclass

from .config import BALANCED_FROM, BASE_CENTRES, BASE_WEIGHTS, EXTRA_WEIGHT, LEE_CENTRE
from .quotas import apportion


@dataclass(frozen=True)
class Centre:
    code: str
    index: int
    patients: int
    layout: str  # canonical | tj | zz | zj
    grading_system: str  # astct2019 | lee2014
    hanzi_names: bool

    @property
    def id_prefix(self) -> str:
        return self.code.upper() + ("-" if self.code not in BASE_CENTRES else "")


def centre_codes(k: int) -> list[str]:
    return [BASE_CENTRES[i] if i < len(BASE_CENTRES) else f"c{i + 1:02d}" for i in range(k)]


def centre_sizes(patients: int, k: int) -> list[int]:
    if patients >= BALANCED_FROM:
        weights = [1.0] * k
    else:
        weights = [BASE_WEIGHTS[i] if i < len(BASE_WEIGHTS) else EXTRA_WEIGHT for i in range(k)]
    return [int(x) for x in apportion(patients, weights)]


def make_centres(patients: int, k: int) -> list[Centre]:
    out = []
    for i, (code, n) in enumerate(zip(centre_codes(k), centre_sizes(patients, k))):
        layout = code if code in ("tj", "zz", "zj") else "canonical"
        out.append(
            Centre(
                code, i, n, layout, "lee2014" if code == LEE_CENTRE else "astct2019", code == "zz"
            )
        )
    return out
