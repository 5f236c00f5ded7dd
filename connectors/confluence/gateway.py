"""The one way to Confluence Cloud: atlassian-python-api 5.0.5 as the HTTP client, raw REST paths.

Only this module imports ``atlassian``. The SDK's own retries are off (``retry_with_header``
sleeps up to 30 minutes on one 429; ``backoff_and_retry`` can retry for hours) and it answers in
advanced mode, so every status reaches ``connectors.gateway``'s mapping and retry policy.

Every call is a raw path, because the 5.x Cloud client is wrong or silent where permissions are
concerned (shared/briefs/saas-apis.md section 4): its ``cql()`` requests ``/wiki/content/search``
(``rest/api`` missing), it lacks restrictions and ancestors, and ``ConfluenceV2`` reads the
global ``/space-permissions`` instead of one space's. Its paging helpers loop internally, where a
connector needs one results page at a time to checkpoint between them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import requests
from atlassian import Confluence

from connectors.errors import ConnectorError, RetryableError
from connectors.gateway import (
    GatewayRetryPolicy,
    NotFound,
    RequestRejected,
    TokenBucket,
    error_for_status,
)

V1 = "wiki/rest/api"
V2 = "wiki/api/v2"


@dataclass(frozen=True)
class Refused:
    """A read the site refused with 403 or 404: for a permission layer, an unreadable one."""

    status: int
    what: str

    def __str__(self) -> str:
        return f"{self.what}: HTTP {self.status}"


@dataclass(frozen=True)
class Restriction:
    """The read restriction of one content node: who it names (empty lists: no restriction)."""

    account_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    # Groups named without an id (older content): they cannot be keyed, so they admit nobody.
    unkeyed_groups: int = 0

    @property
    def empty(self) -> bool:
        return not self.account_ids and not self.group_ids and not self.unkeyed_groups


@dataclass(frozen=True)
class SearchPage:
    results: list[dict[str, Any]]
    next_url: str | None


class ConfluenceGateway:
    def __init__(
        self,
        base_url: str,
        *,
        email: str | None = None,
        api_token: str | None = None,
        bearer_token: str | None = None,
        policy: GatewayRetryPolicy | None = None,
        budget: TokenBucket | None = None,
        timeout_s: float = 30.0,
        page_size: int = 100,
        restriction_page_size: int = 100,
    ) -> None:
        self.site = base_url.rstrip("/")
        if self.site.endswith("/wiki"):
            self.site = self.site[: -len("/wiki")]
        self.policy = policy or GatewayRetryPolicy()
        self.budget = budget
        self.page_size = page_size
        # The restriction endpoint's default and documented page (users and groups each).
        self.restriction_page_size = restriction_page_size
        common: dict[str, Any] = {
            "cloud": True,
            "advanced_mode": True,
            "retry_with_header": False,
            "backoff_and_retry": False,
            "timeout": max(1, int(timeout_s)),
        }
        if bearer_token is not None:
            self._client = Confluence(self.site, token=bearer_token, **common)
        else:
            self._client = Confluence(self.site, username=email, password=api_token, **common)
        self._lock = threading.Lock()

    @property
    def stop(self) -> threading.Event:
        return self.policy.stop

    # -- one request ----------------------------------------------------------------------

    def get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        what: str,
        tolerate: tuple[int, ...] = (),
    ) -> dict[str, Any] | Refused:
        """GET ``path`` (relative to the site, or an absolute URL) through the retry policy."""
        return self.policy.call(self._get_once, path, dict(params or {}), what, tolerate)

    def _get_once(
        self, path: str, params: dict[str, Any], what: str, tolerate: tuple[int, ...]
    ) -> dict[str, Any] | Refused:
        if self.budget is not None:
            self.budget.acquire()
        absolute = path.startswith(("http://", "https://"))
        try:
            with self._lock:  # one requests.Session, not safe to share between threads
                response = self._client.get(
                    path, params=params or None, absolute=absolute, advanced_mode=True
                )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise RetryableError(f"{what}: {type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status in tolerate:
            return Refused(status, what)
        outcome = error_for_status(status, response.headers, what=what)
        if isinstance(outcome, NotFound):
            raise RequestRejected(f"{what}: HTTP 404", 404)
        if isinstance(outcome, ConnectorError):
            raise outcome
        try:
            body = response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            # A body cut short in transit: the same request can succeed.
            raise RetryableError(f"{what}: unreadable response body ({exc})") from exc
        if not isinstance(body, dict):
            raise RequestRejected(f"{what}: response is not a JSON object", status)
        return body

    def _must(self, answer: dict[str, Any] | Refused) -> dict[str, Any]:
        if isinstance(answer, Refused):
            raise RequestRejected(str(answer), answer.status)
        return answer

    def _next(self, body: Mapping[str, Any]) -> str | None:
        """The absolute URL of the next results page, from ``_links.next`` (v1 links are
        relative to the ``/wiki`` context, v2 links include it)."""
        links = body.get("_links") or {}
        following = links.get("next")
        if not isinstance(following, str) or not following:
            return None
        if following.startswith(("http://", "https://")):
            return following
        if following.startswith("/wiki/"):
            return self.site + following
        base = links.get("base")
        root = base.rstrip("/") if isinstance(base, str) and base else self.site + "/wiki"
        return root + following

    def _paged(
        self, path: str, params: Mapping[str, Any], *, what: str
    ) -> Iterator[dict[str, Any]]:
        """Every result of a cursor-paged v2 listing; raises on any page that fails."""
        url: str | None = path
        query: Mapping[str, Any] | None = params
        while url is not None:
            body = self._must(self.get(url, query, what=what))
            yield from body.get("results") or []
            url, query = self._next(body), None

    # -- what the connector asks ----------------------------------------------------------

    def current_user(self) -> dict[str, Any]:
        return self._must(self.get(f"{V1}/user/current", what="current user"))

    def spaces(self) -> Iterator[dict[str, Any]]:
        params = {"status": "current", "limit": 250}
        return self._paged(f"{V2}/spaces", params, what="spaces")

    def space_read_grants(self, space_id: str) -> list[tuple[str, str]] | Refused:
        """(principal type, id) of every read-the-space assignment; Refused when unreadable."""
        grants: list[tuple[str, str]] = []
        url: str | None = f"{V2}/spaces/{space_id}/permissions"
        query: Mapping[str, Any] | None = {"limit": 250}
        while url is not None:
            answer = self.get(url, query, what=f"space {space_id} permissions", tolerate=(403, 404))
            if isinstance(answer, Refused):
                return answer
            for item in answer.get("results") or []:
                operation = item.get("operation") or {}
                principal = item.get("principal") or {}
                if operation.get("key") == "read" and operation.get("targetType") == "space":
                    kind, ident = principal.get("type"), principal.get("id")
                    if isinstance(kind, str) and isinstance(ident, str) and ident:
                        grants.append((kind, ident))
            url, query = self._next(answer), None
        return grants

    def contents_in_space(self, space_id: str, content_type: str) -> Iterator[dict[str, Any]]:
        """Current pages or blog posts of a space (no bodies), every page of the listing."""
        collection = "pages" if content_type == "page" else "blogposts"
        params = {"status": "current", "limit": 250}
        return self._paged(
            f"{V2}/spaces/{space_id}/{collection}", params, what=f"space {space_id} {collection}"
        )

    def content(self, content_type: str, content_id: str) -> dict[str, Any] | Refused:
        collection = "pages" if content_type == "page" else "blogposts"
        params = {"body-format": "storage", "include-labels": "true"}
        return self.get(
            f"{V2}/{collection}/{content_id}",
            params,
            what=f"{content_type} {content_id}",
            tolerate=(403, 404),
        )

    def node_title(self, node_type: str, node_id: str) -> str | None:
        """The title of an ancestor (page or folder), for breadcrumbs; None when unknown."""
        collection = {"page": "pages", "folder": "folders"}.get(node_type)
        if collection is None:
            return None
        answer = self.get(
            f"{V2}/{collection}/{node_id}", what=f"{node_type} {node_id}", tolerate=(403, 404)
        )
        if isinstance(answer, Refused):
            return None
        title = answer.get("title")
        return title if isinstance(title, str) else None

    def ancestors(self, page_id: str) -> list[dict[str, Any]] | Refused:
        """Every ancestor, top to bottom. The endpoint truncates at ``limit``: when a full page
        comes back, the ancestors of the highest one are read the same way and put before it."""
        limit = 250
        found: list[dict[str, Any]] = []
        below = page_id
        while True:
            answer = self.get(
                f"{V2}/pages/{below}/ancestors",
                {"limit": limit},
                what=f"ancestors of {below}",
                tolerate=(403, 404),
            )
            if isinstance(answer, Refused):
                return answer
            batch = [a for a in answer.get("results") or [] if isinstance(a.get("id"), str)]
            found = batch + found
            if len(batch) < limit:
                return found
            below = batch[0]["id"]
            if batch[0].get("type") not in (None, "page"):
                return Refused(400, f"ancestors of {below}: more than {limit} levels")

    def read_restriction(self, content_id: str) -> Restriction | Refused:
        """The ``read`` restriction of one node, users and groups paged (default limit 100)."""
        accounts: list[str] = []
        groups: list[str] = []
        unkeyed = 0
        start, limit = 0, self.restriction_page_size
        while True:
            answer = self.get(
                f"{V1}/content/{content_id}/restriction/byOperation/read",
                {"expand": "restrictions.user,restrictions.group", "start": start, "limit": limit},
                what=f"read restriction of {content_id}",
                tolerate=(403, 404),
            )
            if isinstance(answer, Refused):
                return answer
            restrictions = answer.get("restrictions") or {}
            users = (restrictions.get("user") or {}).get("results") or []
            named = (restrictions.get("group") or {}).get("results") or []
            for person in users:
                account_id = (person or {}).get("accountId")
                if isinstance(account_id, str) and account_id:
                    accounts.append(account_id)
            for entry in named:
                group_id = (entry or {}).get("id")
                if isinstance(group_id, str) and group_id:
                    groups.append(group_id)
                else:
                    unkeyed += 1
            if len(users) < limit and len(named) < limit:
                return Restriction(tuple(accounts), tuple(groups), unkeyed)
            start += limit

    def comments(self, content_type: str, content_id: str) -> list[dict[str, Any]] | Refused:
        """Every current footer and inline comment of a page or blog post, storage bodies,
        oldest first (footer comments, then inline ones); Refused when either is unreadable."""
        collection = "pages" if content_type == "page" else "blogposts"
        found: list[dict[str, Any]] = []
        for kind in ("footer", "inline"):
            url: str | None = f"{V2}/{collection}/{content_id}/{kind}-comments"
            query: Mapping[str, Any] | None = {
                "body-format": "storage",
                "status": "current",
                "sort": "created-date",
                "limit": self.page_size,
            }
            while url is not None:
                answer = self.get(
                    url,
                    query,
                    what=f"{kind} comments of {content_type} {content_id}",
                    tolerate=(403, 404),
                )
                if isinstance(answer, Refused):
                    return answer
                for item in answer.get("results") or []:
                    if isinstance(item, dict) and isinstance(item.get("id"), str):
                        found.append({**item, "kind": kind})
                url, query = self._next(answer), None
        return found

    def search(
        self, cql: str, next_url: str | None, *, expand: str = "version,space"
    ) -> SearchPage:
        """One page of CQL results (with version and space), from the start or ``next_url``."""
        if next_url is None:
            params: Mapping[str, Any] | None = {
                "cql": cql,
                "limit": self.page_size,
                "expand": expand,
            }
            body = self._must(self.get(f"{V1}/content/search", params, what="CQL search"))
        else:
            body = self._must(self.get(next_url, None, what="CQL search"))
        return SearchPage(list(body.get("results") or []), self._next_v1(body))

    def _next_v1(self, body: Mapping[str, Any]) -> str | None:
        return self._next(body)

    def groups(self, access_type: str | None = None) -> Iterator[dict[str, Any]]:
        """Every group (``access_type`` "user": the groups that grant product access)."""
        start = 0
        while True:
            params: dict[str, Any] = {"start": start, "limit": 200}
            if access_type is not None:
                params["accessType"] = access_type
            body = self._must(self.get(f"{V1}/group", params, what="groups"))
            results = body.get("results") or []
            yield from results
            if len(results) < 200 or not (body.get("_links") or {}).get("next"):
                return
            start += len(results)

    def group_members(self, group_id: str) -> list[dict[str, Any]] | Refused:
        members: list[dict[str, Any]] = []
        start = 0
        while True:
            answer = self.get(
                f"{V1}/group/{group_id}/membersByGroupId",
                {"start": start, "limit": 200},
                what=f"members of group {group_id}",
                tolerate=(403, 404),
            )
            if isinstance(answer, Refused):
                return answer
            results = answer.get("results") or []
            members.extend(results)
            if len(results) < 200:
                return members
            start += len(results)

    def user(self, account_id: str) -> dict[str, Any] | Refused:
        return self.get(f"{V1}/user", {"accountId": account_id}, what="user", tolerate=(403, 404))

    def close(self) -> None:
        self._client.close()
