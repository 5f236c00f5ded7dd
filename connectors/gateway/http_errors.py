"""HTTP statuses and transport failures, mapped to what the runner must do about them.

Every gateway maps through here so that the same status means the same thing for every source:
retry (``RetryableError``), stop the run (``SourceUnavailableError``), give up on one request
(``RequestRejected``), or let the caller decide (``NotFound``: a deleted document, or one this
credential may no longer see, which a permission-exact connector must treat apart).
"""

from __future__ import annotations

import time
import urllib.error
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import httpx

from connectors.errors import ConnectorError, RetryableError, SourceUnavailableError
from connectors.gateway.retry_after import DEFAULT_MAX_RETRY_AFTER_S, retry_after_from_headers

# Drive signals quota exhaustion as 403 with one of these reasons (errors[0].reason), and sends
# no Retry-After (https://developers.google.com/drive/api/guides/limits).
DRIVE_RATE_LIMIT_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})

# 408 is the server giving up on a slow request; 425 asks for a replay. Both are transient.
_RETRYABLE_4XX = frozenset({408, 425, 429})


class RequestRejected(ConnectorError):
    """The source refused this one request (a 4xx other than auth, rate limit and not found).

    Retrying the same request cannot succeed; whether the run goes on is the connector's call.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class NotFound:
    """A 404: the resource is gone or invisible to this credential; the caller decides."""

    what: str


def error_for_status(
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    what: str = "request",
    forbidden_is_rate_limit: bool = False,
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    wall_clock: Callable[[], float] = time.time,
) -> ConnectorError | NotFound | None:
    """The failure a response status stands for; None for success (1xx-3xx).

    ``forbidden_is_rate_limit``: the caller read the body and found a quota reason (Drive's
    ``userRateLimitExceeded``); a 403 is then retried instead of stopping the run.
    """
    if status < 400:
        return None
    retry_after = retry_after_from_headers(headers, max_s=max_retry_after_s, wall_clock=wall_clock)
    if status in _RETRYABLE_4XX or (status == 403 and forbidden_is_rate_limit):
        return RetryableError(f"{what}: HTTP {status}", retry_after=retry_after)
    if status in (401, 403):
        # A credential revoked or stripped of a scope mid-run: nothing after it can be trusted
        # to be complete, so the run stops without advancing its checkpoint.
        return SourceUnavailableError(f"{what}: HTTP {status}, credential refused")
    if status == 404:
        return NotFound(what)
    if status < 500:
        return RequestRejected(f"{what}: HTTP {status}", status)
    return RetryableError(f"{what}: HTTP {status}", retry_after=retry_after)


def raise_for_status(
    status: int,
    headers: Mapping[str, str] | None = None,
    *,
    what: str = "request",
    forbidden_is_rate_limit: bool = False,
    max_retry_after_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    wall_clock: Callable[[], float] = time.time,
) -> NotFound | None:
    """Raise the failure ``error_for_status`` finds; return ``NotFound`` or None otherwise."""
    outcome = error_for_status(
        status,
        headers,
        what=what,
        forbidden_is_rate_limit=forbidden_is_rate_limit,
        max_retry_after_s=max_retry_after_s,
        wall_clock=wall_clock,
    )
    if isinstance(outcome, ConnectorError):
        raise outcome
    return outcome


def is_transport_failure(exc: BaseException) -> bool:
    """A timeout or a broken connection: the request may not have reached the server."""
    if isinstance(exc, httpx.TimeoutException | httpx.NetworkError | httpx.RemoteProtocolError):
        return True
    if isinstance(exc, urllib.error.HTTPError):
        # An HTTPError is a response with a status, not a transport failure.
        return False
    if isinstance(exc, urllib.error.URLError):
        return True
    return isinstance(exc, TimeoutError | ConnectionError)


def error_for_transport(exc: BaseException, *, what: str = "request") -> RetryableError | None:
    """``RetryableError`` for a timeout or connection failure (from httpx, urllib or sockets)."""
    if not is_transport_failure(exc):
        return None
    return RetryableError(f"{what}: {type(exc).__name__}: {exc}")
