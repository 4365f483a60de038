"""The HTML report on small hand-made tables and figures (tests/analysis_inputs.py)."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest

from analysis_assets import figures
from analysis_assets.formatting import percent
from analysis_assets.report import build_report, results_sentences
from tests.analysis_inputs import EVIL, PROVENANCE, analysis_tables, mart_table


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    tables = analysis_tables()
    paths = figures.all_figures(tables, out)
    return tables, paths, out


@pytest.fixture(scope="module")
def report(built, tmp_path_factory):
    tables, paths, _ = built
    out = tmp_path_factory.mktemp("report") / "report.html"
    build_report(tables, paths, PROVENANCE, out)
    return out.read_text(encoding="utf-8"), paths


def test_report_header_shows_the_cutoff(report):
    text, _ = report
    assert "<p>Data cut-off: 2023-03-01.</p>" in text
    assert text.index("Data cut-off: 2023-03-01.") < text.index("<h2>Results</h2>")


def test_report_has_no_external_url(report):
    text, _ = report
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*https?:', text, re.I)
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower()


def test_report_embeds_every_figure_as_inline_svg(report):
    text, paths = report
    stems = {p.stem for p in paths}
    for stem in stems:
        assert f'id="fig-{stem}"' in text
    # vector figures inline: one <svg> per figure, no base64 PNG when the SVG exists
    assert text.count("<svg") == len(stems) and "data:image/png;base64," not in text


def test_report_embeds_the_png_when_there_is_no_svg(built, tmp_path):
    _, paths, _ = built
    pngs = [p for p in paths if p.suffix == ".png"]
    text = build_report({}, pngs, None, tmp_path / "r.html").read_text(encoding="utf-8")
    assert text.count("data:image/png;base64,") == len(pngs) and "<svg" not in text


def test_report_contains_computed_sentences(report):
    text, _ = report
    # 10 patients, all gradable for CRS: grade >= 1 in 8 (80.0%), severe (>= 3) in 2 (20.0%)
    assert (
        "Of 10 infused patients, 10 could be graded for CRS: 8 of 10 gradable patients (80.0%) "
        "developed CRS and 2 of 10 (20.0%) severe CRS (grade ≥ 3)." in text
    )
    # ICANS >= 1 in 3 of the 9 gradable; one not gradable, named as such
    assert "3 of 9 gradable patients (33.3%) developed ICANS" in text
    assert "1 could not be graded (ungradable)" in text
    # CR day 30: 8 of 10; tocilizumab: 5 of 10
    assert "At day 30, 8 of 10 infused patients (80.0%) were in CR." in text
    assert "5 of 10 patients with known treatment (50.0%) received tocilizumab" in text
    # the cut-off date, half-up, the CI
    assert (
        "At the cut-off date (1 March 2023), the median follow-up (reverse Kaplan-Meier) was "
        "30.3 months (95% CI 20–40) for 10 patients." in text
    )
    for item in (
        "a 2023-01-01: 3 files, 1,234 rows, sha256 " + "f" * 64,
        "2023-03-01",
        "cartwh 0.1 (deadbeef)",
        "run-0001",
        "2026-01-01 00:00:00 UTC",
    ):
        assert item in text
    assert "not estimable" in text
    # response table with denominators
    assert "6/8" in text


def test_report_escapes_malicious_labels(report):
    text, _ = report
    assert EVIL not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_results_sentences_percent_half_up():
    mart = mart_table()
    mart = pd.concat(
        [mart, mart.iloc[:6].assign(patient_key=lambda d: d["patient_key"] + "x")],
        ignore_index=True,
    )  # 16 patients
    lines = results_sentences({"patient_outcomes": mart})["Toxicity and its treatment"]
    crs = int((pd.to_numeric(mart["crs_max_grade"]) >= 1).sum())  # 12 of 16 = 75.0
    assert f"{crs} of 16 gradable patients (75.0%) developed CRS" in lines[0]
    severe = int((pd.to_numeric(mart["crs_max_grade"]) >= 3).sum())  # 3 of 16 = 18.75 -> 18.8
    assert f"{severe} of 16 (18.8%) severe CRS" in lines[0]


def test_report_inlines_svg_only_figures_safely(built, tmp_path):
    _, paths, out = built
    svgs = [p for p in paths if p.suffix == ".svg"]
    hostile = tmp_path / "hostile.svg"
    hostile.write_text(
        '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
        '<script>alert(1)</script><a href="https://evil.example/x"><rect onload="x()"/></a>'
        '<use xlink:href="#ok"/></svg>'
    )
    html_path = build_report({}, svgs + [hostile], None, tmp_path / "r.html")
    text = html_path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text
    assert "<script" not in text.lower() and "onload" not in text
    assert 'href="#ok"' in text
    for stem in {p.stem for p in svgs} | {"hostile"}:
        assert f'id="fig-{stem}"' in text
    assert text.count("<svg") == len(svgs) + 1


#: "75 of 92 gradable patients (81.5%)": a count, its denominator, words, the percentage
COUNT_OF = re.compile(r"(\d[\d,]*) of (\d[\d,]*)(?: [^()%;:,.]*?)? \((\d+(?:\.\d+)?)%\)")
#: any percentage standing alone in parentheses, "(81.5%)"
BARE_PERCENT = re.compile(r"\((\d+(?:\.\d+)?)%\)")


def prose_percentages(lines: list[str]) -> list[tuple[int, int, str]]:
    """Every "k of n ... (p%)" of the sentences; fails on a bracketed percentage without one."""
    found = []
    for line in lines:
        matches = COUNT_OF.findall(line)
        assert len(matches) == len(BARE_PERCENT.findall(line)), line
        found += [(int(k.replace(",", "")), int(n.replace(",", "")), p) for k, n, p in matches]
    return found


def _bigger_tables() -> dict:
    """The hand-made tables with 16 patients (percentages that need half-up rounding)."""
    tables = analysis_tables()
    mart = tables["mart.patient_outcomes"]
    extra = mart.iloc[:6].assign(patient_key=lambda d: d["patient_key"] + "x")
    tables["mart.patient_outcomes"] = pd.concat([mart, extra], ignore_index=True)
    return tables


@pytest.mark.parametrize("tables", [analysis_tables, _bigger_tables])
def test_every_percentage_in_prose_is_its_count_over_its_denominator_half_up(tables):
    lines = [line for part in results_sentences(tables()).values() for line in part]
    found = prose_percentages(lines)
    assert len(found) >= 10
    for count, total, printed in found:
        assert printed == f"{percent(count, total):.1f}", (count, total, printed)


def test_every_percentage_in_the_report_paragraphs_is_half_up(report):
    text, _ = report
    paragraphs = [html.unescape(p) for p in re.findall(r"<p[^>]*>(.*?)</p>", text, re.S)]
    for count, total, printed in prose_percentages(paragraphs):
        assert printed == f"{percent(count, total):.1f}", (count, total, printed)


def test_the_percent_parser_catches_a_wrong_percentage():
    [(count, total, printed)] = prose_percentages(["3 of 16 gradable patients (18.7%) had it."])
    assert (count, total) == (3, 16) and printed != f"{percent(count, total):.1f}"  # 18.8
    with pytest.raises(AssertionError):
        prose_percentages(["3 (18.8%) had it."])  # a percentage without its denominator
