"""The insights pages in Chromium, opened as a user would: from a presigned URL on the local
endpoint. Charts render, the numbers equal the report, hostile input stays text, the console
stays clean, axe-core finds no serious violation and a phone-width viewport needs no
horizontal scroll. Screenshots land in build/insights-screenshots/ for a person to look at."""

from __future__ import annotations

import json

import pytest

from csv_insights import publish
from tests import chromium
from tests import insightsdata as data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def driver():
    d = chromium.start()
    yield d
    d.quit()


@pytest.fixture
def site(harness):
    """Three scored files (one with a hostile key, texts and column names), their pages and
    the index, with presigned URLs for them."""
    out = harness.buckets["output"]
    reports = {}
    for key in (data.HOSTILE_KEY, "input/shop/march.csv", "input/shop/april.csv"):
        reports[key.removeprefix("input/")] = data.score(harness, key)
        publish.publish(harness.s3, out, f"reports/{key.removeprefix('input/')}.json")

    def url(key: str) -> str:
        return harness.s3.generate_presigned_url(
            "get_object", Params={"Bucket": out, "Key": key}, ExpiresIn=900
        )

    return reports, url


def _table(driver, caption: str) -> list[list[str]]:
    return driver.execute_script(
        """const t = [...document.querySelectorAll('table')]
             .find(t => t.caption && t.caption.textContent === arguments[0]);
           return t ? [...t.tBodies[0].rows].map(r => [...r.cells].map(c => c.textContent))
                    : null;""",
        caption,
    )


def _charts(driver) -> list[dict]:
    return driver.execute_script(
        """return [...document.querySelectorAll('svg')].map(s => ({
             id: s.id, role: s.getAttribute('role'), label: s.getAttribute('aria-label'),
             width: s.getBoundingClientRect().width, height: s.getBoundingClientRect().height,
             patches: s.querySelectorAll('g[id^=patch] path').length}));"""
    )


def _common_checks(driver, name: str) -> None:
    assert driver.execute_script("return window.__pwned") is None
    assert driver.execute_script("return document.scripts.length + document.images.length") == 0
    for chart in _charts(driver):
        assert chart["role"] == "img" and chart["label"], chart
        assert chart["width"] > 250 and chart["height"] > 80 and chart["patches"] >= 5, chart
    assert chromium.serious_violations(driver) == []
    assert chromium.console_errors(driver) == []
    chromium.screenshot(driver, f"{name}-laptop")
    chromium.open_at(driver, driver.current_url, chromium.WIDTHS["phone"])
    sizes = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert sizes[0] <= sizes[1] == chromium.WIDTHS["phone"], f"horizontal scroll: {sizes}"
    assert chromium.console_errors(driver) == []
    chromium.screenshot(driver, f"{name}-phone")


def test_file_page_shows_the_report_and_keeps_hostile_input_as_text(driver, site):
    reports, url = site
    rel = data.HOSTILE_KEY.removeprefix("input/")
    report = reports[rel]
    chromium.open_at(driver, url(f"insights/{rel}.html"), chromium.WIDTHS["laptop"])
    assert driver.title == f"Sentiment of {rel}"
    assert len(_charts(driver)) == 2
    labels = {row[0]: int(row[1]) for row in _table(driver, "Rows per label")}
    assert labels == report["labels"]
    bins = [int(row[2]) for row in _table(driver, "Scored rows per compound bin")]
    assert bins == report["compound_histogram"]["counts"]
    for caption, side in (("Most positive rows", "most_positive"),
                          ("Most negative rows", "most_negative")):  # fmt: skip
        shown = [(int(r[0]), int(r[1]), float(r[2]), r[3]) for r in _table(driver, caption)]
        sign = 1 if side == "most_positive" else -1
        expected = [(x["row"], x["line"], round(x["compound"], 4), x["text"])
                    for x in report["extremes"][side] if sign * x["compound"] > 0]  # fmt: skip
        assert shown == expected
    body = driver.execute_script("return document.body.textContent")
    assert data.TEXT_COLUMN in body and data.IMG in body and data.SCRIPT in body
    _common_checks(driver, "page")


def test_index_lists_every_file_with_its_numbers_and_the_trend(driver, site, harness):
    reports, url = site
    chromium.open_at(driver, url(publish.INDEX_KEY), chromium.WIDTHS["laptop"])
    assert driver.title == "Sentiment insights: every scored file"
    state = json.loads(harness.output(publish.STATE_KEY))
    rows = _table(driver, "Latest scored files, newest first")
    assert [r[0] for r in rows] == [e["rel"] for e in reversed(state["latest"])]
    assert {r[0]: int(r[2]) for r in rows} == {k: v["rows"]["total"] for k, v in reports.items()}
    (day,) = _table(driver, "Files, rows and mean compound per day")
    assert int(day[1]) == 3 and int(day[2]) == sum(r["rows"]["total"] for r in reports.values())
    [trend] = _charts(driver)
    assert trend["id"] == "trend"
    hrefs = driver.execute_script("return [...document.links].map(a => a.getAttribute('href'))")
    assert (
        "%3Cimg%20src%3Dx%20onerror%3D%22window.__pwned%20%3D%202%22%3E%20%26%20%3Cb%3Eq%3C/b%3E.csv.html"
        in hrefs
    )
    _common_checks(driver, "index")
