"""Debian's headless Chromium driven by Selenium (``make sysdeps`` installs ``chromium`` and
``chromium-driver``), for the tests that look at pages: the Dagster UI and the report."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextmanager
def headless_chromium(width: int = 1280, height: int = 1000, offline: bool = False) -> Iterator:
    """A Selenium Chrome driver on Debian's chromium; ``offline`` routes every non-loopback
    request to a closed port, so anything a page fetches from the network is missing."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    arguments = [
        "--headless=new",
        "--no-sandbox",  # the tests run as root
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
    ]
    if offline:
        arguments += ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
    for argument in arguments:
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
