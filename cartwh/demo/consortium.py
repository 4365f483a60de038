"""``generate_consortium``: the synthetic multicentre landing folder."""

from __future__ import annotations

import csv
import math
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from models.extract_format import ENTITIES

from .centres import Centre, make_centres
from .clinical import build_records
from .cohort import infusion_days, sample_patients
from .config import CHUNK_PATIENTS, EXCEL_MAX_ROWS, delivery_dates, epoch_day
from .imperfections import KINDS, Corruptor, Mark, corrections
from .layouts import LAYOUTS, Layout, to_layout
from .quotas import apportion, unit_quotas
from .snapshot import snapshot, truth
from .writers import DeliveryWriter, cell_text

CENTRE_DIR = re.compile(r"^[a-z0-9]{2,16}$")
DELIVERY_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}[a-z0-9]*$")
IMPERFECTION_COLUMNS = [
    "centre_code",
    "delivery_id",
    "file",
    "sheet",
    "row_number",
    "column",
    "kind",
    "value",
    "centre_patient_id",
]
CORRECTION_COLUMNS = [
    "centre_code",
    "delivery_id",
    "corrected_in",
    "file",
    "sheet",
    "row_number",
    "column",
    "centre_patient_id",
    "wrong_value",
    "correct_value",
]
MAX_ROWS_PER_PATIENT = 34  # daily rows (days -1..30) with room for duplicates


@dataclass
class GenerationSummary:
    centres: list[str]
    deliveries: list[tuple[str, str, Path]]  # (centre, delivery_id, folder)
    patients_per_centre: dict[str, int]
    rows_written: dict[str, int] = field(
        default_factory=dict
    )  # "centre/delivery/file[sheet]" -> rows
    imperfections: int = 0
    corrections: int = 0


def _looks_generated(out: Path) -> bool:
    for entry in out.iterdir():
        if entry.name.startswith("."):  # the CLI's marker, editors' files: not deliveries
            continue
        if not entry.is_dir() or not CENTRE_DIR.match(entry.name):
            return False
        for sub in entry.iterdir():
            if not sub.is_dir() or not DELIVERY_DIR.match(sub.name):
                return False
    return True


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _validate(
    out, patients, centres, deliveries, toxicity_hr, imperfection_rate, children_fraction, truth_dir
):
    if centres < 1 or patients < centres:
        raise ValueError("need at least one centre and at least one patient per centre")
    if deliveries < 1:
        raise ValueError("deliveries must be >= 1")
    if not toxicity_hr > 0:
        raise ValueError("toxicity_hr must be > 0")
    if not 0 <= imperfection_rate <= 0.5:
        raise ValueError("imperfection_rate must be between 0 and 0.5")
    if not 0 <= children_fraction <= 1:
        raise ValueError("children_fraction must be between 0 and 1")
    if truth_dir is not None and (_inside(truth_dir, out) or _inside(out, truth_dir)):
        raise ValueError("truth_dir must not be inside the landing folder (nor contain it)")
    if out.exists():
        if not out.is_dir():
            raise FileExistsError(f"{out} exists and is not a folder")
        if any(out.iterdir()) and not _looks_generated(out):
            raise FileExistsError(
                f"{out} is not empty and does not look like generator output; "
                "refusing to write into it"
            )


class _Log:
    """Rows of imperfections.csv / corrections.csv, streamed to the truth folder."""

    def __init__(self, path: Path | None, columns: list[str]):
        self.count = 0
        self.columns = columns
        self._f = None
        if path is not None:
            self._f = open(path, "w", encoding="utf-8", newline="")
            self._w = csv.DictWriter(self._f, fieldnames=columns, lineterminator="\n")
            self._w.writeheader()

    def append(self, row: dict) -> None:
        self.count += 1
        if self._f is not None:
            self._w.writerow(row)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


