"""Small previews of the warehouse for the Dagster UI's materialisation metadata: row counts,
a few rows of the mart (pseudonymous columns only), the figures of a refresh as thumbnails."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import duckdb

#: columns of mart.patient_outcomes shown in the preview: pseudonymous, no calendar dates
PREVIEW_COLUMNS = (
    "patient_key",
    "centre_code",
    "infusion_year",
    "crs_max_grade",
    "icans_max_grade",
    "toxicity_group",
    "os_months",
)
KEY_SHOWN = 10  # characters of the patient_key: enough to find a row, not the whole key


def table_rows(conn: duckdb.DuckDBPyConnection, schema: str, tables) -> dict[str, int]:
    return {
        table: conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
        for table in tables
    }


def patient_outcomes_preview(conn: duckdb.DuckDBPyConnection, rows: int = 5) -> str:
    """The first patients (by centre and key) of mart.patient_outcomes as a Markdown table."""
    frame = conn.execute(
        f"select {', '.join(PREVIEW_COLUMNS)} from mart.patient_outcomes "
        f"order by centre_code, patient_key limit {int(rows)}"
    ).df()
    frame["patient_key"] = frame["patient_key"].str.slice(0, KEY_SHOWN) + "…"
    frame["os_months"] = frame["os_months"].round(1)
    return frame.to_markdown(index=False) if len(frame) else "no patients"


def thumbnail_markdown(pngs: list[Path], width_px: int = 240) -> str:
    """Markdown images of PNG figures, each shrunk to ``width_px`` wide and inlined as a data URI
    (a few kB each), so that the UI shows them without serving files."""
    import matplotlib.image as mpimg
    from matplotlib.figure import Figure

    lines = []
    for png in pngs:
        image = mpimg.imread(png)
        height, width = image.shape[:2]
        dpi = 100
        fig = Figure(figsize=(width_px / dpi, width_px * height / width / dpi), dpi=dpi)
        axes = fig.add_axes((0, 0, 1, 1))
        axes.imshow(image, interpolation="antialiased")
        axes.axis("off")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi)
        data = base64.b64encode(buffer.getvalue()).decode("ascii")
        lines.append(f"![{png.stem}](data:image/png;base64,{data})")
    return "\n\n".join(lines) or "no figures"
