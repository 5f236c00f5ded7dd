"""An Admin SDK Directory v1 emulator on the base: users, groups and group members.

Answers as the Directory API does (https://developers.google.com/admin-sdk/directory/reference/rest),
checked against the ``admin.directory_v1.json`` discovery document google-api-python-client
ships. Only the delegated administrator (``Bearer emu:<admin>``, see ``google_drive``, or a token
the token endpoint emulator issued for the admin) may read it; ``customer=my_customer`` covers
every domain of the tenant; members are ``USER``, ``GROUP`` (a nested group, never expanded
here) or ``CUSTOMER`` (everyone in the tenant).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.base import ApiRequest, ApiResponse, Emulator, Handler
from tests.emulators.discovery import DiscoveryDocument
from tests.emulators.google_drive import google_error, subject_of, unauthenticated
from tests.emulators.google_oauth import TokenBook

CUSTOMER_ID = "C01emulated"


@dataclass
class DirectoryGroup:
    email: str
    id: str
    # (type, email): USER and GROUP members by email; CUSTOMER with no email.
    members: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass
class DirectoryState:
    admin: str
    users: dict[str, bool]  # primary email -> suspended
    groups: dict[str, DirectoryGroup] = field(default_factory=dict)


class DirectoryEmulator(Emulator):
    document = DiscoveryDocument("admin.directory_v1.json")
    state: DirectoryState

    def __init__(
        self,
        *,
        seed: int = 0,
        admin: str = "admin@acme.com",
        users: tuple[str, ...] = ("alice@acme.com", "bob@acme.com", "carol@acme.com"),
        tokens: TokenBook | None = None,
    ) -> None:
        self._admin = admin
        self._users = users
        self.tokens = tokens
        super().__init__(seed=seed)

    def seed_state(self, rng: random.Random) -> DirectoryState:
        return DirectoryState(
            admin=self._admin, users={u: False for u in (self._admin, *self._users)}
        )

    def default_handlers(self) -> dict[str, Handler]:
        return {
            "directory.users.list": self.users_list,
            "directory.groups.list": self.groups_list,
            "directory.members.list": self.members_list,
        }

    def route_of(self, method: str, path: str) -> str | None:
        assert isinstance(self.document, DiscoveryDocument)
        return self.document.route_of(method, path)

    def token_known(self, token: str) -> bool:
        return subject_of(token, self.tokens) == self.state.admin

    def fault_response(
        self, request: ApiRequest, status: int, retry_after: str | None
    ) -> ApiResponse:
        if status in (403, 429):
            return google_error(status, "rateLimitExceeded", "Rate Limit Exceeded", "usageLimits")
        return google_error(status, "backendError", "Backend Error")

    # What tests change.

    def add_group(self, email: str, *members: str) -> None:
        """``members``: user emails, ``group:<email>`` for a nested group, ``customer``."""
        with self.lock:
            group = DirectoryGroup(email, f"g{len(self.state.groups) + 1:04d}")
            self.state.groups[email] = group
            for member in members:
                self.add_member(email, member)

    def add_member(self, group: str, member: str) -> None:
        with self.lock:
            entry: tuple[str, str | None]
            if member == "customer":
                entry = ("CUSTOMER", None)
            elif member.startswith("group:"):
                entry = ("GROUP", member[6:])
            else:
                entry = ("USER", member)
            self.state.groups[group].members.append(entry)

    def remove_member(self, group: str, member: str) -> None:
        with self.lock:
            email = member[6:] if member.startswith("group:") else member
            found = self.state.groups[group]
            found.members = [m for m in found.members if m[1] != email]

    # Handlers.

    def _authorised(self, request: ApiRequest) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and self.check_token(token.strip())

    def users_list(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return unauthenticated()
        if request.query.get("customer") not in ("my_customer", CUSTOMER_ID):
            return google_error(400, "invalid", "Bad Request")
        users = [
            {
                "kind": "admin#directory#user",
                "id": f"u{n:04d}",
                "primaryEmail": email,
                "suspended": suspended,
            }
            for n, (email, suspended) in enumerate(sorted(self.state.users.items()))
        ]
        return _paged(request, "admin#directory#users", "users", users, largest=500)

    def groups_list(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return unauthenticated()
        if request.query.get("customer") not in ("my_customer", CUSTOMER_ID):
            return google_error(400, "invalid", "Bad Request")
        groups = [
            {"kind": "admin#directory#group", "id": g.id, "email": g.email, "name": g.email}
            for g in sorted(self.state.groups.values(), key=lambda g: g.email)
        ]
        return _paged(request, "admin#directory#groups", "groups", groups, largest=200)

    def members_list(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return unauthenticated()
        key = request.path.split("/")[-2]
        group = self.state.groups.get(key) or next(
            (g for g in self.state.groups.values() if g.id == key), None
        )
        if group is None:
            return google_error(404, "notFound", "Resource Not Found: groupKey")
        members: list[dict[str, Any]] = []
        for n, (kind, email) in enumerate(group.members):
            member: dict[str, Any] = {
                "kind": "admin#directory#member",
                "id": CUSTOMER_ID if kind == "CUSTOMER" else f"m{n:04d}",
                "type": kind,
                "role": "MEMBER",
                "status": "ACTIVE",
            }
            if email is not None:
                member["email"] = email
            members.append(member)
        return _paged(request, "admin#directory#members", "members", members, largest=200)


def _paged(
    request: ApiRequest, kind: str, key: str, items: list[dict[str, Any]], *, largest: int
) -> ApiResponse:
    start = int(request.query.get("pageToken") or 0)
    size = min(int(request.query.get("maxResults") or largest), largest)
    body: dict[str, Any] = {"kind": kind, key: items[start : start + size]}
    if start + size < len(items):
        body["nextPageToken"] = str(start + size)
    return ApiResponse(body=body)
