"""The study's figures on small hand-made tables (tests/analysis_inputs.py)."""

from __future__ import annotations

import pytest

from analysis_assets import figures
from tests.analysis_inputs import KM_A, analysis_tables


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    tables = analysis_tables()
    paths = figures.all_figures(tables, out)
    return tables, paths, out


def test_number_at_risk_hand_made():
    # t=0 -> group n; first row with time >= t; 0 past the last row
    assert figures.number_at_risk(KM_A) == [5, 3, 2, 1, 0, 0]
    assert figures.number_at_risk(KM_A, n=6) == [6, 3, 2, 1, 0, 0]
    assert figures.number_at_risk(KM_A, times=(0, 2, 8, 40, 41)) == [5, 5, 4, 1, 0]
    # unsorted input is fine
    assert figures.number_at_risk(KM_A.iloc[::-1]) == [5, 3, 2, 1, 0, 0]


def test_figures_written_as_png_and_svg(built):
    _, paths, _ = built
    stems = {p.stem for p in paths}
    assert {
        "figure1_cr_day30",
        "figure1_mrd_negative_cr",
        "km_OS_crs",
        "km_LFS_crs",
        "figure4_car_copies",
        "table2_forest",
        "swimmer_first_30_days",
    } <= stems
    for p in paths:
        assert p.exists() and p.stat().st_size > 0
        data = p.read_bytes()
        if p.suffix == ".png":
            assert data.startswith(b"\x89PNG\r\n\x1a\n")
        else:
            assert p.suffix == ".svg" and b"<svg" in data[:2000]
            assert b"<dc:date>" not in data
    assert len(paths) == 2 * len(stems)


def test_figures_are_deterministic(built, tmp_path):
    tables, paths, _ = built
    again = figures.all_figures(tables, tmp_path)
    for a, b in zip(sorted(paths), sorted(again)):
        assert a.name == b.name and a.read_bytes() == b.read_bytes(), a.name


def test_km_figure_shows_risk_table_and_censor_marks(built):
    _, _, out = built
    svg = (out / "km_OS_crs.svg").read_text()
    # matplotlib draws text as glyph paths but keeps each string in an SVG comment
    assert "p = 0.270" in svg
    assert "Number at risk" in svg


def test_forest_plot_marks_not_estimable(built):
    _, _, out = built
    assert "not estimable" in (out / "table2_forest.svg").read_text()
