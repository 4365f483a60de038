"""The study's figures on small hand-made tables (tests/analysis_inputs.py, plus the Kaplan–Meier
curves, log-rank tests and cohort flow built here): formats and resolution, determinism,
provenance, the multi-panel survival figures and their risk tables, the forest plot, the
swimmer plot's response window and the cohort flow's nesting."""

from __future__ import annotations

import re
import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from PIL import Image

from analysis_assets import figures
from analysis_assets.figures._common import GRADE_COLOURS, ICANS_COLOURS
from analysis_assets.study import (
    COMPARISONS,
    FIGURE_CAPTIONS,
    SURVIVAL_FIGURES,
    TIME_TICK_MONTHS,
)
from tests.analysis_inputs import KM_A, PROVENANCE, analysis_tables

FIGURE2 = "figure2_survival_by_toxicity"
#: the longest follow-up of the hand-made curves: beyond the 60 months the axes used to stop at
LONGEST = 79.3


def km_all_panels() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kaplan–Meier rows and log-rank tests for every panel of the survival figures: KM_A for
    the first group, a second curve (followed up to LONGEST months) for the others."""
    second = pd.DataFrame(
        {
            "time_months": [1.0, 12.0, 25.0, LONGEST],
            "n_risk": [4, 3, 2, 1],
            "n_event": [1, 1, 0, 0],
            "n_censor": [0, 0, 1, 1],
            "survival": [0.75, 0.5, 0.5, 0.5],
        }
    )
    parts, tests = [], []
    panels = {p for stem in SURVIVAL_FIGURES.values() for p in stem}
    for endpoint, comparison in sorted(panels):
        for i, group in enumerate(COMPARISONS[comparison].groups):
            curve = KM_A if i == 0 else second
            parts.append(curve.assign(endpoint=endpoint, comparison=comparison, group=group))
        tests.append((endpoint, comparison, 1.5, len(COMPARISONS[comparison].groups) - 1, 0.221))
    km = pd.concat(parts, ignore_index=True)
    km["ci_lower"] = km["survival"] * 0.8
    km["ci_upper"] = np.minimum(1, km["survival"] * 1.2)
    logrank = pd.DataFrame(tests, columns=["endpoint", "comparison", "chi_square", "df", "p_value"])
    return km, logrank


def flow_table() -> pd.DataFrame:
    """A cohort flow as mart.cohort_flow has it: 12 delivered, 10 infused, 9 gradable,
    8 evaluable, 6 in CR; centres a and b."""
    steps = [
        (1, "patients delivered", None, None),
        (2, "with an index infusion", 1, "not infused: no index infusion"),
        (3, "gradable for CRS and ICANS", 2, "not gradable: a grade is missing"),
        (4, "evaluable for day-30 response", 2, "not evaluable: no assessment"),
        (5, "in CR at day 30", 4, "not in CR at day 30: no CR"),
    ]
    counts = {"all": [12, 10, 9, 8, 6], "a": [7, 6, 5, 5, 4], "b": [5, 4, 4, 3, 2]}
    rows = []
    for centre, ns in counts.items():
        n_of = dict(zip(range(1, 6), ns))
        for (order, step, parent, reason), n in zip(steps, ns):
            excluded = None if parent is None else n_of[parent] - n
            rows.append((centre, order, step, n, parent, None, excluded, reason))
    return pd.DataFrame(
        rows,
        columns=[
            "centre_code",
            "step_order",
            "step",
            "n",
            "parent_step_order",
            "analysis_population",
            "excluded_n",
            "excluded_reason",
        ],
    )


def all_tables() -> dict[str, pd.DataFrame]:
    tables = analysis_tables()
    km, logrank = km_all_panels()
    tables["analysis.km_estimates"] = km
    tables["analysis.logrank_tests"] = logrank
    tables["analysis.cohort_flow"] = flow_table()
    return tables


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    tables = all_tables()
    paths = figures.all_figures(tables, out, PROVENANCE, workers=2)
    return tables, paths, out


def svg_strings(path) -> list[str]:
    """The strings of an SVG's texts (matplotlib draws glyphs as paths and keeps each string
    in a comment)."""
    return re.findall(r"<!-- (.*?) -->", path.read_text(encoding="utf-8"), flags=re.S)


def png_chunks(path) -> dict[bytes, list[bytes]]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    chunks: dict[bytes, list[bytes]] = {}
    pos = 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks.setdefault(kind, []).append(data[pos + 8 : pos + 8 + length])
        pos += 12 + length
    return chunks


# --------------------------------------------------------------------------- formats


def test_number_at_risk_hand_made():
    # t=0 -> group n; first row with time >= t; 0 past the last row
    ticks = figures.time_ticks(60)
    assert ticks == [0, 12, 24, 36, 48, 60]
    assert figures.number_at_risk(KM_A, ticks) == [5, 3, 2, 1, 0, 0]
    assert figures.number_at_risk(KM_A, ticks, n=6) == [6, 3, 2, 1, 0, 0]
    assert figures.number_at_risk(KM_A, times=(0, 2, 8, 40, 41)) == [5, 5, 4, 1, 0]
    # unsorted input is fine
    assert figures.number_at_risk(KM_A.iloc[::-1], ticks) == [5, 3, 2, 1, 0, 0]


def test_time_ticks_reach_the_longest_follow_up():
    assert TIME_TICK_MONTHS == 12
    assert figures.time_ticks(79.3) == [0, 12, 24, 36, 48, 60, 72, 84]
    assert figures.time_ticks(72.0) == [0, 12, 24, 36, 48, 60, 72]
    assert figures.time_ticks(0.0) == [0, 12]
    assert figures.time_ticks(13.0, step=6) == [0, 6, 12, 18]


def test_every_figure_is_a_300_dpi_png_a_pdf_and_an_svg(built):
    _, paths, out = built
    stems = {p.stem for p in paths}
    assert {
        "cohort_flow",
        "figure1_cr_day30",
        "figure1_mrd_negative_cr",
        *SURVIVAL_FIGURES,
        "km_OS_crs",
        "km_LFS_crs",
        "figure4_car_copies",
        "table2_forest",
        "swimmer_toxicity_and_response",
    } <= stems
    assert len(paths) == 3 * len(stems) == len(set(paths))
    for stem in stems:
        png, pdf, svg = (out / f"{stem}.{ext}" for ext in ("png", "pdf", "svg"))
        assert {png, pdf, svg} <= set(paths), stem
        # pHYs: pixels per metre, unit 1 (metre); 300 dpi = 11811 px/m
        [phys] = png_chunks(png)[b"pHYs"]
        x, y, unit = struct.unpack(">IIB", phys)
        assert unit == 1 and round(x * 0.0254) == round(y * 0.0254) == 300, stem
        assert Image.open(png).info["dpi"] == pytest.approx((300, 300), abs=0.01)
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-") and b"/CreationDate" not in data, stem
        text = svg.read_text(encoding="utf-8")
        assert "<svg" in text[:2000] and "<dc:date>" not in text, stem


def test_figures_are_deterministic(built, tmp_path):
    """The same files again, drawn in this process instead of two worker processes."""
    tables, paths, _ = built
    again = figures.all_figures(tables, tmp_path, PROVENANCE, workers=1)
    assert [p.name for p in paths] == [p.name for p in again]
    for a, b in zip(paths, again):
        assert a.read_bytes() == b.read_bytes(), a.name


def test_every_file_carries_the_provenance(built):
    _, paths, _ = built
    for p in paths:
        data = p.read_bytes()
        if p.suffix == ".png":
            texts = b"".join(png_chunks(p).get(b"tEXt", []) + png_chunks(p).get(b"zTXt", []))
            assert b"Provenance" in texts and b"run-0001" in texts, p.name
        elif p.suffix == ".pdf":
            assert b"/Keywords (run id run-0001)" in data and b"deadbeef" in data, p.name
        else:
            assert b"run-0001" in data and b"deadbeef" in data, p.name


def test_texts_are_human(built):
    _, _, out = built
    for svg in sorted(out.glob("*.svg")):
        for text in svg_strings(svg):
            assert ">=" not in text and "x 10^" not in text, (svg.name, text)
            assert not re.search(r"\b[a-z]+_[a-z0-9_]+\b", text), (svg.name, text)


# --------------------------------------------------------------------------- survival


@pytest.fixture(scope="module")
def figure2():
    km, logrank = km_all_panels()
    fig = figures.survival_figure(km, logrank, SURVIVAL_FIGURES[FIGURE2])
    yield fig, km
    import matplotlib.pyplot as plt

    plt.close(fig)


def _axes(fig, prefix):
    return {
        ax.get_label().split(":", 1)[1]: ax for ax in fig.axes if ax.get_label().startswith(prefix)
    }


def test_figure_1_is_lettered_a_and_b_as_its_captions(built):
    _, _, out = built
    for stem, letter in (("figure1_cr_day30", "A"), ("figure1_mrd_negative_cr", "B")):
        svg = (out / f"{stem}.svg").read_text(encoding="utf-8")
        assert f'id="panel-letter-{letter}"' in svg, stem
        assert f"Figure 1{letter}." in FIGURE_CAPTIONS[stem]


def test_survival_figure_has_six_panels_lettered_a_to_f(figure2):
    fig, _ = figure2
    curves = _axes(fig, "km:")
    assert sorted(curves) == list("ABCDEF")
    letters = sorted(
        t.get_text()
        for ax in curves.values()
        for t in ax.texts
        if (t.get_gid() or "").startswith("panel-letter-")
    )
    assert letters == list("ABCDEF")
    for letter, ax in curves.items():
        [mark] = [t for t in ax.texts if t.get_gid() == f"panel-letter-{letter}"]
        assert mark.get_fontweight() == "bold"
        x, y = mark.get_position()
        assert x < 0 and y > 1  # top left, outside the plotting area
    # OS left, LFS right, every panel with its log-rank p
    for letter, ax in curves.items():
        left = letter in "ACE"
        assert ax.get_title(loc="left").startswith(
            "Overall survival" if left else "Leukaemia-free survival"
        ), letter
        assert any(t.get_text() == "Log-rank p = 0.221" for t in ax.texts), letter


def test_risk_tables_sit_under_the_ticks_which_reach_the_longest_follow_up(figure2):
    fig, km = figure2
    curves, tables = _axes(fig, "km:"), _axes(fig, "risk:")
    assert sorted(tables) == list("ABCDEF")
    ticks = list(curves["A"].get_xticks())
    assert ticks == figures.time_ticks(km["time_months"].max())
    assert ticks[-1] >= LONGEST > 60 and ticks[1] - ticks[0] == TIME_TICK_MONTHS
    for letter, ax in curves.items():
        tab = tables[letter]
        assert list(ax.get_xticks()) == ticks and ax.get_xlim() == (0, ticks[-1])
        assert ax.get_ylim() == curves["A"].get_ylim()
        # the table shares the x axis and puts one count under every tick, per group
        assert tab.get_xlim() == ax.get_xlim()
        assert tab.get_position().x0 == pytest.approx(ax.get_position().x0)
        assert tab.get_position().width == pytest.approx(ax.get_position().width)
        assert tab.get_position().y1 < ax.get_position().y0
        counts = [t for t in tab.texts if (t.get_gid() or "").startswith("risk-")]
        groups = {t.get_gid().split("-")[1] for t in counts}
        assert len(groups) >= 2
        for g in groups:
            xs = [t.get_position()[0] for t in counts if t.get_gid().split("-")[1] == g]
            assert xs == ticks, (letter, g)
            colours = {t.get_color() for t in counts if t.get_gid().split("-")[1] == g}
            assert len(colours) == 1
    # the first group's counts are KM_A's at the ticks
    first = [t for t in tables["A"].texts if (t.get_gid() or "").startswith("risk-0-")]
    assert [t.get_text() for t in first] == [str(c) for c in figures.number_at_risk(KM_A, ticks)]


def test_single_km_figures_look_like_the_panels(built):
    _, paths, out = built
    assert {"km_OS_crs", "km_LFS_crs"} <= {p.stem for p in paths}
    strings = svg_strings(out / "km_OS_crs.svg")
    assert "Log-rank p = 0.221" in strings and "Number at risk" in strings
    assert "84" in strings  # the last tick, beyond the longest follow-up


# --------------------------------------------------------------------------- forest


def test_forest_rows_have_reference_levels_and_words_for_what_is_not_estimable():
    cox = analysis_tables()["analysis.cox_multivariate"]
    rows = figures.forest_rows(cox[cox["endpoint"] == "OS"])
    kinds = [(r.kind, r.text) for r in rows]
    assert ("heading", "Received corticosteroids") in kinds
    assert ("reference", "No") in kinds and ("level", "Yes") in kinds
    assert ("reference", "no CRS/ICANS") in kinds
    reference = [r for r in rows if r.kind == "reference"]
    assert all(r.hr == 1.0 and np.isnan(r.lower) and r.value == "Reference" for r in reference)
    [missing] = [r for r in rows if r.text == "grade ≥ 3 CRS or ICANS"]
    assert missing.kind == "note" and missing.value == "not estimable: no events in group"
    [wald] = [r for r in rows if r.kind == "wald"]
    assert wald.p == 0.7 and "df = 2" in wald.value
    [estimate] = [r for r in rows if r.text == "Yes"]
    assert estimate.value == "0.80 (0.40–1.60)"


def test_forest_draws_a_reference_row_the_table_lists_once():
    cox = analysis_tables()["analysis.cox_multivariate"]
    listed = {
        "endpoint": "OS",
        "term": "toxicity_group[none]",
        "description": "three-level toxicity group",
        "hazard_ratio": 1.0,
        "estimable": True,
    }
    cox = pd.concat([cox.iloc[:1], pd.DataFrame([listed]), cox.iloc[1:]], ignore_index=True)
    rows = figures.forest_rows(cox[cox["endpoint"] == "OS"])
    texts = [r.text for r in rows]
    assert texts.count("no CRS/ICANS") == 1
    [reference] = [r for r in rows if r.text == "no CRS/ICANS"]
    assert reference.kind == "reference" and reference.value == "Reference"
    # the reference level comes first among the levels, whatever the table's order
    assert texts.index("no CRS/ICANS") < texts.index("grade ≥ 3 CRS or ICANS")


def test_forest_panels_share_one_x_range(built):
    tables, _, out = built
    cox = tables["analysis.cox_multivariate"].copy()
    # LFS far wider than OS: both panels still show the same range
    cox.loc[cox["endpoint"] == "LFS", ["hazard_ratio", "ci_lower", "ci_upper"]] = [3.0, 1.5, 9.0]
    fig = figures.forest_figure(cox)
    panels = _axes(fig, "forest:")
    assert sorted(panels) == ["LFS", "OS"]
    assert panels["OS"].get_xlim() == panels["LFS"].get_xlim()
    lo, hi = panels["OS"].get_xlim()
    assert lo <= 0.4 and hi >= 9.0 and panels["OS"].get_xscale() == "log"
    for ax in panels.values():
        assert any(line.get_gid() == "reference" for line in ax.lines)
        assert any(line.get_xdata()[0] == 1.0 for line in ax.lines)  # the line at HR 1
    strings = svg_strings(out / "table2_forest.svg")
    assert "Reference" in strings and "HR (95% CI)" in strings
    assert "not estimable: no events in group" in strings


# --------------------------------------------------------------------------- swimmer


def test_swimmer_marks_a_cr_within_the_whole_response_window():
    tables = analysis_tables()
    mart = tables["mart.patient_outcomes"].copy()
    mart["cr_day"] = pd.array([28, 40, 45, None, 46, 20, 21, 31, None, 27], dtype="Int64")
    marks = figures.swimmer_cr_marks(mart, 21, 45)
    assert sorted(marks["cr_day"]) == [21, 27, 28, 31, 40, 45]
    fig = figures.swimmer_figure(mart, tables["mart.daily_toxicity"], 30, (21, 45))
    ax = fig.axes[0]
    [cr] = [line for line in ax.lines if line.get_gid() == "cr-marks"]
    assert 40.5 in list(cr.get_xdata()) and 45.5 in list(cr.get_xdata())
    assert 46.5 not in list(cr.get_xdata())
    assert not cr.get_rasterized()  # a study's marks stay vectors in PDF and SVG
    assert ax.get_xlim()[1] >= 46  # the axis covers the response window
    assert ax.get_xlim()[0] == 0


def _rgba255(colour: str) -> list[int]:
    return [round(c * 255) for c in to_rgba(colour)]


def test_swimmer_image_holds_every_graded_day_in_its_lane():
    tables = analysis_tables()
    mart, daily = tables["mart.patient_outcomes"], tables["mart.daily_toxicity"].copy()
    daily.loc[daily.index[[3, 40, 41]], "crs_grade"] = [2, 4, 1]
    daily.loc[daily.index[[5, 77]], "icans_grade"] = [3, 1]
    fig = figures.swimmer_figure(mart, daily, 30, (21, 45))
    [image] = [im for im in fig.axes[0].images if im.get_gid() == "grades"]
    pixels = np.asarray(image.get_array())
    lane = {key: i for i, key in enumerate(figures.swimmer_order(mart))}
    assert pixels.shape == (5 * len(lane), 46, 4)  # days 0..45
    expected = np.zeros_like(pixels)
    for row in daily.itertuples():
        top = 5 * lane[row.patient_key]
        if row.crs_grade >= 1:
            expected[top + 1 : top + 3, row.study_day] = _rgba255(GRADE_COLOURS[row.crs_grade])
        if row.icans_grade >= 1:
            expected[top + 3 : top + 5, row.study_day] = _rgba255(ICANS_COLOURS[row.icans_grade])
    assert expected[..., 3].sum() > 0
    np.testing.assert_array_equal(pixels, expected)
    # lane 0 (the worst toxicity) is at the top: the image spans every lane's 0.2 + 0.4 + 0.4
    assert image.get_extent() == [0, 46, -0.4, len(lane) - 0.4]


def test_swimmer_of_a_registry_keeps_every_lane_in_a_bounded_figure():
    n = 3_000
    keys = [f"p{i:05d}" for i in range(n)]
    mart = pd.DataFrame(
        {
            "patient_key": keys,
            "crs_max_grade": [i % 5 for i in range(n)],
            "icans_max_grade": [0] * n,
            "crs_onset_day": [i % 14 for i in range(n)],
            "cr_day": [28] * n,
        }
    )
    daily = pd.DataFrame(
        {
            "patient_key": keys,
            "study_day": [i % 14 for i in range(n)],
            "crs_grade": [i % 5 for i in range(n)],
            "icans_grade": [0] * n,
        }
    )
    fig = figures.swimmer_figure(mart, daily, 30, (21, 45))
    assert fig.get_figheight() == figures.swimmer.MAX_HEIGHT_INCHES < 0.13 * n
    [image] = fig.axes[0].images
    assert image.get_array().shape[0] == 5 * n
    assert image.get_interpolation() == "none"  # PDF and SVG embed the image unresampled
    assert (np.asarray(image.get_array())[..., 3] > 0).sum() == 2 * (4 * n // 5)
    assert figures.swimmer_height(93) == pytest.approx(2.2 + 0.13 * 93)
    # a line and a diamond per patient: embedded as one image in PDF and SVG
    ax = fig.axes[0]
    [observed] = ax.collections
    [cr] = [line for line in ax.lines if line.get_gid() == "cr-marks"]
    assert len(observed.get_segments()) == len(cr.get_xdata()) == n
    assert observed.get_rasterized() and cr.get_rasterized()


def test_a_registry_s_grades_are_bands_that_draw_as_one_image(monkeypatch, tmp_path):
    """Above IMAGE_BAND_LANES lanes the grades are stacked images (matplotlib copies an image
    twice as float32 to draw it): together the same rows, extents and pixels as one image."""
    tables = analysis_tables()
    mart, daily = tables["mart.patient_outcomes"], tables["mart.daily_toxicity"].copy()
    daily.loc[daily.index[[3, 40, 41]], "crs_grade"] = [2, 4, 1]
    daily.loc[daily.index[[5, 77]], "icans_grade"] = [3, 1]
    one = figures.swimmer_figure(mart, daily, 30, (21, 45))
    [whole] = one.axes[0].images
    n = len(mart)
    monkeypatch.setattr(figures.swimmer, "IMAGE_BAND_LANES", 3)
    banded = figures.swimmer_figure(mart, daily, 30, (21, 45))
    bands = banded.axes[0].images
    assert len(bands) == -(-n // 3) > 1
    assert [b.get_gid() for b in bands] == [f"grades-{k}" for k in range(1, len(bands) + 1)]
    np.testing.assert_array_equal(
        np.concatenate([np.asarray(b.get_array()) for b in bands]), np.asarray(whole.get_array())
    )
    tops = [b.get_extent()[3] for b in bands]
    bottoms = [b.get_extent()[2] for b in bands]
    assert tops[0] == whole.get_extent()[3] and bottoms[-1] == whole.get_extent()[2]
    assert tops[1:] == bottoms[:-1]  # contiguous, top to bottom
    for fig, name in ((one, "one.png"), (banded, "banded.png")):
        fig.savefig(tmp_path / name, dpi=100)
    np.testing.assert_array_equal(
        np.asarray(Image.open(tmp_path / "one.png")),
        np.asarray(Image.open(tmp_path / "banded.png")),
    )


# --------------------------------------------------------------------------- cohort flow


def test_cohort_flow_is_nested_and_exclusions_add_up():
    tree = figures.flow_tree(flow_table()).set_index("step_order")
    for step, row in tree.iterrows():
        if pd.isna(row["parent_step_order"]):
            continue
        parent = tree.loc[int(row["parent_step_order"])]
        assert row["n"] <= parent["n"], step
        assert parent["n"] == row["n"] + row["excluded_n"], step
    # 3 and 4 are both subsets of 2, not of each other
    assert tree.loc[3, "parent_step_order"] == tree.loc[4, "parent_step_order"] == 2


def test_cohort_flow_without_parents_is_a_chain():
    old = flow_table().drop(columns=["parent_step_order", "excluded_n", "excluded_reason"])
    tree = figures.flow_tree(old).set_index("step_order")
    assert list(tree["parent_step_order"].iloc[1:]) == [1, 2, 3, 4]
    assert list(tree["excluded_n"].iloc[1:]) == [2, 1, 1, 2]


def test_cohort_flow_figure_has_a_box_per_step_and_per_exclusion(built):
    fig = figures.flow_figure(flow_table())
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert {f"step-{i}" for i in range(1, 6)} <= set(texts)
    assert {f"excluded-{i}" for i in range(2, 6)} <= set(texts)
    assert texts["step-5"].startswith("In CR at day 30\nn = 6")
    assert texts["excluded-3"].startswith("Not gradable (n = 1)\na grade is missing")
    assert texts["excluded-5"].startswith("Not in CR at day 30 (n = 2)")
    assert "a 6  b 4" in texts["step-2"]  # n per centre
    # the exclusion box of a left branch is on the left, of a right branch on the right
    x = {gid: t.get_position()[0] for gid, t in ((t.get_gid(), t) for t in fig.axes[0].texts)}
    assert x["excluded-3"] < x["step-3"] < x["step-4"] < x["excluded-4"]
    import matplotlib.pyplot as plt

    plt.close(fig)
    _, _, out = built
    assert "Not in CR at day 30 (n = 2)" in "\n".join(svg_strings(out / "cohort_flow.svg"))


def test_cohort_flow_exclusion_boxes_count_their_reasons():
    exclusions = pd.DataFrame(
        [
            ("all", 5, 1, "no CR on an assessment", 1),
            ("all", 5, 2, "died before day 21", 1),
            ("all", 5, 3, "relapsed before day 21", 0),
            ("all", 3, 1, "CRS and ICANS grades missing", 1),
        ],
        columns=["centre_code", "step_order", "reason_order", "reason", "n"],
    )
    flow = flow_table()
    overall = flow[flow["centre_code"] == "all"].set_index("step_order")
    # the hand-made reasons add up to the flow's exclusions
    for step, part in exclusions.groupby("step_order"):
        assert part["n"].sum() == overall.loc[step, "excluded_n"], step
    fig = figures.flow_figure(flow, exclusions)
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts if t.get_gid()}
    assert texts["excluded-5"] == (
        "Not in CR at day 30 (n = 2)\nno CR on an assessment: 1\ndied before day 21: 1"
    )
    assert texts["excluded-3"] == "Not gradable (n = 1)\nCRS and ICANS grades missing: 1"
    # a step without reasons keeps its reason in words
    assert texts["excluded-4"] == "Not evaluable (n = 2)\nno assessment"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_pdf_has_no_date_even_when_zlib_compressed(built):
    _, _, out = built
    data = (out / "figure2_survival_by_toxicity.pdf").read_bytes()
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, flags=re.S)
    decoded = b""
    for s in streams:
        try:
            decoded += zlib.decompress(s)
        except zlib.error:
            decoded += s
    assert b"CreationDate" not in data + decoded


def test_no_exclusion_box_is_crossed_by_a_line_of_the_flow():
    """Three branches under one step (the demo's gradable / evaluable / OS) and a long reason
    in the middle branch: no connector line passes through an exclusion box."""
    import matplotlib.pyplot as plt

    flow = flow_table()
    long_reason = (
        "not evaluable: no response assessment on days 21-45 and no death or relapse before "
        "day 21, or a CR assessment dated before the index infusion and no CR in the window"
    )
    flow.loc[flow["step_order"] == 4, "excluded_reason"] = long_reason
    third = flow[flow["step_order"] == 3].assign(
        step_order=6, step="with a plausible OS time", excluded_reason="OS excluded: a death"
    )
    fig = figures.flow_figure(pd.concat([flow, third], ignore_index=True))
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    boxes = [
        t.get_bbox_patch().get_window_extent(renderer)
        for t in ax.texts
        if (t.get_gid() or "").startswith("excluded-")
    ]
    assert len(boxes) == 5
    for line in ax.lines:
        (x0, y0), (x1, y1) = ax.transData.transform(line.get_xydata()[[0, -1]])
        for box in boxes:
            xs = (min(x0, x1), max(x0, x1))
            ys = (min(y0, y1), max(y0, y1))
            overlaps = xs[0] < box.x1 and xs[1] > box.x0 and ys[0] < box.y1 and ys[1] > box.y0
            assert not overlaps, (line.get_xydata().tolist(), box)
    plt.close(fig)
