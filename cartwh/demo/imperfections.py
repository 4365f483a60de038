"""Realistic imperfections in the delivered files, and corrections between deliveries.

Both work on layout frames (the centre's columns, codes and units) before
they are written, so every change is logged against the exact cell that ends
up in the file: rows are located after duplicated rows are inserted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layouts import Layout, LayoutFrame

KINDS = (
    "missing_value",
    "out_of_range",
    "duplicate_row",
    "conflicting_duplicate",
    "unknown_code",
    "date_before_infusion",
    "mg_per_kg_without_weight",
)

# canonical columns whose value is made out of range, and how
_OUT_OF_RANGE = ("tmax_c", "bm_blasts_pct_pre", "bm_blasts_pct", "ice_score", "value")
# the column that differs in a conflicting duplicate, per entity
_CONFLICT = {
    "patients": "weight_kg",
    "daily_observations": "tmax_c",
    "labs": "value",
    "car_t_kinetics": "copies_per_ug_gdna",
    "treatments": "dose",
    "response_assessments": "bm_blasts_pct",
}
_NEVER_BLANK = ("centre_patient_id", "infusion_date", "infusion_number")
_DATE_BEFORE = {"follow_up_events": "event_date", "response_assessments": "assessment_date"}
_UNKNOWN = {
    "sex": (["U", "X"], ["不详"]),
    "oxygen_device": (["nasal prongs"], ["鼻塞吸氧"]),
    "consciousness": (["confused"], ["谵妄"]),
    "seizure": (["possible"], ["可疑"]),
    "cerebral_edema": (["possible"], ["可疑"]),
    "drug": (["ruxolitinib"], ["芦可替尼"]),
    "event_type": (["progression"], ["疾病进展"]),
    "specimen": (["CSF"], ["脑脊液"]),
    "analyte": (["PCT"], ["降钙素原"]),
    "unit": (["mmol/L"], ["mmol/L"]),
    "ph_status": (["pending"], ["待查"]),
}
_UNKNOWN_DEFAULT = (["U", "UNK?", "??"], ["不详", "待查"])


@dataclass
class Mark:
    entity: str
    row: int  # row of the frame before duplicates are inserted
    column: str  # column in the centre's file
    kind: str
    copy: bool = False  # the mark is on the inserted copy of ``row``
    wrong: str = ""  # corrections: the wrong value (the correct one is read before)
    correct: str = ""


def _is_null(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def unknown_token(lf: LayoutFrame, column: str, layout: Layout) -> str:
    meta = lf.meta[column]
    known = set(meta.codes.values()) if meta.codes else set(meta.canon.codes)
    latin, zh = _UNKNOWN.get(meta.canon.name, _UNKNOWN_DEFAULT)
    for token in (zh if layout.chinese else []) + latin + _UNKNOWN_DEFAULT[0]:
        if token not in known:
            return token
    raise AssertionError(f"no unknown code for {column}")


class Corruptor:
    """Injects imperfections into the layout frames of one chunk of one delivery."""

    def __init__(
        self,
        rng: np.random.Generator,
        frames: dict[str, LayoutFrame],
        layout: Layout,
        protected: dict[str, set[int]] | None = None,
    ):
        self.rng, self.frames, self.layout = rng, frames, layout
        self.used = {e: set(protected.get(e, ())) if protected else set() for e in frames}
        self.reps = {e: np.zeros(len(f.df), dtype=np.int64) for e, f in frames.items()}
        self.marks: list[Mark] = []
        self.blanked_weight: set[int] = set()

    # -- candidates -------------------------------------------------------------
    def _cols(self, entity: str, kind: str) -> list[str]:
        lf = self.frames[entity]
        cols = lf.columns
        if entity == "infusions" and kind != "duplicate_row":
            # The index infusion is day 0 of every clock: a quarantined infusion row takes the
            # patient out of the study, which would make the demo cohort drift from the study's.
            # Faults in infusions are exercised by the quality tests' bad-delivery corpus instead.
            return []
        if kind == "missing_value":
            if self.layout.entities[entity].wide:
                return []
            return [
                c
                for c in cols
                if lf.meta[c].canon.required and lf.meta[c].canon.name not in _NEVER_BLANK
            ]
        if kind == "out_of_range":
            return [c for c in cols if lf.meta[c].canon.name in _OUT_OF_RANGE]
        if kind == "unknown_code":
            return [c for c in cols if lf.meta[c].canon.dtype == "code"]
        if kind == "conflicting_duplicate":
            return [c for c in cols if lf.meta[c].canon.name == _CONFLICT.get(entity)]
        if kind == "date_before_infusion":
            return [c for c in cols if lf.meta[c].canon.name == _DATE_BEFORE.get(entity)]
        if kind == "mg_per_kg_without_weight":
            return (
                [c for c in cols if lf.meta[c].canon.name == "dose"]
                if entity == "treatments"
                else []
            )
        if kind == "duplicate_row":
            return cols[:1]
        return []

    def applicable(self, entity: str) -> list[str]:
        if len(self.frames[entity].df) == 0:
            return []
        return [k for k in KINDS if self._cols(entity, k)]

    # -- application ------------------------------------------------------------
    def add(self, entity: str, kind: str, tries: int = 40) -> bool:
        lf = self.frames[entity]
        df, n = lf.df, len(lf.df)
        cols = self._cols(entity, kind)
        if not cols or n == 0:
            return False
        rng = self.rng
        for _ in range(tries):
            row = int(rng.integers(0, n))
            col = cols[int(rng.integers(0, len(cols)))]
            if row in self.used[entity]:
                continue
            value = df[col].iat[row]
            if kind != "duplicate_row" and _is_null(value):
                continue
            if self._apply(entity, kind, row, col, value):
                self.used[entity].add(row)
                return True
        return False

    def _apply(self, entity, kind, row, col, value) -> bool:
        lf = self.frames[entity]
        df, meta, rng = lf.df, lf.meta[col], self.rng
        j = df.columns.get_loc(col)
        if kind == "missing_value":
            df.iat[row, j] = np.nan if meta.canon.dtype in ("date", "integer", "decimal") else None
        elif kind == "out_of_range":
            name = meta.canon.name
            if name == "tmax_c":
                new = round(value * 10, 1)
            elif name in ("bm_blasts_pct_pre", "bm_blasts_pct"):
                new = round(value + 100 + float(rng.integers(1, 60)), 1)
            elif name == "ice_score":
                new = value * 10 if value >= 2 else 99.0
            else:  # a lab value
                if value <= 0:
                    return False
                new = -value
            df.iat[row, j] = new
        elif kind == "unknown_code":
            df.iat[row, j] = unknown_token(lf, col, self.layout)
        elif kind == "date_before_infusion":
            df.iat[row, j] = float(df["_day0"].iat[row] - rng.integers(1, 61))
        elif kind == "duplicate_row":
            self.reps[entity][row] = 1
            self.marks.append(Mark(entity, row, col, kind, copy=True))
            return True
        elif kind == "conflicting_duplicate":
            self.reps[entity][row] = 1
            self.marks.append(Mark(entity, row, col, kind, copy=True))
            return True
        elif kind == "mg_per_kg_without_weight":
            col = self._mg_per_kg(row, col)
            if col is None:
                return False
        self.marks.append(Mark(entity, row, col, kind))
        return True

    def _mg_per_kg(self, row: int, col: str) -> str | None:
        """A dose in mg/kg for a patient whose weight is blank; returns the column to log
        (the dose unit, or the dose where every dose is per kg)."""
        tr = self.frames["treatments"]
        pts = self.frames["patients"]
        pi = int(tr.df["_pi"].iat[row])
        wcol = [c for c in pts.columns if pts.meta[c].canon.name == "weight_kg"]
        if not wcol or pi in self.blanked_weight:
            return None
        prow = np.flatnonzero(pts.df["_pi"].to_numpy() == pi)
        if len(prow) == 0 or any(r in self.used["patients"] for r in prow):
            return None
        weight = pts.df[wcol[0]].iat[prow[0]]
        if _is_null(weight):
            return None
        unit_cols = [c for c in tr.columns if tr.meta[c].canon.name == "dose_unit"]
        if unit_cols:  # a per-kg dose in a layout whose doses are in mg
            j = tr.df.columns.get_loc(col)
            tr.df.iat[row, j] = round(float(tr.df[col].iat[row]) / weight, 4)
            u = unit_cols[0]
            codes = tr.meta[u].codes
            tr.df.iat[row, tr.df.columns.get_loc(u)] = codes["mg_per_kg"] if codes else "mg_per_kg"
        pj = pts.df.columns.get_loc(wcol[0])
        for r in prow:
            pts.df.iat[r, pj] = np.nan
            self.used["patients"].add(int(r))
        self.blanked_weight.add(pi)
        return unit_cols[0] if unit_cols else col

    def _conflict_value(self, lf: LayoutFrame, col: str, value):
        rng = self.rng
        name = lf.meta[col].canon.name
        if name == "tmax_c":
            f = lf.meta[col].unit == "degF"
            c = (value - 32) / 1.8 if f else value
            step = float(rng.uniform(0.6, 1.5))
            c = c - step if c > 37.5 else c + step
            return round(c * 1.8 + 32, 2) if f else round(c, 1)
        if name == "weight_kg":
            return round(value + float(rng.choice([-1, 1]) * rng.uniform(3, 8)), 1)
        if name == "bm_blasts_pct":
            return round(min(value + float(rng.uniform(2, 10)), 100.0), 1)
        decimals = {"cell_dose_per_kg": -4, "copies_per_ug_gdna": 0}.get(name, 1)
        return float(np.round(value * float(rng.uniform(1.3, 3.0)), decimals))

    def finish(self) -> tuple[dict[str, LayoutFrame], dict[str, np.ndarray]]:
        """Insert the duplicates; returns the frames and, per entity, the final
        position of every original row."""
        out, positions = {}, {}
        conflicts = {(m.entity, m.row): m for m in self.marks if m.kind == "conflicting_duplicate"}
        for entity, lf in self.frames.items():
            reps = self.reps[entity]
            counts = 1 + reps
            start = np.cumsum(counts) - counts
            positions[entity] = start
            if not reps.any():
                out[entity] = lf
                continue
            take = np.repeat(np.arange(len(reps)), counts)
            df = lf.df.iloc[take].reset_index(drop=True)
            for (ent, row), m in conflicts.items():
                if ent != entity:
                    continue
                col = m.column
                j = df.columns.get_loc(col)
                df.iat[start[row] + 1, j] = self._conflict_value(lf, col, df.iat[start[row] + 1, j])
            out[entity] = LayoutFrame(entity, df, lf.meta)
        return out, positions


def corrections(
    rng: np.random.Generator, frames: dict[str, LayoutFrame], layout: Layout, k: int, text
) -> list[Mark]:
    """Make ``k`` values wrong (an earlier delivery); the later delivery has them right.

    ``text(lf, column, row)`` gives a cell's text as written."""
    marks: list[Mark] = []
    options = [
        ("patients", "weight_kg"),
        ("patients", "bm_blasts_pct_pre"),
        ("patients", "prior_therapy_lines"),
        ("infusions", "cell_dose_per_kg"),
    ]
    if layout.entities["treatments"].dose_per_kg:  # doses there were computed with the true weight
        options = options[1:]
    used: dict[str, set[int]] = {}
    for _ in range(k * 5):
        if len(marks) >= k:
            break
        entity, canon = options[int(rng.integers(0, len(options)))]
        lf = frames[entity]
        cols = [c for c in lf.columns if lf.meta[c].canon.name == canon]
        if not cols or len(lf.df) == 0:
            continue
        col, row = cols[0], int(rng.integers(0, len(lf.df)))
        value = lf.df[col].iat[row]
        if _is_null(value) or row in used.setdefault(entity, set()):
            continue
        correct = text(lf, col, row)
        if canon == "weight_kg":
            new = round(value + float(rng.choice([-1, 1]) * rng.uniform(5, 15)), 1)
        elif canon == "bm_blasts_pct_pre":
            new = round(value + float(rng.uniform(10, 30)) * (1 if value < 50 else -1), 1)
        elif canon == "prior_therapy_lines":
            new = float(value + rng.integers(1, 3))
        else:
            new = float(value * 10)
        lf.df.iat[row, lf.df.columns.get_loc(col)] = new
        wrong = text(lf, col, row)
        if wrong == correct:
            continue
        used[entity].add(row)
        marks.append(Mark(entity, row, col, "correction", wrong=wrong, correct=correct))
    return marks
