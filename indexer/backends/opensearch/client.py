"""The OpenSearch client and the one place where requests are retried.

Every request of the backend goes through ``Gateway.call``: connection errors, timeouts, 429 and
5xx answers are retried with exponential backoff; when the attempts run out the failure becomes
``IndexUnavailableError`` (a systemic failure that stops a sync run). Other errors (4xx) are
raised as they are, because retrying a bad request cannot help.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    ConnectionError as OSConnectionError,
)
from opensearchpy.exceptions import (
    ConnectionTimeout,
    TransportError,
)
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from indexer.backend import IndexUnavailableError
from indexer.settings import OpenSearchSettings

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class RetryableBulkError(Exception):
    """A bulk answer whose items were rejected for load or server reasons: resend the request."""


def is_retryable(exc: BaseException) -> bool:
    if isinstance(exc, OSConnectionError | ConnectionTimeout | RetryableBulkError):
        return True
    if isinstance(exc, TransportError):
        return isinstance(exc.status_code, int) and exc.status_code in RETRYABLE_STATUS
    return False


def make_client(settings: OpenSearchSettings) -> OpenSearch:
    password = settings.password.get_secret_value() if settings.password else ""
    auth = (settings.username, password) if settings.username else None
    return OpenSearch(
        hosts=[settings.url],
        http_auth=auth,
        verify_certs=settings.verify_certs,
        timeout=settings.timeout_s,
        # Retries happen in Gateway.call only, so attempts and backoff are decided in one place.
        max_retries=0,
        retry_on_timeout=False,
        http_compress=settings.http_compress,
    )


class Gateway:
    """The client plus the retry policy; ``call`` is the only way the backend talks to the node."""

    def __init__(
        self,
        client: OpenSearch,
        attempts: int = 5,
        max_wait_s: float = 10.0,
    ) -> None:
        self.client = client
        self._attempts = attempts
        self._max_wait_s = max_wait_s

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        retrying = Retrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential(multiplier=0.25, max=self._max_wait_s),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        try:
            return retrying(fn, *args, **kwargs)
        except Exception as exc:
            if is_retryable(exc):
                raise IndexUnavailableError(f"OpenSearch request failed: {exc}") from exc
            raise

    def close(self) -> None:
        self.client.close()
