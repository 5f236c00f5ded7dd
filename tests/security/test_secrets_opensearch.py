"""The OpenSearch password never reaches a log record (the client's and urllib3's DEBUG logs
included), an exception, a settings dump or an HTTP answer: with the node down, and with the
real node answering requests that carry the password."""

from __future__ import annotations

import base64
import logging
import traceback
import uuid

import pytest

from indexer.backend import IndexUnavailableError
from indexer.settings import OpenSearchSettings
from tests.conftest import delete_opensearch_indices
from tests.security.serve import free_port

PASSWORD = "Os-pa55w0rd-never-to-be-written"
USERNAME = "permindex-writer"


def _forms() -> list[str]:
    # urllib3 sends basic auth as base64: a header printed at DEBUG would show this form.
    basic = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    return [PASSWORD, basic]


def _chain(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )


def test_the_password_stays_out_of_errors_and_logs_when_the_node_is_down(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from indexer.backends.opensearch import open_opensearch

    settings = OpenSearchSettings(
        url=f"http://127.0.0.1:{free_port()}",
        index_prefix=f"pt{uuid.uuid4().hex[:12]}",
        username=USERNAME,
        password=PASSWORD,
        timeout_s=2.0,
    )
    caplog.set_level(logging.DEBUG)
    stores = open_opensearch(settings, 8)  # a node that is down does not fail the open
    try:
        with pytest.raises(IndexUnavailableError) as raised:
            stores.index.stats()
    finally:
        stores.close()
    assert "unavailable" in caplog.text, "the outage was not logged"
    written = [_chain(raised.value), _logged(caplog), repr(settings), settings.model_dump_json()]
    for form in _forms():
        assert not [text for text in written if form in text], "the password was written"


@pytest.mark.opensearch
def test_the_password_stays_out_of_debug_logs_of_a_working_node(
    opensearch_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The local test node does not check credentials, but the client still sends them on
    every request: a DEBUG log of requests or headers would show them here."""
    from indexer.backends.opensearch import open_opensearch

    prefix = f"pt{uuid.uuid4().hex[:12]}"
    settings = OpenSearchSettings(
        url=opensearch_url,
        index_prefix=prefix,
        username=USERNAME,
        password=PASSWORD,
    )
    caplog.set_level(logging.DEBUG)
    stores = open_opensearch(settings, 8)
    try:
        stores.index.stats()
    finally:
        stores.close()
        delete_opensearch_indices(opensearch_url, prefix)
    logged = _logged(caplog)
    assert "opensearch" in logged or "urllib3" in logged, "no client log was captured"
    for form in _forms():
        assert form not in logged, "the password was logged"
