"""The one module that talks to Jira Cloud: atlassian-python-api's ``JiraCloud`` on raw v3 paths.

The SDK only carries requests (auth, sessions, URL joining). Its own retries are off
(``retry_with_header=False``: it would sleep up to 30 minutes on one Retry-After;
``backoff_and_retry=False``: urllib3 retries up to 1000 times) and ``advanced_mode=True`` hands
back every response unraised, so statuses go through the shared mapping
(``connectors.gateway.error_for_status``: 429/503 -> ``RetryableError`` with Retry-After,
401/403 -> ``SourceUnavailableError``) and the shared ``GatewayRetryPolicy`` retries.

Raw paths rather than the generated helpers: the helpers' names and defaults changed between
SDK versions (shared/briefs/saas-apis.md section 4), a path does not.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import requests
from atlassian.jira import JiraCloud
from pydantic import BaseModel, ValidationError

from connectors.errors import ConnectorError, RetryableError, SourceUnavailableError
from connectors.gateway import (
    Budget,
    GatewayRetryPolicy,
    NotFound,
    RequestRejected,
    error_for_transport,
    raise_for_status,
)
from connectors.jira.config import ApiTokenAuth, BearerAuth
from connectors.jira.models import (
    ApplicationRole,
    Issue,
    LevelMember,
    PermissionScheme,
    Project,
    ProjectRole,
    UserRef,
)

API = "rest/api/3"
# search/jql returns at most 5000 ids a page when only ids are asked for, 100 with fields.
ID_PAGE = 5000
BULK_FETCH_MAX = 100
_PAGE = 50

M = TypeVar("M", bound=BaseModel)


class MalformedResponse(ConnectorError):
    """A 2xx answer the connector cannot read; the request it answered failed."""


class PageCapReached(ConnectorError):
    """A search went past its page cap without reaching the last page."""


@dataclasses.dataclass(frozen=True)
class SearchPage:
    issues: tuple[Issue, ...]
    next_token: str | None


class JiraGateway:
    def __init__(
        self,
        base_url: str,
        auth: ApiTokenAuth | BearerAuth,
        *,
        retry: GatewayRetryPolicy | None = None,
        budget: Budget | None = None,
        timeout_s: int = 30,
    ) -> None:
        options: dict[str, Any] = {
            "timeout": timeout_s,
            "advanced_mode": True,
            "retry_with_header": False,
            "backoff_and_retry": False,
        }
        if isinstance(auth, ApiTokenAuth):
            options |= {"username": auth.email, "password": auth.token.get_secret_value()}
        else:
            options["token"] = auth.token.get_secret_value()
        self._client = JiraCloud(base_url.rstrip("/"), **options)
        self.base_url = base_url.rstrip("/")
        self._retry = retry or GatewayRetryPolicy()
        self._budget = budget

    def with_stop(self, stop: threading.Event) -> JiraGateway:
        """This gateway, its waits ended by ``stop`` (the run's stop event)."""
        clone = object.__new__(JiraGateway)
        clone.__dict__.update(self.__dict__)
        clone._retry = dataclasses.replace(self._retry, stop=stop)
        return clone

    # -- requests -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        forbidden_is_refusal: bool = False,
    ) -> Any:
        """The decoded JSON of one request, retried by the shared policy; None for a 404.

        ``forbidden_is_refusal``: a 403 refuses this one read (schemes and level members need
        Administer Jira), so it fails what depends on it instead of stopping the run.
        """
        what = f"Jira {method} {path}"

        def attempt() -> Any:
            if self._budget is not None:
                self._budget.acquire()
            try:
                if method == "GET":
                    response = self._client.get(f"{API}/{path}", params=params, advanced_mode=True)
                else:
                    response = self._client.post(
                        f"{API}/{path}", data=body, params=params, advanced_mode=True
                    )
            except requests.RequestException as exc:
                transport = error_for_transport(exc.__context__ or exc, what=what)
                if transport is None and isinstance(
                    exc, requests.ConnectionError | requests.Timeout
                ):
                    transport = error_for_transport(ConnectionError(str(exc)), what=what)
                if transport is not None:
                    raise transport from exc
                raise SourceUnavailableError(f"{what}: {exc}") from exc
            assert isinstance(response, requests.Response)
            if response.status_code == 403 and forbidden_is_refusal:
                raise RequestRejected(f"{what}: HTTP 403, not allowed to read it", 403)
            if isinstance(
                raise_for_status(response.status_code, response.headers, what=what), NotFound
            ):
                return None
            try:
                return response.json()
            except ValueError as exc:
                # A 2xx body that does not parse was cut short in transit (or replaced by a
                # proxy): asked again, like a broken connection. Bodies that parse but do not
                # fit the model are MalformedResponse (``_model``).
                raise RetryableError(f"{what}: body is not JSON (cut short?)") from exc

        return self._retry.call(attempt)

    def _model(self, model: type[M], data: Any, what: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise MalformedResponse(f"{what}: {exc.error_count()} invalid field(s)") from exc

    def _paged(
        self, path: str, params: dict[str, Any], *, forbidden_is_refusal: bool = False
    ) -> Iterator[Any]:
        """``values`` of a startAt/isLast page bean, every page."""
        start = 0
        while True:
            page = self._call(
                "GET",
                path,
                params={**params, "startAt": start, "maxResults": _PAGE},
                forbidden_is_refusal=forbidden_is_refusal,
            )
            if page is None:
                raise RequestRejected(f"Jira GET {path}: not found", 404)
            values = page.get("values") if isinstance(page, dict) else None
            if not isinstance(values, list):
                raise MalformedResponse(f"Jira GET {path}: no values")
            yield from values
            if page.get("isLast", True) or not values:
                return
            start += len(values)

    # -- the calls the connector makes ----------------------------------------------------------

    def myself(self) -> UserRef:
        data = self._call("GET", "myself")
        if data is None:
            raise SourceUnavailableError("Jira GET myself: not found (is the base URL a site?)")
        return self._model(UserRef, data, "myself")

    def projects(self) -> list[Project]:
        found = self._paged("project/search", {"expand": "lead"})
        return [self._model(Project, value, "project/search") for value in found]

    def permission_scheme(self, project_id: str) -> PermissionScheme | None:
        """The project's permission scheme with its grants; None when it cannot be found."""
        data = self._call(
            "GET",
            f"project/{project_id}/permissionscheme",
            params={"expand": "permissions,user,group,projectRole,field"},
            forbidden_is_refusal=True,
        )
        return None if data is None else self._model(PermissionScheme, data, "permissionscheme")

    def project_role(self, project_id: str, role_id: str) -> ProjectRole | None:
        data = self._call(
            "GET",
            f"project/{project_id}/role/{role_id}",
            params={"excludeInactiveUsers": "true"},
            forbidden_is_refusal=True,
        )
        return None if data is None else self._model(ProjectRole, data, "project role")

    def level_members(self, level_id: str) -> list[LevelMember]:
        found = self._paged(
            "issuesecurityschemes/level/member",
            {"levelId": level_id, "expand": "user,group"},
            forbidden_is_refusal=True,
        )
        return [self._model(LevelMember, value, "level member") for value in found]

    def search(
        self, jql: str, fields: Sequence[str], token: str | None, *, ids_only: bool = False
    ) -> SearchPage:
        """One page of ``search/jql``: GET for id-only listings, POST (a body) with fields."""
        if ids_only:
            params: dict[str, Any] = {"jql": jql, "maxResults": ID_PAGE}
            if token:
                params["nextPageToken"] = token
            data = self._call("GET", "search/jql", params=params)
        else:
            body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": 100}
            if token:
                body["nextPageToken"] = token
            data = self._call("POST", "search/jql", body=body)
        if not isinstance(data, dict) or not isinstance(data.get("issues"), list):
            raise MalformedResponse("Jira search/jql: no issues")
        issues = tuple(self._model(Issue, issue, "search/jql") for issue in data["issues"])
        # The last page says isLast, or sends no token: either ends the walk.
        last = data.get("isLast") is True or not data.get("nextPageToken")
        return SearchPage(issues, None if last else str(data["nextPageToken"]))

    def bulk_fetch(self, ids: Sequence[str], fields: Sequence[str]) -> tuple[list[Issue], set[str]]:
        """Issues by id (at most 100), and the ids that came back as errors."""
        body = {"issueIdsOrKeys": list(ids), "fields": list(fields)}
        data = self._call("POST", "issue/bulkfetch", body=body)
        if not isinstance(data, dict):
            raise MalformedResponse("Jira issue/bulkfetch: no body")
        issues = [self._model(Issue, issue, "bulkfetch") for issue in data.get("issues", [])]
        failed = {str(e.get("id")) for e in data.get("issueErrors", []) if isinstance(e, dict)}
        return issues, failed

    def groups(self) -> list[tuple[str, str]]:
        """(groupId, name) of every group of the site."""
        return [
            (str(value["groupId"]), str(value.get("name", "")))
            for value in self._paged("group/bulk", {})
            if isinstance(value, dict) and value.get("groupId")
        ]

    def group_members(self, group_id: str) -> list[UserRef]:
        found = self._paged("group/member", {"groupId": group_id, "includeInactiveUsers": "false"})
        return [self._model(UserRef, value, "group member") for value in found]

    def application_roles(self) -> list[ApplicationRole]:
        data = self._call("GET", "applicationrole")
        if not isinstance(data, list):
            raise MalformedResponse("Jira applicationrole: not a list")
        return [self._model(ApplicationRole, value, "applicationrole") for value in data]

    def users(self) -> Iterator[UserRef]:
        start = 0
        while True:
            page = self._call("GET", "users/search", params={"startAt": start, "maxResults": _PAGE})
            if not isinstance(page, list):
                raise MalformedResponse("Jira users/search: not a list")
            for value in page:
                yield self._model(UserRef, value, "users/search")
            if len(page) < _PAGE:
                return
            start += len(page)
