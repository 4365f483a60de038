"""The demo's report.html in a real browser (Debian's headless chromium driven by Selenium,
as tests/test_ui.py): it renders offline, shows its sections and the cut-off, its prose has no
raw column name, and a full-page screenshot is saved beside it."""

from __future__ import annotations

import re
import shutil

import pytest

from tests.browser import CHROMEDRIVER, CHROMIUM, headless_chromium

SCREENSHOT = "report-screenshot.png"
#: what must never show in the prose: raw column names, code syntax, ASCII for ≥ and ×, and
#: missing values printed as text
RAW = ("_pg_ml", "_ge_20", "[", ">=", "x 10^", "None", "nan", "NaN")

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="Debian's chromium and chromium-driver are needed (make sysdeps)",
)


@pytest.fixture(scope="module")
def browser():
    with headless_chromium(width=1280, offline=True) as driver:
        yield driver


@pytest.fixture(scope="module")
def page(demo, browser, tmp_path_factory):
    """The report opened from a copy (file://), so the screenshot is the only file added
    to the demo's output."""
    copy = tmp_path_factory.mktemp("report") / "report.html"
    shutil.copy(demo.output / "report.html", copy)
    browser.get(copy.as_uri())
    return browser


def _texts(browser, selector: str) -> list[str]:
    from selenium.webdriver.common.by import By

    return [e.text for e in browser.find_elements(By.CSS_SELECTOR, selector)]


def test_sections_in_order_and_the_cutoff(page):
    headings = _texts(page, "h2")
    wanted = ["Methods", "Results", "Figures", "Tables", "Provenance"]
    assert [h for h in headings if h in wanted] == wanted
    body = page.find_element("tag name", "body").text
    assert "Data cut-off: 2023-03-01." in body
    assert "At the cut-off date (1 March 2023), the median follow-up" in body
    assert body.index("Data cut-off") < body.index("\nMethods\n") < body.index("\nResults\n")


def test_prose_has_no_raw_column_name(page):
    paragraphs = _texts(page, "p")
    assert len(paragraphs) > 30
    for text in paragraphs:
        for raw in RAW:
            assert raw not in text, (raw, text)


def test_every_figure_is_drawn_and_nothing_loads_from_outside(page):
    shown = page.execute_script(
        "return Array.from(document.querySelectorAll('figure > svg, figure > img'))"
        ".map(e => e.getBoundingClientRect().width)"
    )
    assert len([width for width in shown if width > 100]) >= 9  # the numbered figures
    # the collapsed single panels too, once opened
    page.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    sizes = page.execute_script(
        "return Array.from(document.querySelectorAll('figure > svg, figure > img'))"
        ".map(e => e.getBoundingClientRect().width)"
    )
    assert sizes and min(sizes) > 100
    resources = page.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert [r for r in resources if not r.startswith(("data:", "file:"))] == []


def test_methods_and_results_are_generated(page):
    body = page.find_element("tag name", "body").text
    assert re.search(r"drawn with seed \d+", body)
    assert "chisq.test(table, correct = FALSE)" in body
    assert re.search(r"\d+ of \d+ gradable patients \(\d+\.\d%\) developed CRS", body)
    assert re.search(r"Median overall survival \(OS\) .* was [\d.]+ months \(95% CI ", body)


def test_full_page_screenshot_is_saved_beside_the_report(demo, page):
    height = page.execute_script("return document.documentElement.scrollHeight")
    page.set_window_size(1280, min(int(height), 30000))
    out = demo.output / SCREENSHOT
    assert page.save_screenshot(str(out))
    assert out.stat().st_size > 50_000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
