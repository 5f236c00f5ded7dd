"""The console's operator actions in a real browser (Debian's chromium through selenium, against
a real uvicorn server): pause then resume a source, preview a prune, delete a source after
typing its id and see its documents gone. Each page passes the accessibility check of
``test_console``; a failing test leaves a screenshot whose path is in the failure report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser import test_console as base
from tests.browser.actions_deployment import actions_deployment
from tests.browser.conftest import Deployment, chromium_paths
from tests.browser.test_console import accessible, clicked_to_next_page, follow, log_in, submit

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = pytest.mark.skipif(
    chromium_paths() is None,
    reason="chromium and chromedriver are not installed (tests/browser/install-chromium)",
)


# The browser and the server of test_console, over this module's deployment.
browser = base.browser
console_url = base.console_url


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    yield from actions_deployment(tmp_path_factory.mktemp("console-actions"))


def _text(d: WebDriver, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    text: str = d.find_element(By.ID, element_id).text
    return text


def open_source(d: WebDriver, console_url: str, source: str) -> None:
    from selenium.webdriver.common.by import By

    d.get(f"{console_url}/console/")
    clicked_to_next_page(d, By.CSS_SELECTOR, f'a[href="/console/sources/{source}"]')
    assert d.find_element(By.TAG_NAME, "h1").text == f"Source {source}"
    assert accessible(d) == []


def test_pause_then_resume_a_source(
    browser: WebDriver, console_url: str, deployment: Deployment, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    log_in(d, console_url, deployment.admin_key)
    open_source(d, console_url, "docs")
    assert _text(d, "source-state") == "active"
    d.find_element(By.ID, "reason").send_keys("vendor maintenance")
    submit(d, "#pause")
    assert _text(d, "outcome") == "Paused docs."
    assert _text(d, "source-state") == "paused"
    assert accessible(d) == []
    history = d.find_element(By.XPATH, "//table[caption='Operator actions']").text
    assert "pause api key console-admin" in history and "vendor maintenance" in history

    d.get(f"{console_url}/console/")
    docs_row = d.find_element(By.XPATH, "//table[1]//tr[td[1][starts-with(., 'docs')]]").text
    assert "vendor maintenance" in docs_row

    open_source(d, console_url, "docs")
    submit(d, "#resume")
    assert _text(d, "outcome") == "Resumed docs."
    assert _text(d, "source-state") == "active"
    assert accessible(d) == []


def test_preview_a_prune(
    browser: WebDriver, console_url: str, deployment: Deployment, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    log_in(d, console_url, deployment.admin_key)
    open_source(d, console_url, "wiki")
    submit(d, "#prune-preview")
    assert "1 no longer listed by the source" in _text(d, "preview-summary")
    table = d.find_element(By.XPATH, "//table[caption[starts-with(., 'Would be deleted')]]")
    rows = [r.text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert len(rows) == 1
    assert "wiki:old <b>page</b>.md" in rows[0]  # escaped markup shows as text
    assert "the source's listing no longer names it" in rows[0]
    assert _text(d, "source-documents") == "2"  # a preview deletes nothing
    assert accessible(d) == []


def test_delete_a_source_after_typing_its_id(
    browser: WebDriver, console_url: str, deployment: Deployment, screenshots: Path
) -> None:
    from selenium.webdriver.common.by import By

    d = browser
    log_in(d, console_url, deployment.admin_key)
    open_source(d, console_url, "scratch")
    assert _text(d, "source-documents") == "2"
    d.find_element(By.ID, "confirm").send_keys("scratc")
    submit(d, "#delete")
    assert _text(d, "outcome").startswith("Not deleted")
    assert _text(d, "source-documents") == "2"

    d.find_element(By.ID, "confirm").send_keys("scratch")
    submit(d, "#delete")
    assert _text(d, "outcome").startswith("Deleted scratch: 2 documents")
    assert _text(d, "source-documents") == "0"
    assert _text(d, "source-state") == "paused"
    assert accessible(d) == []

    # Gone for a reader: the explainer finds the document no longer indexed.
    follow(d, "Access explainer")
    for field, value in (("user", "omar@acme.com"), ("doc_id", "scratch:notes.md")):
        d.find_element(By.ID, field).send_keys(value)
    submit(d)
    assert _text(d, "verdict").startswith("Not indexed")
    assert accessible(d) == []
