"""The console in a real browser: Debian's chromium driven by chromium-driver through selenium,
against a real uvicorn server (port 0) over an embedded index with a synced folder source.

Each page also passes an accessibility check run in the page (``A11Y_CHECK``): ``lang`` and a
title, one ``h1`` and no skipped heading level, a label for every form control, alt text on
images, text on every link and button, a caption and header cells on every table, unique ids,
and the WCAG AA contrast ratio (4.5:1, 3:1 for large text) of every visible text node against
the first opaque background behind it, from computed styles. It does not cover what needs a
person or a full engine such as axe-core: reading order, meaningful link and label wording,
focus order and visibility, ARIA semantics beyond labels, colours over images or translucent
layers, zoom and reflow. Failing tests leave a screenshot whose path is in the failure report.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import Deployment, chromium_paths
from tests.retrieval.service.conftest import running_server

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.skipif(
    chromium_paths() is None,
    reason="chromium and chromedriver are not installed (tests/browser/install-chromium)",
)

A11Y_CHECK = r"""
const problems = [];
const doc = document;
if (!doc.documentElement.lang) problems.push("html has no lang attribute");
if (!doc.title.trim()) problems.push("the page has no title");
const h1s = doc.querySelectorAll("h1");
if (h1s.length !== 1) problems.push(h1s.length + " h1 elements");
let previous = 0;
for (const h of doc.querySelectorAll("h1,h2,h3,h4,h5,h6")) {
  const level = Number(h.tagName[1]);
  if (previous && level > previous + 1) problems.push(h.tagName + " after h" + previous);
  previous = level;
}
for (const el of doc.querySelectorAll("input,select,textarea")) {
  if (el.type === "hidden") continue;
  const named = (el.labels && el.labels.length && el.labels[0].textContent.trim())
    || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
  if (!named) problems.push("form control without a label: " + (el.name || el.id));
}
for (const img of doc.querySelectorAll("img")) {
  if (!img.hasAttribute("alt")) problems.push("image without alt: " + img.src);
}
for (const el of doc.querySelectorAll("a,button")) {
  if (!el.textContent.trim() && !el.getAttribute("aria-label")) {
    problems.push(el.tagName + " without text");
  }
}
for (const t of doc.querySelectorAll("table")) {
  if (!t.querySelector("caption")) problems.push("table without caption");
  if (!t.querySelector("th")) problems.push("table without header cells");
}
const ids = new Set();
for (const el of doc.querySelectorAll("[id]")) {
  if (ids.has(el.id)) problems.push("duplicate id " + el.id);
  ids.add(el.id);
}
function rgba(text) {
  const m = text.match(/rgba?\(([^)]+)\)/);
  if (!m) return null;
  const p = m[1].split(",").map(Number);
  return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
}
function luminance(c) {
  const f = (v) => {
    v /= 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  };
  return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
}
function background(el) {
  for (let e = el; e; e = e.parentElement) {
    const c = rgba(getComputedStyle(e).backgroundColor);
    if (c && c.a === 1) return c;
    if (c && c.a > 0) return null;  // translucent: not judged here
  }
  return {r: 255, g: 255, b: 255, a: 1};
}
let checked = 0;
const walker = doc.createTreeWalker(doc.body, NodeFilter.SHOW_TEXT);
const seen = new Set();
while (walker.nextNode()) {
  const node = walker.currentNode;
  const el = node.parentElement;
  if (!node.textContent.trim() || seen.has(el)) continue;
  seen.add(el);
  const box = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  if (box.width === 0 || box.height === 0 || style.visibility === "hidden") continue;
  const fg = rgba(style.color), bg = background(el);
  if (!fg || !bg) { problems.push("colour not judged: " + el.tagName); continue; }
  const [hi, lo] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
  const ratio = (hi + 0.05) / (lo + 0.05);
  const size = parseFloat(style.fontSize);
  const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
  const needed = large ? 3 : 4.5;
  checked += 1;
  if (ratio < needed) {
    problems.push("contrast " + ratio.toFixed(2) + " < " + needed + ": " + el.tagName
      + " '" + node.textContent.trim().slice(0, 40) + "'");
  }
}
if (checked === 0) problems.push("no text was checked for contrast");
return problems;
"""


@pytest.fixture(scope="module")
def console_url(deployment: Deployment) -> Iterator[str]:
    with running_server(deployment.opened.app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    assert paths is not None
    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for argument in ("--headless=new", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1280,1000")
    if os.geteuid() == 0:
        # Chromium's sandbox refuses to run as root (containers, CI).
        options.add_argument("--no-sandbox")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=paths[1]))
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def accessible(browser: WebDriver) -> list[str]:
    problems: list[str] = browser.execute_script(A11Y_CHECK)
    return problems


def _old_page_gone(driver: WebDriver) -> bool:
    """True once the page marked by ``clicked_to_next_page`` is replaced and loaded.

    A window property dies with its document, so this never touches an element of the old page:
    chromedriver answers a query on a node of a document being torn down with "unknown error:
    Node with given id does not belong to the document" instead of a stale-element error, which
    made ``staleness_of`` fail a test now and then."""
    from selenium.common.exceptions import WebDriverException

    try:
        arrived: bool = driver.execute_script(
            "return !window.__permindexOldPage && document.readyState === 'complete'"
        )
    except WebDriverException:  # the script ran while the old context was being destroyed
        return False
    return arrived


def clicked_to_next_page(browser: WebDriver, by: str, target: str) -> None:
    """Clicks and waits for the next page: a click may return before navigation starts."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.execute_script("window.__permindexOldPage = true")
    browser.find_element(by, target).click()
    WebDriverWait(browser, 15).until(_old_page_gone)


