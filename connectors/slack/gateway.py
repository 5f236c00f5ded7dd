"""The one module that imports slack-sdk: Web API calls under the shared retry and budget policy.

slack-sdk's own retry handlers are removed (``retry_handlers=[]``): its RateLimitErrorRetryHandler
parses Retry-After with ``int()`` and crashes on ``0.5``, and sleeps in-thread where a stop
request cannot end the wait. Instead every call draws from a per-method token bucket sized to the
method's rate tier, goes through ``GatewayRetryPolicy``, and its failures are mapped here:

- ``invalid_auth``, ``not_authed``, ``token_revoked``, ``token_expired``, ``account_inactive``,
  ``missing_scope``, ``no_permission``: ``SourceUnavailableError`` (the run stops, nothing
  advances);
- ``ratelimited`` / HTTP 429, 5xx, ``fatal_error``, ``internal_error``, ``request_timeout``,
  timeouts and broken connections: ``RetryableError`` (with Retry-After when sent);
- ``channel_not_found``: ``ChannelGone``; ``thread_not_found``: ``ThreadGone`` (the connector
  deletes what it indexed of them);
- anything else: ``SlackRequestFailed`` with the code; the connector decides whether that fails
  one document or one channel.

Files are downloaded from their ``url_private`` with the bot token as a Bearer header (files:read),
under the same policy and the ``files.download`` budget. The token goes only to Slack's file host
or the configured API host: a URL elsewhere is refused before any byte is sent.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable, Hashable, Iterator
from typing import Any
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from connectors.errors import ConnectorError, RetryableError, SourceUnavailableError
from connectors.gateway import (
    Budget,
    BudgetsPerKey,
    GatewayRetryPolicy,
    NotFound,
    RequestRejected,
    TokenBucket,
    error_for_status,
    error_for_transport,
    retry_after_from_headers,
)

# docs.slack.dev/reference/methods/<method> "Rate limits"; auth.test is "special" (generous).
METHOD_TIERS: dict[str, int] = {
    "auth.test": 4,
    "team.info": 3,
    "conversations.list": 2,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.members": 4,
    "conversations.info": 3,
    "users.list": 2,
    "users.info": 4,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    # File downloads are not Web API methods; Slack documents no tier, so a Tier 4 pace.
    "files.download": 4,
}
TIER_PER_MINUTE: dict[int, float] = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}

AUTH_FAILURES = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "token_revoked",
        "token_expired",
        "account_inactive",
        "missing_scope",
        "no_permission",
        "org_login_required",
    }
)
TRANSIENT_FAILURES = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "request_timeout", "service_unavailable"}
)


class SlackRequestFailed(ConnectorError):
    """Slack answered ``ok: false`` with a code that is neither auth, rate limit nor not-found."""

    def __init__(self, method: str, code: str) -> None:
        super().__init__(f"{method}: {code}")
        self.method = method
        self.code = code


class ChannelGone(SlackRequestFailed):
    """``channel_not_found``: deleted, or a private conversation the bot was removed from."""


class FileGone(ConnectorError):
    """The file's URL answered 404: the file was deleted."""


class FileTooLarge(ConnectorError):
    """The download passed the byte limit; nothing more was read."""


class ThreadGone(SlackRequestFailed):
    """``thread_not_found``: the thread's parent was deleted."""


def tier_budgets(clock: Callable[[], float] | None = None) -> BudgetsPerKey:
    """A token bucket per method, refilled at its tier's rate, a minute's worth saved up."""

    def make(method: Hashable) -> Budget:
        per_minute = TIER_PER_MINUTE[METHOD_TIERS.get(str(method), 2)]
        if clock is None:
            return TokenBucket(per_minute / 60.0, per_minute)
        return TokenBucket(per_minute / 60.0, per_minute, clock=clock)

    return BudgetsPerKey(make)


Page = dict[str, Any]