def generate_consortium(
    out: Path,
    *,
    patients: int = 93,
    centres: int = 4,
    deliveries: int = 2,
    seed: int = 20240927,
    toxicity_hr: float = 1.0,
    clean: bool = False,
    imperfection_rate: float = 0.01,
    cutoff: date = date(2023, 3, 1),
    children_fraction: float = 0.0,
    truth_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> GenerationSummary:
    """Write ``out/<centre>/<delivery_id>/...`` for a synthetic CAR-T consortium.

    Deterministic for given arguments (byte-identical files). With
    ``truth_dir``, the latent truth goes there: ``patients_truth.csv``,
    ``imperfections.csv``, ``corrections.csv``.
    """
    return _generate(
        Path(out),
        patients=patients,
        centres=centres,
        deliveries=deliveries,
        seed=seed,
        toxicity_hr=toxicity_hr,
        clean=clean,
        imperfection_rate=imperfection_rate,
        cutoff=cutoff,
        children_fraction=children_fraction,
        truth_dir=Path(truth_dir) if truth_dir is not None else None,
        progress=progress,
    )


def _generate(
    out: Path,
    *,
    patients,
    centres,
    deliveries,
    seed,
    toxicity_hr,
    clean,
    imperfection_rate,
    cutoff,
    children_fraction,
    truth_dir,
    progress,
    layout_override: str | None = None,
) -> GenerationSummary:
    """``generate_consortium``; ``layout_override`` delivers every centre in that layout (tests)."""
    _validate(
        out,
        patients,
        centres,
        deliveries,
        toxicity_hr,
        imperfection_rate,
        children_fraction,
        truth_dir,
    )
    cs = make_centres(patients, centres)
    for c in cs:
        lay = LAYOUTS[layout_override or c.layout]
        if lay.format == "excel" and c.patients * MAX_ROWS_PER_PATIENT >= EXCEL_MAX_ROWS:
            raise ValueError(
                f"centre {c.code} would get {c.patients} patients: too many for one Excel "
                f"sheet ({EXCEL_MAX_ROWS} rows); use more centres"
            )
    out.mkdir(parents=True, exist_ok=True)
    for c in cs:
        if (out / c.code).exists():
            shutil.rmtree(out / c.code)
    run = _Run(
        out,
        cs,
        patients=patients,
        deliveries=deliveries,
        seed=seed,
        toxicity_hr=toxicity_hr,
        clean=clean,
        rate=imperfection_rate,
        cutoff=cutoff,
        children_fraction=children_fraction,
        truth_dir=truth_dir,
        say=progress or (lambda _msg: None),
        layout_override=layout_override,
    )
    return run.run()


class _Run:
    """One generation: centres one after the other, each in chunks of patients."""

    def __init__(
        self,
        out: Path,
        cs: list[Centre],
        *,
        patients,
        deliveries,
        seed,
        toxicity_hr,
        clean,
        rate,
        cutoff,
        children_fraction,
        truth_dir,
        say,
        layout_override,
    ):
        self.out, self.cs, self.seed, self.hr = out, cs, seed, toxicity_hr
        self.clean, self.rate, self.say, self.layout_override = clean, rate, say, layout_override
        self.cutoff_day = epoch_day(cutoff)
        self.ddates = delivery_dates(cutoff, deliveries)
        self.dids = [d.isoformat() for d in self.ddates]
        # units = chunks of each centre's patients, with their quotas
        self.units: list[tuple[int, int]] = []  # (centre index, size)
        for c in cs:
            for size in apportion(
                c.patients, np.ones(max(1, math.ceil(c.patients / CHUNK_PATIENTS)))
            ):
                self.units.append((c.index, int(size)))
        no_obs_w = [0.0 if cs[ci].grading_system == "lee2014" else 1.0 for ci, _ in self.units]
        self.quotas = unit_quotas(
            [s for _, s in self.units],
            no_obs_w,
            patients,
            int(math.floor(children_fraction * patients + 0.5)),
        )
        self.n_corr = {c.index: (1 + c.patients // 40) if deliveries >= 2 else 0 for c in cs}
        # at least one imperfection of each kind in the last delivery, spread over the centres
        self.forced: dict[int, list[str]] = {}
        if not clean and rate > 0:
            for i, kind in enumerate(KINDS):
                self.forced.setdefault(i % len(cs), []).append(kind)
        self.todo: list[str] = []
        self.truth_path = None
        if truth_dir is not None:
            truth_dir.mkdir(parents=True, exist_ok=True)
            self.truth_path = truth_dir / "patients_truth.csv"
            if self.truth_path.exists():
                self.truth_path.unlink()
        self.imperfection_log = _Log(
            truth_dir / "imperfections.csv" if truth_dir else None, IMPERFECTION_COLUMNS
        )
        self.correction_log = _Log(
            truth_dir / "corrections.csv" if truth_dir else None, CORRECTION_COLUMNS
        )
        self.summary = GenerationSummary([c.code for c in cs], [], {c.code: c.patients for c in cs})

    def run(self) -> GenerationSummary:
        try:
            for c in self.cs:
                self.centre(c)
        finally:
            self.imperfection_log.close()
            self.correction_log.close()
        self.summary.imperfections = self.imperfection_log.count
        self.summary.corrections = self.correction_log.count
        return self.summary

    def centre(self, c: Centre) -> None:
        layout = LAYOUTS[self.layout_override or c.layout]
        self.say(f"{c.code}: {c.patients} patients, layout {layout.name}")
        writers = [
            DeliveryWriter(layout, self.out / c.code / did, c.code, did, d)
            for did, d in zip(self.dids, self.ddates)
        ]
        d0_all = infusion_days(
            np.random.default_rng([self.seed, 1, c.index]), c.patients, self.cutoff_day
        )
        width = max(4, len(str(c.patients)))
        mine = [u for u in range(len(self.units)) if self.units[u][0] == c.index]
        corr_split = apportion(self.n_corr[c.index], [self.units[u][1] for u in mine])
        self.todo = self.todo + self.forced.get(c.index, [])
        start = 0
        for k, u in enumerate(mine):
            size = self.units[u][1]
            rng = np.random.default_rng([self.seed, 2, c.index, k])
            L = sample_patients(
                rng,
                c,
                start,
                d0_all[start : start + size],
                self.quotas[u],
                toxicity_hr=self.hr,
                cutoff_day=self.cutoff_day,
                id_width=width,
            )
            rec = build_records(rng, L)
            final = None
            for di in range(len(self.dids)):
                final = snapshot(L, rec, epoch_day(self.ddates[di]))
                if len(final["patients"]):
                    self.delivery(c, layout, writers[di], L, final, k, di, int(corr_split[k]))
            if self.truth_path is not None:
                _append_csv(truth(L, final, self.cutoff_day), self.truth_path)
            start += size
            self.say(f"{c.code}: {start}/{c.patients} patients written")
        for di, w in enumerate(writers):
            w.close()
            self.summary.deliveries.append((c.code, self.dids[di], w.folder))
            self.summary.rows_written.update(w.row_counts())

    def delivery(
        self, c: Centre, layout: Layout, w: DeliveryWriter, L, snap, k: int, di: int, n_corr: int
    ) -> None:
        """One chunk of one delivery: layout, corrections, imperfections, write, log."""
        last = di == len(self.dids) - 1
        frames = {e: to_layout(layout, e, snap[e], L.day0, L.weight) for e in ENTITIES}
        rng = np.random.default_rng([self.seed, 3, c.index, k, di])
        corr: list[Mark] = []
        if di == len(self.dids) - 2 and n_corr > 0:
            corr = corrections(
                rng, frames, layout, n_corr, lambda lf, col, row: cell_text(lf, col, row, layout)
            )
        positions = {e: np.arange(len(f.df)) for e, f in frames.items()}
        marks: list[Mark] = []
        if not self.clean and self.rate > 0:
            protected: dict[str, set[int]] = {}
            for m in corr:
                protected.setdefault(m.entity, set()).add(m.row)
            cor = Corruptor(rng, frames, layout, protected)
            order = ["treatments"] + [
                e for e in ENTITIES if e != "treatments"
            ]  # weights blanked first
            for e in order:
                kinds = cor.applicable(e)
                for _ in range(int(rng.binomial(len(frames[e].df), self.rate)) if kinds else 0):
                    cor.add(e, kinds[int(rng.integers(0, len(kinds)))])
            if last and self.todo:
                left = []
                for kind in self.todo:
                    ents = [e for e in order if kind in cor.applicable(e)]
                    rng.shuffle(ents)
                    if not any(cor.add(e, kind, tries=200) for e in ents):
                        left.append(kind)
                self.todo = left
            frames, positions = cor.finish()
            marks = cor.marks
        bases = {e: w.write(frames[e]) for e in ENTITIES}
        for m in marks:
            pos = int(positions[m.entity][m.row]) + (1 if m.copy else 0)
            lf = frames[m.entity]
            fname, sheet = w.files[m.entity]
            self.imperfection_log.append(
                {
                    "centre_code": c.code,
                    "delivery_id": w.delivery_id,
                    "file": fname,
                    "sheet": sheet,
                    "row_number": bases[m.entity] + pos + 1,
                    "column": m.column,
                    "kind": m.kind,
                    "value": cell_text(lf, m.column, pos, layout),
                    "centre_patient_id": L.pid[int(lf.df["_pi"].iat[pos])],
                }
            )
        for m in corr:
            pos = int(positions[m.entity][m.row])
            fname, sheet = w.files[m.entity]
            self.correction_log.append(
                {
                    "centre_code": c.code,
                    "delivery_id": w.delivery_id,
                    "corrected_in": self.dids[-1],
                    "file": fname,
                    "sheet": sheet,
                    "row_number": bases[m.entity] + pos + 1,
                    "column": m.column,
                    "centre_patient_id": L.pid[int(frames[m.entity].df["_pi"].iat[pos])],
                    "wrong_value": m.wrong,
                    "correct_value": m.correct,
                }
            )


_INT_COLUMNS = (
    "crs_onset_day",
    "severe_crs_onset_day",
    "icans_onset_day",
    "severe_icans_onset_day",
    "tocilizumab_first_day",
    "tocilizumab_duration_days",
    "steroid_first_day",
    "steroid_duration_days",
    "cr_day",
    "death_day",
    "relapse_day",
    "allo_hsct_day",
    "lost_to_follow_up_day",
    "os_days",
    "lfs_days",
)


def _append_csv(df: pd.DataFrame, path: Path) -> None:
    df = df.copy()
    for col in _INT_COLUMNS:
        df[col] = pd.array(np.where(np.isfinite(df[col].to_numpy(float)), df[col], np.nan)).astype(
            "Int64"
        )
    df.to_csv(path, mode="a", header=not path.exists(), index=False, float_format="%.6g")