def submit(browser: WebDriver, selector: str = "main button[type=submit]") -> None:
    from selenium.webdriver.common.by import By

    clicked_to_next_page(browser, By.CSS_SELECTOR, selector)


def follow(browser: WebDriver, link_text: str) -> None:
    from selenium.webdriver.common.by import By

    clicked_to_next_page(browser, By.LINK_TEXT, link_text)


def log_in(browser: WebDriver, console_url: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    d.delete_all_cookies()
    d.get(f"{console_url}/console/")
    assert d.current_url.endswith("/console/login")
    assert accessible(d) == []
    d.find_element(By.ID, "api_key").send_keys(key)
    submit(d)
    assert d.current_url == f"{console_url}/console/"


def test_login_then_sources_show_status_lag_and_last_error(
    browser: WebDriver, console_url: str, deployment: Deployment, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    log_in(d, console_url, deployment.admin_key)
    assert d.find_element(By.TAG_NAME, "h1").text == "Sources"
    cookies = {c["name"]: c for c in d.get_cookies()}
    session = cookies["pmx_console"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert deployment.admin_key not in session["value"]
    assert deployment.admin_key not in d.current_url

    rows = {
        row.find_elements(By.TAG_NAME, "td")[0].text.split()[0]: row.text
        for row in d.find_elements(By.CSS_SELECTOR, "table:first-of-type tbody tr")
    }
    assert "incremental succeeded" in rows["docs"]
    assert "incremental failed" in rows["broken"]
    assert "never succeeded" in rows["broken"]
    scopes = d.find_elements(By.CSS_SELECTOR, "table:nth-of-type(2) tbody tr")
    broken = next(row.text for row in scopes if row.text.startswith("broken"))
    assert "missing-folder is not a folder" in broken
    assert accessible(d) == []


def test_run_history_of_one_source(
    browser: WebDriver, console_url: str, deployment: Deployment, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    log_in(d, console_url, deployment.admin_key)
    follow(d, "Runs")
    Select(d.find_element(By.ID, "source")).select_by_visible_text("docs")
    submit(d)
    assert d.current_url.endswith("/console/runs?source=docs")
    rows = [r.text for r in d.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert len(rows) == 2
    assert "incremental" in rows[0] and "groups" in rows[1]
    assert all("succeeded" in row for row in rows)
    assert accessible(d) == []


def test_explain_form_answers_with_the_verdict(
    browser: WebDriver, console_url: str, deployment: Deployment, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    log_in(d, console_url, deployment.admin_key)
    follow(d, "Access explainer")
    assert accessible(d) == []

    def ask(user: str, doc_id: str) -> str:
        for field, value in (("user", user), ("doc_id", doc_id)):
            box = d.find_element(By.ID, field)
            box.clear()
            box.send_keys(value)
        submit(d)
        text: str = d.find_element(By.ID, "verdict").text
        return text

    hana = ask("hana@acme.com", "docs:hr/salaries.md")
    assert hana.startswith("Visible: hana@acme.com holds group:docs:hr")
    layers = d.find_element(By.XPATH, "//table[caption[starts-with(., 'ACL layers')]]")
    assert "hr/.permindex-acl.yaml" in layers.text
    assert accessible(d) == []

    omar = ask("omar@acme.com", "docs:hr/salaries.md")
    assert omar.startswith("Not visible")
    assert "admitted nobody of theirs" in d.find_element(By.ID, "main").text
    assert accessible(d) == []


def test_the_accessibility_check_finds_what_it_claims_to(browser: WebDriver) -> None:
    bad = (
        "<html><head><title>bad</title></head><body style='background:#ffffff'>"
        "<h1>one</h1><h3>skipped a level</h3>"
        "<p style='color:#aaaaaa'>pale grey on white</p>"
        "<input name='unlabelled'><img src='x.png'><button></button>"
        "<table><tr><td>no caption, no header</td></tr></table>"
        "</body></html>"
    )
    browser.get("data:text/html;charset=utf-8," + urllib.parse.quote(bad))
    problems = accessible(browser)
    assert "html has no lang attribute" in problems
    assert "H3 after h1" in problems
    assert "form control without a label: unlabelled" in problems
    assert any(p.startswith("image without alt") for p in problems)
    assert "BUTTON without text" in problems
    assert "table without caption" in problems and "table without header cells" in problems
    assert any(p.startswith("contrast 2.32 < 4.5: P") for p in problems)
