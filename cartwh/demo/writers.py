"""Formatting of layout frames and the streaming writers of one delivery
(CSV through pyarrow, Excel through xlsxwriter in constant-memory mode)."""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from cartwh.ingest.discovery import sha256_file
from models.extract_format import ENTITIES, EXTRACT_FORMAT_VERSION

from .config import EXCEL_EPOCH_OFFSET, EXCEL_MAX_ROWS
from .layouts import Layout, LayoutFrame, Meta, header


def _numeric(values) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values, dtype=float)
    return v, np.isnan(v)


def format_column(values, meta: Meta, layout: Layout) -> pa.Array:
    """Cell texts of one column as the centre writes them (null = empty cell)."""
    kind = meta.canon.dtype
    if kind == "date":
        v, miss = _numeric(values)
        days = pa.array(np.where(miss, 0, v).astype(np.int32), mask=miss)
        if layout.date_format == "excel_serial":
            return pc.add(days, EXCEL_EPOCH_OFFSET).cast(pa.string())
        d = days.cast(pa.date32())
        if layout.date_format == "iso":
            return d.cast(pa.string())
        return pc.strftime(d.cast(pa.timestamp("s")), format=layout.date_format)
    if kind in ("integer", "decimal"):
        v, miss = _numeric(values)
        arr = pa.array(np.where(miss, 0, v), mask=miss)
        if kind == "integer":
            arr = arr.cast(pa.int64(), safe=False)
        out = arr.cast(pa.string())
        if layout.decimal != ".":
            out = pc.replace_substring(out, ".", layout.decimal)
        return out
    return pa.array(np.asarray(values, dtype=object), type=pa.string(), from_pandas=True)


def excel_column(values, meta: Meta) -> list:
    kind = meta.canon.dtype
    if kind in ("date", "integer"):
        v, miss = _numeric(values)
        if kind == "date":
            v = v + EXCEL_EPOCH_OFFSET
        return pa.array(np.where(miss, 0, v), mask=miss).cast(pa.int64(), safe=False).to_pylist()
    if kind == "decimal":
        v, miss = _numeric(values)
        return np.where(miss, None, v).tolist()
    return [None if (x is None or x != x) else str(x) for x in values]


def cell_text(lf: LayoutFrame, column: str, row: int, layout: Layout) -> str:
    """The text of one cell (for the logs); Excel dates are their serial numbers."""
    value = lf.df[column].to_numpy()[row : row + 1]
    meta = lf.meta[column]
    lay = layout if layout.format == "csv" else Layout("x", decimal=".", date_format="excel_serial")
    out = format_column(value, meta, lay)[0].as_py()
    return "" if out is None else out


class DeliveryWriter:
    """Writes one delivery folder of one centre, appending chunk by chunk."""

    def __init__(
        self, layout: Layout, folder: Path, centre: str, delivery_id: str, delivery_date: date
    ):
        self.layout, self.folder, self.centre, self.delivery_id = (
            layout,
            folder,
            centre,
            delivery_id,
        )
        folder.mkdir(parents=True, exist_ok=True)
        stamp = delivery_date.strftime("%Y%m%d")
        self.rows: dict[str, int] = {}
        self.files: dict[str, tuple[str, str]] = {}  # entity -> (file name, sheet)
        self._handles = {}
        if layout.format == "excel":
            import xlsxwriter

            book = layout.workbook.format(d=stamp)
            self.workbook = xlsxwriter.Workbook(str(folder / book), {"constant_memory": True})
            self.workbook.set_properties(
                {
                    "title": f"{centre} CAR-T export",
                    "author": f"{centre} data office",
                    "company": "",
                    "created": datetime(delivery_date.year, delivery_date.month, delivery_date.day),
                }
            )
            for entity in ENTITIES:
                sheet = layout.entities[entity].sheet
                ws = self.workbook.add_worksheet(sheet)
                ws.write_row(0, 0, header(layout, entity))
                self._handles[entity] = ws
                self.files[entity] = (book, sheet)
                self.rows[entity] = 0
        else:
            self.workbook = None
            for entity in ENTITIES:
                name = layout.entities[entity].file
                f = open(folder / name, "wb")
                line = layout.separator.join(header(layout, entity)) + "\n"
                f.write(line.encode(layout.encoding))
                self._handles[entity] = f
                self.files[entity] = (name, "")
                self.rows[entity] = 0

    def write(self, lf: LayoutFrame) -> int:
        """Append a layout frame; returns the number of data rows before it."""
        entity = lf.entity
        before = self.rows[entity]
        n = len(lf.df)
        if n == 0:
            return before
        cols = lf.columns
        if self.workbook is not None:
            if before + n >= EXCEL_MAX_ROWS:
                raise ValueError(
                    f"{self.centre}: sheet {self.files[entity][1]} would exceed Excel's "
                    f"{EXCEL_MAX_ROWS} rows; use more centres for this many patients"
                )
            ws = self._handles[entity]
            wnum, wstr = ws.write_number, ws.write_string
            values = [excel_column(lf.df[c].to_numpy(), lf.meta[c]) for c in cols]
            r = before + 1
            for row in zip(*values):
                for c, v in enumerate(row):
                    if v is None:
                        continue
                    if v.__class__ is str:
                        wstr(r, c, v)
                    else:
                        wnum(r, c, v)
                r += 1
        else:
            table = pa.table(
                [format_column(lf.df[c].to_numpy(), lf.meta[c], self.layout) for c in cols],
                names=[f"c{i}" for i in range(len(cols))],
            )
            buf = io.BytesIO()
            pcsv.write_csv(
                table,
                buf,
                pcsv.WriteOptions(
                    include_header=False, delimiter=self.layout.separator, quoting_style="none"
                ),
            )
            data = buf.getvalue()
            if self.layout.encoding.replace("-", "").lower() != "utf8":
                data = data.decode("utf-8").encode(self.layout.encoding)
            self._handles[entity].write(data)
        self.rows[entity] = before + n
        return before

    def close(self) -> list[Path]:
        if self.workbook is not None:
            self.workbook.close()
            paths = [self.folder / self.files["patients"][0]]
        else:
            for f in self._handles.values():
                f.close()
            paths = [self.folder / self.files[e][0] for e in ENTITIES]
        if self.layout.manifest:
            manifest = {
                "centre_code": self.centre,
                "delivery_id": self.delivery_id,
                "extract_format": EXTRACT_FORMAT_VERSION,
                "files": {p.name: sha256_file(p) for p in paths},
            }
            (self.folder / "manifest.json").write_text(
                json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
            )
        return paths

    def row_counts(self) -> dict[str, int]:
        out = {}
        for entity, (name, sheet) in self.files.items():
            key = f"{self.centre}/{self.delivery_id}/{name}" + (f"[{sheet}]" if sheet else "")
            out[key] = self.rows[entity]
        return out
