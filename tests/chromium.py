"""A real browser for the insights pages: Debian's chromium + chromium-driver (`.ci/run`
installs them), driven by selenium, with axe-core (bundled by axe-selenium-python) for the
accessibility check. Nothing is downloaded at test time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "insights-screenshots"
WIDTHS = {"laptop": 1280, "phone": 375}


def _binary(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.fail(
        f"none of {', '.join(names)} is installed: install Debian's chromium and "
        "chromium-driver (`apt-get install chromium chromium-driver`, as .ci/run does)"
    )


def start():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _binary("chromium", "chromium-browser")
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1280,900",
    ):
        options.add_argument(arg)  # fmt: skip
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=_binary("chromedriver", "chromium-driver"))
    return webdriver.Chrome(options=options, service=service)


def open_at(driver, url: str, width: int) -> None:
    """Load `url` with a viewport `width` CSS pixels wide."""
    driver.set_window_size(width, 900)
    driver.get(url)
    inner = driver.execute_script("return window.innerWidth")
    # The window's frame may take a few pixels; size it again so the viewport is exact.
    if inner != width:
        driver.set_window_size(2 * width - inner, 900)
        driver.get(url)


def console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def serious_violations(driver) -> list[str]:
    from axe_selenium_python import Axe

    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} node(s)"
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(driver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.execute_script("return window.innerWidth")
    driver.set_window_size(driver.get_window_size()["width"], min(int(height) + 100, 6000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(driver.get_window_size()["width"], 900)
    assert width > 0
    return path
