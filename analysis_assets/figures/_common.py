"""What every figure shares: the style (fonts, colours, line widths), the panel letters, the
test names in words, group order and the deterministic writer of PNG, PDF and SVG."""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from analysis_assets.comparisons import group_order  # noqa: E402
from analysis_assets.formatting import comparison_label, is_missing, test_label  # noqa: E402
from analysis_assets.provenance import Provenance  # noqa: E402
from analysis_assets.study import ENDPOINTS, FIGURE_CAPTIONS, KM_CAPTION  # noqa: E402

#: raster resolution of every PNG (journal requirement)
DPI = 300
#: the formats every figure is written in
FORMATS = ("png", "pdf", "svg")

#: more marks than this in one artist (a line or point per patient) and PDF and SVG embed that
#: artist as a DPI image instead of one vector each: at registry scale a vector per patient
#: makes files of hundreds of MB that take minutes to write and to open
VECTOR_MARKS_MAX = 2_000


def many_marks(n: int) -> bool:
    """Whether an artist of ``n`` marks is drawn rasterised in PDF and SVG."""
    return n > VECTOR_MARKS_MAX


#: one palette for every figure: group i of a comparison always has colour i
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
GRADE_COLOURS = {1: "#fdd49e", 2: "#fc8d59", 3: "#d7301f", 4: "#7f0000", 5: "#000000"}
ICANS_COLOURS = {1: "#c6dbef", 2: "#6baed6", 3: "#2171b5", 4: "#08306b", 5: "#000000"}

#: font sizes (points) and line widths used by every figure
TITLE_SIZE = 10
LABEL_SIZE = 9
TEXT_SIZE = 8
PANEL_LETTER_SIZE = 14
LINE_WIDTH = 1.5

STYLE = {
    "svg.hashsalt": "cartwh",
    "font.family": "DejaVu Sans",
    "font.size": LABEL_SIZE,
    "axes.titlesize": TITLE_SIZE,
    "axes.labelsize": LABEL_SIZE,
    "xtick.labelsize": TEXT_SIZE,
    "ytick.labelsize": TEXT_SIZE,
    "legend.fontsize": TEXT_SIZE,
    "lines.linewidth": LINE_WIDTH,
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "pdf.fonttype": 42,
}
matplotlib.rcParams.update(STYLE)

#: set by all_figures for the figures it draws (saves the figure functions a parameter each)
PROVENANCE: ContextVar[Provenance | None] = ContextVar("figure_provenance", default=None)


def method_label(test) -> str:
    """A test as the figures print it (``fisher`` -> ``Fisher's exact test``).

    Parameters
    ----------
    test : str or None
        As in the analysis tables' ``test`` column.

    Returns
    -------
    str
        :func:`analysis_assets.formatting.test_label`; ``"no test"`` when missing.
    """
    if is_missing(test):
        return "no test"
    return test_label(test)


def sentence_case(text: str) -> str:
    """First letter upper case, the rest unchanged (``overall survival`` -> ``Overall ...``)."""
    return text[:1].upper() + text[1:] if text else text


def panel_letter(ax, letter: str, x: float = -0.12, y: float = 1.08, ha: str = "right") -> None:
    """The bold panel letter at the top left of ``ax`` (``x``, ``y`` in axes coordinates)."""
    ax.text(
        x,
        y,
        letter,
        transform=ax.transAxes,
        ha=ha,
        va="bottom",
        fontsize=PANEL_LETTER_SIZE,
        fontweight="bold",
        gid=f"panel-letter-{letter}",
    )


def ordered_groups(comparison: str, present) -> list[str]:
    """Groups in the study's display order, unknown labels appended (sorted)."""
    present = [g for g in pd.unique(pd.Series(list(present), dtype=object)) if pd.notna(g)]
    try:
        order = list(group_order(comparison))
    except KeyError:
        order = []
    return [g for g in order if g in present] + sorted(str(g) for g in present if g not in order)


def caption(stem: str) -> str:
    """The caption of a figure (``study.FIGURE_CAPTIONS``, ``study.KM_CAPTION`` for the single
    Kaplan–Meier figures), or its stem."""
    if stem in FIGURE_CAPTIONS:
        return FIGURE_CAPTIONS[stem]
    kind, _, rest = stem.partition("_")
    endpoint, _, comparison = rest.partition("_")
    if kind == "km" and endpoint in ENDPOINTS and comparison:
        return KM_CAPTION.format(
            endpoint=ENDPOINTS[endpoint].label, comparison=comparison_label(comparison)
        )
    return stem


def _pdf_metadata(stem: str, provenance: Provenance | None) -> dict:
    meta = {"CreationDate": None, "ModDate": None, "Title": caption(stem)}
    if provenance:
        svg = provenance.figure_metadata("svg")
        meta.update(
            Subject=svg["Description"],
            Keywords=f"run id {svg['Identifier']}",
            Creator=svg["Source"],
        )
    return meta


def save(fig, out_dir: Path, stem: str) -> list[Path]:
    """Write ``fig`` as ``stem``.png (300 dpi), .pdf and .svg, deterministically.

    No dates in any file (PNG ``Software``, PDF ``CreationDate``, SVG ``Date`` removed; the SVG
    hash salt is fixed); the provenance set by :func:`all_figures`, if any, goes into each
    file's metadata (PNG text chunks, PDF document information, SVG Dublin Core).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Closed after writing.
    out_dir : Path
    stem : str

    Returns
    -------
    list of Path
        The PNG, PDF and SVG files, in that order.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    provenance = PROVENANCE.get()
    png_meta = provenance.figure_metadata("png") if provenance else {}
    svg_meta = provenance.figure_metadata("svg") if provenance else {}
    paths = [out_dir / f"{stem}.{fmt}" for fmt in FORMATS]
    png, pdf, svg = paths
    with matplotlib.rc_context(STYLE):
        fig.savefig(png, format="png", dpi=DPI, metadata={"Software": None, **png_meta})
        fig.savefig(pdf, format="pdf", metadata=_pdf_metadata(stem, provenance))
        fig.savefig(svg, format="svg", metadata={"Date": None, "Creator": None, **svg_meta})
    plt.close(fig)
    return paths
