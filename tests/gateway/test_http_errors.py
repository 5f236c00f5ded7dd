from __future__ import annotations

import urllib.error

import httpx
import pytest

from connectors.errors import RetryableError, SourceUnavailableError
from connectors.gateway.http_errors import (
    NotFound,
    RequestRejected,
    error_for_status,
    error_for_transport,
    raise_for_status,
)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 408])
def test_transient_statuses_are_retryable_with_the_parsed_retry_after(status: int) -> None:
    error = error_for_status(status, {"Retry-After": "7"}, what="conversations.history")
    assert isinstance(error, RetryableError)
    assert error.retry_after == 7.0
    assert "conversations.history" in str(error)


def test_retry_after_is_capped_and_absent_when_missing() -> None:
    capped = error_for_status(429, {"retry-after": "99999"}, max_retry_after_s=60.0)
    assert isinstance(capped, RetryableError)
    assert capped.retry_after == 60.0
    bare = error_for_status(503)
    assert isinstance(bare, RetryableError)
    assert bare.retry_after is None


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusals_stop_the_run(status: int) -> None:
    assert isinstance(error_for_status(status), SourceUnavailableError)


def test_forbidden_as_rate_limit_is_retried() -> None:
    # Drive: 403 userRateLimitExceeded, and no Retry-After.
    error = error_for_status(403, {}, forbidden_is_rate_limit=True)
    assert isinstance(error, RetryableError)
    assert error.retry_after is None


def test_not_found_is_left_to_the_caller() -> None:
    assert error_for_status(404, what="page 42") == NotFound("page 42")
    assert raise_for_status(404, what="page 42") == NotFound("page 42")


@pytest.mark.parametrize("status", [400, 405, 409, 410, 422])
def test_other_client_errors_are_rejected_requests(status: int) -> None:
    error = error_for_status(status)
    assert isinstance(error, RequestRejected)
    assert error.status == status
    with pytest.raises(RequestRejected):
        raise_for_status(status)


@pytest.mark.parametrize("status", [200, 204, 304])
def test_success_is_nothing(status: int) -> None:
    assert error_for_status(status) is None
    assert raise_for_status(status) is None


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        TimeoutError("read timed out"),
        ConnectionResetError("reset"),
        urllib.error.URLError(TimeoutError("timed out")),
    ],
)
def test_timeouts_and_broken_connections_are_retryable(exc: BaseException) -> None:
    assert isinstance(error_for_transport(exc), RetryableError)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bug"),
        urllib.error.HTTPError("http://127.0.0.1/", 400, "bad", {}, None),  # type: ignore[arg-type]
    ],
)
def test_other_exceptions_are_not_transport_failures(exc: BaseException) -> None:
    assert error_for_transport(exc) is None
