"""Clients for permindex search: over HTTP (``PermindexClient``) or in-process
(``InProcessClient``), with one interface so callers can switch between them.

Both raise the same exceptions and return the same models (``SearchResponse``,
``DocumentView``); a document the user may not see is ``None``, exactly like an absent one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

import httpx

from indexer.backend import IndexUnavailableError
from retrieval.identity import IdentityError, IdentityResolver
from retrieval.models import DocumentView, SearchQuery, SearchResponse
from retrieval.searcher import SearchLimitError
from retrieval.service.app import SearchBackend


class PermindexError(Exception):
    """A refused or failed call. ``status`` is the HTTP status (or its in-process equivalent)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class AuthenticationError(PermindexError):
    """401: missing, invalid or revoked API key."""


class PermissionDeniedError(PermindexError):
    """403: the API key lacks a capability."""


class InvalidRequestError(PermindexError):
    """4xx: bad input or over a limit."""


class ServiceUnavailableError(PermindexError):
    """503/504: overloaded, index unavailable or over the time budget; worth retrying."""


@runtime_checkable
class SearchClient(Protocol):
    def search(
        self,
        user: str,
        query: str | SearchQuery,
        *,
        groups: Iterable[str] = (),
        **options: Any,
    ) -> SearchResponse:
        """Search for ``user``. ``options`` are ``SearchQuery`` fields (mode, top_k, ...)."""

    def get_document(
        self, user: str, doc_id: str, *, groups: Iterable[str] = ()
    ) -> DocumentView | None:
        """The document if ``user`` may see it, else None (absent and forbidden look alike)."""


def build_query(query: str | SearchQuery, options: dict[str, Any]) -> SearchQuery:
    # exclude_unset: fields the caller did not give stay unset, so server-side defaults apply.
    base = (
        query.model_dump(exclude_unset=True) if isinstance(query, SearchQuery) else {"query": query}
    )
    try:
        return SearchQuery.model_validate({**base, **options})
    except ValueError as exc:
        raise InvalidRequestError(422, "invalid_request", str(exc)) from exc


def _error_for(status: int, code: str, message: str) -> PermindexError:
    if status == 401:
        return AuthenticationError(status, code, message)
    if status == 403:
        return PermissionDeniedError(status, code, message)
    if status in (502, 503, 504):
        return ServiceUnavailableError(status, code, message)
    if 400 <= status < 500:
        return InvalidRequestError(status, code, message)
    return PermindexError(status, code, message)


class PermindexClient:
    """The HTTP API. ``transport`` (e.g. ``httpx.MockTransport``) replaces the network layer."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self._owns_http = http is None
        self._http = http or httpx.Client(base_url=base_url, timeout=timeout_s, transport=transport)
        self._headers = {"Authorization": f"Bearer {api_key}"}

    def __enter__(self) -> PermindexClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def search(
        self,
        user: str,
        query: str | SearchQuery,
        *,
        groups: Iterable[str] = (),
        **options: Any,
    ) -> SearchResponse:
        body = build_query(query, options).model_dump(mode="json", exclude_unset=True)
        body["user"] = user
        group_list = list(groups)
        if group_list:
            body["groups"] = group_list
        response = self._request("POST", "/v1/search", json=body)
        return SearchResponse.model_validate_json(response.content)

    def get_document(
        self, user: str, doc_id: str, *, groups: Iterable[str] = ()
    ) -> DocumentView | None:
        params: list[tuple[str, str]] = [("user", user)]
        params += [("groups", group) for group in groups]
        path = "/v1/documents/" + quote(doc_id, safe="")
        response = self._request("GET", path, params=params, allow_404=True)
        if response.status_code == 404:
            return None
        return DocumentView.model_validate_json(response.content)

    def ready(self) -> bool:
        try:
            return self._http.get("/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def _request(
        self, method: str, path: str, *, allow_404: bool = False, **kwargs: Any
    ) -> httpx.Response:
        try:
            response = self._http.request(method, path, headers=self._headers, **kwargs)
        except httpx.TimeoutException as exc:
            raise ServiceUnavailableError(504, "timeout", str(exc) or "request timed out") from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailableError(503, "unreachable", str(exc)) from exc
        if response.is_success or (allow_404 and response.status_code == 404):
            return response
        code, message = "error", response.text[:500]
        try:
            error = response.json()["error"]
            code, message = str(error["code"]), str(error["message"])
        except (ValueError, KeyError, TypeError):
            pass
        raise _error_for(response.status_code, code, message)


class InProcessClient:
    """The same interface, calling a ``Searcher`` directly (no HTTP, no API key).

    ``trust_asserted_groups`` plays the role of the ``assert_groups`` capability: without it,
    asserting groups is refused like the service refuses it. ``raw_scores`` plays the role of
    the ``admin`` capability: without it, results carry ranks, not raw stage scores (BM25 carries
    statistics of documents the caller cannot see), as a search key gets them over HTTP.
    """

    def __init__(
        self,
        searcher: SearchBackend,
        resolver: IdentityResolver,
        *,
        service: str = "in-process",
        trust_asserted_groups: bool = False,
        raw_scores: bool = False,
    ) -> None:
        self.searcher = searcher
        self.resolver = resolver
        self.service = service
        self.trust_asserted_groups = trust_asserted_groups
        self.raw_scores = raw_scores

    def _principals(self, user: str, groups: Iterable[str]) -> frozenset[str]:
        group_list = list(groups)
        if group_list and not self.trust_asserted_groups:
            raise PermissionDeniedError(
                403, "forbidden", "this client is not trusted to assert groups"
            )
        try:
            return self.resolver.resolve(
                user, asserted_groups=group_list, trust_asserted=self.trust_asserted_groups
            )
        except IdentityError as exc:
            raise InvalidRequestError(422, "invalid_identity", str(exc)) from exc

    def search(
        self,
        user: str,
        query: str | SearchQuery,
        *,
        groups: Iterable[str] = (),
        **options: Any,
    ) -> SearchResponse:
        search_query = build_query(query, options)
        principals = self._principals(user, groups)
        try:
            response = self.searcher.search(
                principals, search_query, caller=user, service=self.service
            )
        except IndexUnavailableError as exc:
            raise ServiceUnavailableError(503, "index_unavailable", str(exc)) from exc
        except SearchLimitError as exc:
            raise InvalidRequestError(422, "over_limit", str(exc)) from exc
        return response if self.raw_scores else response.without_raw_scores(search_query.offset)

    def get_document(
        self, user: str, doc_id: str, *, groups: Iterable[str] = ()
    ) -> DocumentView | None:
        principals = self._principals(user, groups)
        try:
            return self.searcher.get_document(principals, doc_id, caller=user, service=self.service)
        except IndexUnavailableError as exc:
            raise ServiceUnavailableError(503, "index_unavailable", str(exc)) from exc
