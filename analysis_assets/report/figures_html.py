"""Figures in the report: the SVG inline (vector, sanitised), else the PNG as base64."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from analysis_assets.formatting import comparison_label
from analysis_assets.report.common import ReportInputs, escape
from analysis_assets.study import FIGURE_CAPTIONS, KM_CAPTION

__all__ = ["figure_html", "figures_section"]

_SVG_STRIP = (
    re.compile(r"<\?xml.*?\?>", re.S),
    re.compile(r"<!DOCTYPE.*?>", re.S),
    re.compile(r"<metadata>.*?</metadata>", re.S),
    re.compile(r'\s+xmlns(:\w+)?="[^"]*"'),
    # defence in depth for SVGs not made by matplotlib: no script, handler or external ref
    re.compile(r"<script.*?</script\s*>", re.S | re.I),
    re.compile(r"<script[^>]*/>", re.I),
    re.compile(r'\s+on\w+\s*=\s*("[^"]*"|\'[^\']*\')', re.I),
    re.compile(r'\s+(?:xlink:)?href\s*=\s*("\s*(?!#)[^"]*"|\'\s*(?!#)[^\']*\')', re.I),
)


def inline_svg(text: str) -> str:
    """An SVG file's text, safe to inline: no prolog, metadata, script, handler or external
    reference."""
    for pattern in _SVG_STRIP:
        text = pattern.sub("", text)
    return text.strip()


def caption(stem: str) -> str:
    """The study's caption of a figure (``km_{endpoint}_{comparison}`` from the KM caption)."""
    text = FIGURE_CAPTIONS.get(stem)
    if text is None and stem.startswith("km_") and stem.count("_") >= 2:
        _, endpoint, comparison = stem.split("_", 2)
        text = KM_CAPTION.format(endpoint=endpoint, comparison=comparison_label(comparison))
    return text or stem


def figure_html(stem: str, files: list[Path]) -> str:
    """One ``<figure>``: the SVG inline when there is one (crisp at any zoom, small), else the
    PNG; the caption names every file of the figure (PNG, PDF, SVG)."""
    by_ext = {p.suffix.lower(): p for p in files}
    text = caption(stem)
    names = ", ".join(p.name for p in files)
    if ".svg" in by_ext:
        body = inline_svg(by_ext[".svg"].read_text(encoding="utf-8"))
    elif ".png" in by_ext:
        data = base64.b64encode(by_ext[".png"].read_bytes()).decode("ascii")
        body = f'<img alt="{escape(text)}" src="data:image/png;base64,{data}">'
    else:
        raise ValueError(f"no SVG or PNG among the figure's files: {names}")
    return (
        f'<figure id="fig-{escape(stem)}" data-files="{escape(names)}">{body}'
        f"<figcaption>{escape(text)} <small>({escape(names)})</small></figcaption></figure>"
    )


def figures_section(inputs: ReportInputs) -> list[str]:
    """Every figure with its caption: the study's numbered figures in the order of
    ``study.FIGURE_CAPTIONS``, then the others (the single Kaplan–Meier figures, panels of
    the numbered ones) collapsed."""
    if not inputs.figures:
        return []
    numbered = [stem for stem in FIGURE_CAPTIONS if stem in inputs.figures]
    others = [stem for stem in inputs.figures if stem not in FIGURE_CAPTIONS]
    parts = ["<h2>Figures</h2>"] + [figure_html(s, inputs.figures[s]) for s in numbered]
    if others:
        parts.append(
            f"<details><summary>{len(others)} more figures (single panels)</summary>"
            + "".join(figure_html(s, inputs.figures[s]) for s in others)
            + "</details>"
        )
    return parts