class SlackGateway:
    """Web API calls of one bot token; pages are fetched one call (and one retry budget) each."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://slack.com/api/",
        policy: GatewayRetryPolicy | None = None,
        budgets: BudgetsPerKey | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.policy = policy or GatewayRetryPolicy()
        self._budgets = budgets or tier_budgets()
        self._token = token
        self._timeout = timeout
        api = urlsplit(base_url)
        self._file_hosts = frozenset({"files.slack.com", api.hostname or ""} - {""})
        self._plain_http_host = api.hostname if api.scheme == "http" else None
        # No SDK retries: the policy above is the only layer that retries.
        self._client = WebClient(
            token=token, base_url=base_url, timeout=int(timeout), retry_handlers=[]
        )

    def call(self, method: str, **params: Any) -> Page:
        return self.policy.call(self._attempt, method, params)

    def pages(self, method: str, key: str, **params: Any) -> Iterator[list[Any]]:
        """Each page's ``key`` list, following ``response_metadata.next_cursor`` to the end."""
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            page = self.call(method, **params, **({"cursor": cursor} if cursor else {}))
            yield list(page.get(key) or [])
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return
            if cursor in seen:
                # A server that hands back a cursor it already gave would loop forever; a
                # listing that cannot finish is incomplete, not complete.
                raise RetryableError(f"{method}: cursor repeated")
            seen.add(cursor)

    def download(self, url: str, max_bytes: int) -> bytes:
        """A file's bytes from its ``url_private``; FileGone on 404, FileTooLarge past the limit."""
        parts = urlsplit(url)
        secure = parts.scheme == "https" or (
            parts.scheme == "http" and parts.hostname == self._plain_http_host
        )
        if not secure or parts.hostname not in self._file_hosts:
            # The bearer token must never reach a host that is not Slack's.
            raise RequestRejected(
                f"files.download: refused to send the token to {parts.hostname}", 0
            )
        return self.policy.call(self._download, url, max_bytes)

    def _download(self, url: str, max_bytes: int) -> bytes:
        self._budgets.acquire("files.download")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self._token}"})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                data: bytes = response.read(max_bytes + 1)
        except urllib.error.HTTPError as exc:
            headers = {k: v for k, v in exc.headers.items()} if exc.headers else {}
            outcome = error_for_status(exc.code, headers, what="files.download")
            if isinstance(outcome, NotFound):
                raise FileGone("files.download: HTTP 404") from exc
            if isinstance(outcome, SourceUnavailableError):
                # A 401/403 on one file is that file's answer (its sharing changed, a
                # retention policy); a revoked token fails the next Web API call instead.
                raise RequestRejected(f"files.download: HTTP {exc.code}", exc.code) from exc
            if isinstance(outcome, ConnectorError):
                raise outcome from exc
            raise RetryableError(f"files.download: HTTP {exc.code}") from exc
        except Exception as exc:
            transport = error_for_transport(exc, what="files.download")
            if transport is not None:
                raise transport from exc
            raise
        if len(data) > max_bytes:
            raise FileTooLarge(f"over the {max_bytes}-byte limit")
        return data

    def _attempt(self, method: str, params: dict[str, Any]) -> Page:
        self._budgets.acquire(method)
        sdk_method = getattr(self._client, method.replace(".", "_"))
        try:
            response = sdk_method(**params)
        except SlackApiError as exc:
            raise _mapped(method, exc) from exc
        except json.JSONDecodeError as exc:
            raise RetryableError(f"{method}: answer is not JSON ({exc})") from exc
        except Exception as exc:
            transport = error_for_transport(exc, what=method)
            if transport is not None:
                raise transport from exc
            raise
        data = response.data
        if not isinstance(data, dict):
            raise RetryableError(f"{method}: answer is not a JSON object")
        return data


# slack-sdk turns a body it cannot decode (cut short in transit, a proxy's page) into
# {"ok": false, "error": "<this prefix>: <body>"} and raises SlackApiError: asked again.
_UNDECODABLE = "Received a response in a non-JSON format"


def _mapped(method: str, exc: SlackApiError) -> ConnectorError:
    response = exc.response
    status = int(getattr(response, "status_code", 200) or 200)
    headers = {k: (v[0] if isinstance(v, list) and v else v) for k, v in response.headers.items()}
    data = response.data if isinstance(response.data, dict) else {}
    code = str(data.get("error") or "")
    if status == 429 or code == "ratelimited":
        return RetryableError(f"{method}: rate limited", retry_after_from_headers(headers))
    if status >= 400:
        outcome = error_for_status(status, headers, what=method)
        if isinstance(outcome, ConnectorError):
            return outcome
        return RetryableError(f"{method}: HTTP {status}")
    if code in AUTH_FAILURES:
        return SourceUnavailableError(f"{method}: {code}, the bot token was refused")
    if code in TRANSIENT_FAILURES or code.startswith(_UNDECODABLE):
        return RetryableError(f"{method}: {code[:120]}", retry_after_from_headers(headers))
    if code == "channel_not_found":
        return ChannelGone(method, code)
    if code == "thread_not_found":
        return ThreadGone(method, code)
    return SlackRequestFailed(method, code or "unknown error")
