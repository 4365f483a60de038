"""The manuscript tables as Word documents (python-docx): a table a journal accepts.

Title above; a spanning header row (when a column has a span) over the column headers, which
repeat on every page; bold characteristic rows, indented levels; numbers centred; horizontal
rules only (above and below the header, under each span, below the last row), no colour, no
vertical lines; footnotes under the table. Landscape A4 when the table has more than
:data:`PORTRAIT_MAX_COLUMNS` columns. The cells hold exactly the texts of the table's CSV
(layout conventions: :mod:`analysis_assets.manuscript_tables`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from analysis_assets.manuscript_tables import body, display_columns, footnotes, header_rows

__all__ = ["write_docx"]

PORTRAIT_MAX_COLUMNS = 5
FONT = "Times New Roman"
#: font size (pt) of the cells: smaller for wide tables
FONT_SIZE = {"portrait": 10, "landscape": 7.5}
A4 = (Cm(21.0), Cm(29.7))
MARGIN = Cm(1.5)
#: the first column (labels, which wrap) is given the width of at most this many characters
LABEL_CHARACTERS = 26
CELL_MARGIN = Cm(0.1)
BOLD_ROWS = ("heading", "label")
INDENTED_ROWS = ("level", "missing")
INDENT = Cm(0.4)
RULE = {"val": "single", "sz": "8", "space": "0", "color": "000000"}


def _page(document, landscape: bool) -> int:
    """Set A4 and the margins; return the text width (EMU)."""
    section = document.sections[0]
    short, long = A4
    section.orientation = WD_ORIENT.LANDSCAPE if landscape else WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = (long, short) if landscape else (short, long)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, MARGIN)
    return section.page_width - 2 * MARGIN


#: the order of a cell's borders in WordprocessingML (w:tcBorders is a sequence)
EDGE_ORDER = ("top", "left", "start", "bottom", "right", "end", "insideH", "insideV")


def _rule(cell, *edges: str) -> None:
    """Draw a horizontal rule on the given edges (``top``, ``bottom``) of a cell (once, in the
    schema's order, whatever rules the cell already has)."""
    properties = cell._tc.get_or_add_tcPr()
    borders = properties.find(qn("w:tcBorders"))
    if borders is None:
        borders = OxmlElement("w:tcBorders")
        properties.append(borders)
    drawn = {element.tag.split("}")[-1] for element in borders} | set(edges)
    for element in list(borders):
        borders.remove(element)
    for edge in (e for e in EDGE_ORDER if e in drawn):
        element = OxmlElement(f"w:{edge}")
        for key, value in RULE.items():
            element.set(qn(f"w:{key}"), value)
        borders.append(element)


def _unique(cells) -> list:
    """A row's cells, each merged cell once."""
    seen, unique = set(), []
    for cell in cells:
        if id(cell._tc) not in seen:
            seen.add(id(cell._tc))
            unique.append(cell)
    return unique


def _repeat_as_header(row) -> None:
    flag = OxmlElement("w:tblHeader")
    flag.set(qn("w:val"), "true")
    row._tr.get_or_add_trPr().append(flag)


def _write(cell, text: str, size: float, bold: bool = False, centred: bool = True, indent=None):
    paragraph = cell.paragraphs[0]
    if text:
        run = paragraph.add_run(text)
        run.bold = bold
        run.font.size = Pt(size)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER if centred else WD_ALIGN_PARAGRAPH.LEFT
    paragraph.paragraph_format.space_after = Pt(0)
    if indent is not None:
        paragraph.paragraph_format.left_indent = indent


def _spanning_row(table, spans: list[tuple[str, int]], size: float) -> None:
    start = 0
    for text, width in spans:
        cell = table.cell(0, start)
        if width > 1:
            cell = cell.merge(table.cell(0, start + width - 1))
        _write(cell, text, size, bold=True)
        if text:
            _rule(cell, "bottom")
        start += width


def _header(table, columns: list[str], size: float) -> int:
    """Write the header rows; return how many there are."""
    spans, headers = header_rows(columns)
    spanning = any(text for text, _ in spans)
    if spanning:
        _spanning_row(table, spans, size)
    last = table.rows[1 if spanning else 0]
    for i, text in enumerate(headers):
        _write(last.cells[i], text, size, bold=True, centred=i > 0)
    for row in table.rows[: 2 if spanning else 1]:
        _repeat_as_header(row)
    for cell in _unique(table.rows[0].cells):
        _rule(cell, "top")
    for cell in _unique(last.cells):
        _rule(cell, "bottom")
    return 2 if spanning else 1


def _needed(texts: list[list[str]], headers: list[str]) -> list[int]:
    """Characters each column needs: its longest text (a header wraps: its longest word), the
    first column capped at :data:`LABEL_CHARACTERS` (labels wrap)."""
    needed = []
    for i, header in enumerate(headers):
        longest = max([len(row[i]) for row in texts] + [len(w) for w in header.split()] + [1])
        needed.append(min(longest, LABEL_CHARACTERS) if i == 0 else longest)
    return needed


def _widths(table, texts: list[list[str]], headers: list[str], total: int, size: float) -> None:
    """Give each column the width of its text (half an em a character, one spare, and the cell's
    margins); the first column takes what is left, and all shrink alike when too wide."""
    character = Pt(size) // 2
    widths = [(n + 1) * character + 2 * CELL_MARGIN for n in _needed(texts, headers)]
    spare = total - sum(widths)
    if spare > 0:
        widths[0] += spare
    else:
        widths = [w * total // sum(widths) for w in widths]
    for i, width in enumerate(widths):
        table.columns[i].width = width
        for cell in table.columns[i].cells:
            cell.width = width


def _cell_margins(table) -> None:
    """Narrow left and right cell margins (:data:`CELL_MARGIN`) for the whole table."""
    margins = OxmlElement("w:tblCellMar")
    for side in ("left", "right"):
        element = OxmlElement(f"w:{side}")
        element.set(qn("w:w"), str(int(CELL_MARGIN.twips)))
        element.set(qn("w:type"), "dxa")
        margins.append(element)
    properties = table._tbl.tblPr
    look = properties.find(qn("w:tblLook"))  # tblCellMar comes before it (schema order)
    if look is None:
        properties.append(margins)
    else:
        look.addprevious(margins)


def write_docx(df: pd.DataFrame, title: str, path: Path) -> Path:
    """Write a manuscript table as a Word document.

    Parameters
    ----------
    df : DataFrame
        A manuscript table (:func:`analysis_assets.manuscript_tables.table1_layout`,
        :func:`~analysis_assets.manuscript_tables.table2_layout`).
    title : str
        Printed above the table (``study.TABLE_TITLES``).
    path : Path
        The ``.docx`` file written.

    Returns
    -------
    Path
    """
    columns = display_columns(df)
    shown = body(df)
    texts = shown[columns].fillna("").astype(str).values.tolist()
    landscape = len(columns) > PORTRAIT_MAX_COLUMNS
    size = FONT_SIZE["landscape" if landscape else "portrait"]
    document = Document()
    document.styles["Normal"].font.name = FONT
    width = _page(document, landscape)
    heading = document.add_paragraph()
    heading.add_run(title).bold = True
    spanning = any(text for text, _ in header_rows(columns)[0])
    table = document.add_table(rows=len(texts) + (2 if spanning else 1), cols=len(columns))
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _cell_margins(table)
    _widths(table, texts, header_rows(columns)[1], width, size)
    first = _header(table, columns, size)
    for row, values, kind in zip(table.rows[first:], texts, shown["row_type"].astype(str)):
        indent = INDENT if kind in INDENTED_ROWS else None
        _write(row.cells[0], values[0], size, kind in BOLD_ROWS, centred=False, indent=indent)
        for cell, text in zip(row.cells[1:], values[1:]):
            _write(cell, text, size)
    if texts:
        for cell in table.rows[-1].cells:
            _rule(cell, "bottom")
    for note in footnotes(df):
        paragraph = document.add_paragraph()
        paragraph.paragraph_format.space_after = Pt(0)
        paragraph.add_run(note).font.size = Pt(size - 1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path
