"""The one place the Admin SDK Directory v1 API is called: groups, members and users.

``groups.list(customer="my_customer")`` covers every domain of the tenant (listing by
``domain=`` misses the others). Same retry policy and error mapping as ``gateway_drive``.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

from connectors.errors import PermissionSourceUnreadableError
from connectors.gateway import GatewayRetryPolicy, NotFound
from connectors.google_drive.gateway_drive import (
    CredentialsFor,
    authorized_http,
    collection,
    execute,
)
from connectors.google_drive.models import DirectoryGroup, DirectoryMember, DirectoryUser

CUSTOMER = "my_customer"
# The Directory API's maximum page sizes: 200 groups or members, 500 users.
GROUPS_PAGE = 200
USERS_PAGE = 500


class DirectoryGateway:
    def __init__(
        self,
        credentials_for: CredentialsFor,
        admin_email: str,
        policy: GatewayRetryPolicy,
        *,
        endpoint: str | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        self._credentials_for = credentials_for
        self._admin = admin_email
        self._policy = policy
        self._endpoint = endpoint
        self._timeout_s = timeout_s
        self._client: Any = None

    def use_stop(self, stop: threading.Event) -> None:
        self._policy = dataclasses.replace(self._policy, stop=stop)

    def fork(self) -> DirectoryGateway:
        """The same access with its own connection and stop event, for another run."""
        return DirectoryGateway(
            self._credentials_for,
            self._admin,
            self._policy,
            endpoint=self._endpoint,
            timeout_s=self._timeout_s,
        )

    def _api(self, name: str) -> Any:
        return collection("admin", "directory_v1", self._endpoint, name)

    def _http(self) -> Any:
        if self._client is None:
            self._client = authorized_http(self._credentials_for(self._admin), self._timeout_s)
        return self._client

    def _pages(self, make: Any, key: str, what: str) -> Iterator[list[dict[str, Any]]]:
        token: str | None = None
        while True:
            answer = execute(self._policy, make(token), self._http(), what)
            if isinstance(answer, NotFound):
                raise PermissionSourceUnreadableError(f"{what}: HTTP 404")
            yield list(answer.get(key, []))
            token = answer.get("nextPageToken")
            if not token:
                return

    def groups(self) -> Iterator[DirectoryGroup]:
        def make(token: str | None) -> Any:
            params: dict[str, Any] = {"customer": CUSTOMER, "maxResults": GROUPS_PAGE}
            if token:
                params["pageToken"] = token
            return self._api("groups").list(**params)

        for page in self._pages(make, "groups", "groups.list"):
            yield from (DirectoryGroup.model_validate(g) for g in page)

    def members(self, group_key: str) -> Iterator[DirectoryMember]:
        def make(token: str | None) -> Any:
            params: dict[str, Any] = {"groupKey": group_key, "maxResults": GROUPS_PAGE}
            if token:
                params["pageToken"] = token
            return self._api("members").list(**params)

        for page in self._pages(make, "members", f"members.list {group_key}"):
            yield from (DirectoryMember.model_validate(m) for m in page)

    def users(self) -> Iterator[DirectoryUser]:
        def make(token: str | None) -> Any:
            params: dict[str, Any] = {
                "customer": CUSTOMER,
                "maxResults": USERS_PAGE,
                "fields": "nextPageToken,users(primaryEmail,aliases,suspended,archived)",
            }
            if token:
                params["pageToken"] = token
            return self._api("users").list(**params)

        for page in self._pages(make, "users", "users.list"):
            yield from (DirectoryUser.model_validate(u) for u in page)
