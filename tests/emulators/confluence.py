"""A Confluence Cloud emulator on the base: v2 spaces, pages, blog posts, folders, ancestors and
space permissions; v1 CQL search, read restrictions, groups, members and users.

Checked against ``confluence_cloud_rest_v2_openapi.json`` (paths under ``/wiki/api/v2``) and
``confluence_cloud_rest_v1_openapi.json`` (paths under ``/wiki/rest/api``). Two answers are
outside both documents and left unchecked, as the real site sends them: a read restriction of a
draft or trashed node answers 404 (CONFCLOUD-77618), and a refused credential answers 401 on
operations whose document lists no 401.

The state is seeded and mutable (``add``, ``edit``, ``move``, ``trash``, ``restore``,
``purge``, ``archive``, ``restrict``, ``comment``, ``edit_comment``); edits set ``lastmodified``
from the emulator's clock, restriction changes, moves and restores do not (as on the real site).
Comments (v2 footer and inline comment listings; ``comment`` results in CQL, with their
``container``) have their own version and ``lastmodified``; they leave the page's alone. CQL is
the subset the connector sends: ``type in (...) and space in (...) [and lastmodified >=
"yyyy-MM-dd HH:mm"] order by lastmodified [asc]``, the time read in the API user's timezone.
"""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from tests.emulators.base import ApiRequest, ApiResponse, Emulator, Handler
from tests.emulators.spec import OpenAPIDocument, Operation

V1_SPEC = "confluence_cloud_rest_v1_openapi.json"
V2_SPEC = "confluence_cloud_rest_v2_openapi.json"
V2 = "/wiki/api/v2"
V1 = "/wiki/rest/api"

_ROUTES: list[tuple[str, re.Pattern[str]]] = [
    ("spaces", re.compile(rf"{V2}/spaces\Z")),
    ("space_permissions", re.compile(rf"{V2}/spaces/(\d+)/permissions\Z")),
    ("space_pages", re.compile(rf"{V2}/spaces/(\d+)/pages\Z")),
    ("space_blogposts", re.compile(rf"{V2}/spaces/(\d+)/blogposts\Z")),
    ("ancestors", re.compile(rf"{V2}/pages/(\d+)/ancestors\Z")),
    ("comments", re.compile(rf"{V2}/(pages|blogposts)/(\d+)/(footer|inline)-comments\Z")),
    ("page", re.compile(rf"{V2}/pages/(\d+)\Z")),
    ("blogpost", re.compile(rf"{V2}/blogposts/(\d+)\Z")),
    ("folder", re.compile(rf"{V2}/folders/(\d+)\Z")),
    ("search", re.compile(rf"{V1}/content/search\Z")),
    ("restriction", re.compile(rf"{V1}/content/(\d+)/restriction/byOperation/(\w+)\Z")),
    ("groups", re.compile(rf"{V1}/group\Z")),
    ("members", re.compile(rf"{V1}/group/([^/]+)/membersByGroupId\Z")),
    ("current_user", re.compile(rf"{V1}/user/current\Z")),
    ("user", re.compile(rf"{V1}/user\Z")),
]

_CQL = re.compile(
    r"type in \((?P<types>[a-z, ]+)\)"
    r"(?: and space in \((?P<spaces>[^)]*)\))?"
    r'(?: and lastmodified >= "(?P<since>\d{4}-\d\d-\d\d \d\d:\d\d)")?'
    r" order by lastmodified(?: asc)?\Z"
)

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class User:
    account_id: str
    email: str  # "" when the profile hides it
    name: str
    account_type: str = "atlassian"


@dataclass
class Group:
    id: str
    name: str
    members: list[str] = field(default_factory=list)
    product_access: bool = False


@dataclass
class Space:
    id: str
    key: str
    name: str
    read_users: list[str] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)
    read_roles: list[str] = field(default_factory=list)


@dataclass
class Content:
    id: str
    type: str  # page | blogpost | folder
    space_id: str
    title: str
    body: str
    parent_id: str | None
    author_id: str
    created: datetime
    modified: datetime
    version: int = 1
    status: str = "current"  # current | trashed | archived | draft
    labels: list[str] = field(default_factory=list)
    read_users: list[str] = field(default_factory=list)
    read_groups: list[str] = field(default_factory=list)


@dataclass
class Comment:
    id: str
    container_id: str
    kind: str  # footer | inline
    body: str
    author_id: str
    created: datetime
    modified: datetime
    version: int = 1
    status: str = "current"


@dataclass
class Site:
    users: dict[str, User]
    groups: dict[str, Group]
    spaces: dict[str, Space]
    contents: dict[str, Content]
    api_user: str
    email: str
    api_token: str
    bearer_token: str
    timezone: str | None = "Pacific/Auckland"
    now: datetime = START
    next_id: int = 1000
    # Nodes whose restriction the site cannot read (a draft or trashed ancestor).
    unreadable: set[str] = field(default_factory=set)
    comments: dict[str, Comment] = field(default_factory=dict)


def _iso(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


class ConfluenceEmulator(Emulator):
    v1 = OpenAPIDocument.named(V1_SPEC)
    v2 = OpenAPIDocument.named(V2_SPEC)
    document = v2
    state: Site

    # -- seeded state ---------------------------------------------------------------------

    def seed_state(self, rng: random.Random) -> Site:
        def uid() -> str:
            return "5b" + "".join(rng.choice("0123456789abcdef") for _ in range(22))

        def gid() -> str:
            h = "".join(rng.choice("0123456789abcdef") for _ in range(32))
            return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

        people = {
            "alice": "alice@acme.com",
            "bob": "bob@acme.com",
            "carol": "carol@acme.com",
            "dave": "",  # hides their email
            "bot": "bot@acme.com",
        }
        users = {}
        by_name = {}
        for name, email in people.items():
            person = User(uid(), email, name.title())
            users[person.account_id] = person
            by_name[name] = person.account_id
        site_users = Group(gid(), "confluence-users", list(by_name.values()), product_access=True)
        eng = Group(gid(), "eng", [by_name["alice"], by_name["bob"]])
        hr = Group(gid(), "hr", [by_name["carol"]])
        groups = {g.id: g for g in (site_users, eng, hr)}
        spaces = {
            "101": Space("101", "ENG", "Engineering", read_groups=[site_users.id]),
            "202": Space("202", "HR", "People", read_users=[by_name["alice"]], read_groups=[hr.id]),
        }
        site = Site(
            users=users,
            groups=groups,
            spaces=spaces,
            contents={},
            api_user=by_name["bot"],
            email="bot@acme.com",
            api_token="atatt-" + uid(),
            bearer_token="oauth-" + uid(),
        )
        self.state = site
        self.names = by_name
        self.group_ids = {g.name: g.id for g in groups.values()}
        home = self.add("ENG", "Engineering home", "<p>Welcome to engineering.</p>")
        arch = self.add("ENG", "Architecture", "<h1>Overview</h1><p>Quasar design</p>", home)
        self.add("ENG", "Deep design", "<p>Nebula internals</p>", arch)
        self.add("ENG", "Runbook", "<ul><li>Restart the pulsar</li></ul>", home)
        self.add("ENG", "Launch news", "<p>Comet launched</p>", kind="blogpost")
        self.add("HR", "Handbook", "<p>Holiday policy meadow</p>")
        salaries = self.add("HR", "Salaries", "<p>Salary bands tundra</p>")
        self.restrict(salaries, users=[by_name["carol"]])
        return site

    # -- mutations (tests) ----------------------------------------------------------------

    def tick(self, minutes: float = 1.0) -> None:
        with self.lock:
            self.state.now += timedelta(minutes=minutes)

    def space_id(self, key: str) -> str:
        return next(s.id for s in self.state.spaces.values() if s.key == key)

    def add(
        self,
        space_key: str,
        title: str,
        body: str,
        parent: str | None = None,
        *,
        kind: str = "page",
        labels: Iterable[str] = (),
    ) -> str:
        with self.lock:
            site = self.state
            site.next_id += 1
            ident = str(site.next_id)
            site.contents[ident] = Content(
                id=ident,
                type=kind,
                space_id=self.space_id(space_key),
                title=title,
                body=body,
                parent_id=parent,
                author_id=site.api_user,
                created=site.now,
                modified=site.now,
                labels=list(labels),
            )
            site.now += timedelta(seconds=10)
            return ident

    def edit(self, ident: str, body: str | None = None, title: str | None = None) -> None:
        with self.lock:
            content = self.state.contents[ident]
            content.body = body if body is not None else content.body
            content.title = title if title is not None else content.title
            content.version += 1
            content.modified = self.state.now
            self.state.now += timedelta(seconds=10)

    def comment(
        self, container: str, body: str, author: str = "bob", *, inline: bool = False
    ) -> str:
        """Add a comment (``author`` a seeded name). The page's version and lastmodified stay."""
        with self.lock:
            site = self.state
            site.next_id += 1
            ident = str(site.next_id)
            site.comments[ident] = Comment(
                id=ident,
                container_id=container,
                kind="inline" if inline else "footer",
                body=body,
                author_id=self.names[author],
                created=site.now,
                modified=site.now,
            )
            site.now += timedelta(seconds=10)
            return ident

    def edit_comment(self, ident: str, body: str) -> None:
        with self.lock:
            found = self.state.comments[ident]
            found.body, found.version, found.modified = body, found.version + 1, self.state.now
            self.state.now += timedelta(seconds=10)

    def restrict(self, ident: str, users: Iterable[str] = (), groups: Iterable[str] = ()) -> None:
        """Set the read restriction (no entries: none). Does not touch version or lastmodified."""
        with self.lock:
            content = self.state.contents[ident]
            content.read_users, content.read_groups = list(users), list(groups)

    def descendants(self, ident: str) -> list[str]:
        found, frontier = [], [ident]
        while frontier:
            parent = frontier.pop()
            children = [c.id for c in self.state.contents.values() if c.parent_id == parent]
            found += children
            frontier += children
        return found

    def move(self, ident: str, space_key: str, parent: str | None = None) -> None:
        """Move a page and its subtree to another space (lastmodified unchanged)."""
        with self.lock:
            target = self.space_id(space_key)
            self.state.contents[ident].parent_id = parent
            for node in [ident, *self.descendants(ident)]:
                self.state.contents[node].space_id = target

    def trash(self, ident: str) -> None:
        """Trash a page with its subtree (the site's "delete page and its children")."""
        with self.lock:
            for node in [ident, *self.descendants(ident)]:
                self.state.contents[node].status = "trashed"

    def restore(self, ident: str) -> None:
        """Restore a page and the subtree trashed with it (lastmodified unchanged)."""
        with self.lock:
            for node in [ident, *self.descendants(ident)]:
                self.state.contents[node].status = "current"

    def archive(self, ident: str) -> None:
        with self.lock:
            self.state.contents[ident].status = "archived"

    def purge(self, ident: str) -> None:
        with self.lock:
            for node in [*reversed(self.descendants(ident)), ident]:
                del self.state.contents[node]

    # -- base hooks -----------------------------------------------------------------------

    def default_handlers(self) -> dict[str, Handler]:
        return {
            "spaces": self.spaces,
            "space_permissions": self.space_permissions,
            "space_pages": self.space_contents,
            "space_blogposts": self.space_contents,
            "ancestors": self.ancestors,
            "comments": self.comments,
            "page": self.content,
            "blogpost": self.content,
            "folder": self.content,
            "search": self.search,
            "restriction": self.restriction,
            "groups": self.groups,
            "members": self.members,
            "current_user": self.current_user,
            "user": self.user,
        }

    def route_of(self, method: str, path: str) -> str | None:
        for name, pattern in _ROUTES:
            if pattern.match(path):
                return name
        return None

    def token_known(self, token: str) -> bool:
        return token in (f"{self.state.email}:{self.state.api_token}", self.state.bearer_token)

    def spec_document(self, request: ApiRequest) -> OpenAPIDocument | None:
        if not self._authorised(request, count=False):
            return None
        if request.route == "restriction":
            ident = self._groups_of(request)[0]
            content = self.state.contents.get(ident)
            if ident in self.state.unreadable or content is None or content.status != "current":
                return None
        return self.v2 if request.path.startswith(V2) else self.v1

    def spec_operation(self, request: ApiRequest) -> Operation:
        document = self.v2 if request.path.startswith(V2) else self.v1
        return document.operation(request.method, self.spec_path(request))

    def spec_path(self, request: ApiRequest) -> str:
        if request.path.startswith(V2):
            return request.path[len(V2) :]
        return request.path

    def fault_response(
        self, request: ApiRequest, status: int, retry_after: str | None
    ) -> ApiResponse:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        if status == 429:
            headers["RateLimit-Reason"] = "confluence-burst-based"
        return ApiResponse(status, {"message": f"injected HTTP {status}"}, headers)

    # -- helpers --------------------------------------------------------------------------

    def _authorised(self, request: ApiRequest, *, count: bool = True) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token: str | None = None
        if scheme.lower() == "basic":
            try:
                token = base64.b64decode(value.strip()).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                token = None
        elif scheme.lower() == "bearer":
            token = value.strip()
        if not count:
            with self.lock:
                return (
                    bool(token)
                    and token not in self.revoked_tokens
                    and self.token_known(token or "")
                )
        return self.check_token(token)

    def _groups_of(self, request: ApiRequest) -> tuple[str, ...]:
        for name, pattern in _ROUTES:
            if name == request.route:
                match = pattern.match(request.path)
                return match.groups() if match else ()
        return ()

    def _unauthorised(self) -> ApiResponse:
        return ApiResponse(401, {"message": "Unauthorized"})

    def _page(
        self, request: ApiRequest, items: list[Any], path: str, default_limit: int = 25
    ) -> tuple[list[Any], str | None]:
        start = int(request.query.get("cursor", "0") or 0)
        limit = int(request.query.get("limit", default_limit))
        chunk = items[start : start + limit]
        if start + limit >= len(items):
            return chunk, None
        query = {k: v for k, v in request.query.items() if k != "cursor"}
        query["cursor"] = str(start + limit)
        return chunk, f"{path}?{urlencode(query)}"

    def _user_json(self, account_id: str) -> dict[str, Any]:
        person = self.state.users.get(account_id)
        if person is None:
            return {"type": "unknown", "accountId": account_id, "publicName": "Unknown"}
        return {
            "type": "known",
            "accountId": person.account_id,
            "accountType": person.account_type,
            "email": person.email,
            "publicName": person.name,
            "displayName": person.name,
        }

    def _visible(self, content: Content) -> bool:
        return content.status == "current" and content.id not in self.state.unreadable

    # -- v2 handlers ----------------------------------------------------------------------

    def spaces(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        items = [
            {
                "id": s.id,
                "key": s.key,
                "name": s.name,
                "type": "global",
                "status": "current",
                "_links": {"webui": f"/spaces/{s.key}"},
            }
            for s in sorted(self.state.spaces.values(), key=lambda s: int(s.id))
        ]
        chunk, following = self._page(request, items, request.path)
        return ApiResponse(body=self._multi(chunk, following))

    def _multi(self, chunk: list[Any], following: str | None) -> dict[str, Any]:
        links: dict[str, str] = {"base": self.url + "/wiki"}
        if following is not None:
            links["next"] = following
        return {"results": chunk, "_links": links}

    def space_permissions(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        space = self.state.spaces.get(self._groups_of(request)[0])
        if space is None:
            return ApiResponse(404, {"message": "no such space"})
        items: list[dict[str, Any]] = []
        grants = [("user", u) for u in space.read_users]
        grants += [("group", g) for g in space.read_groups]
        grants += [("role", r) for r in space.read_roles]
        for n, (kind, ident) in enumerate(grants):
            for op in ("read", "create"):
                items.append(
                    {
                        "id": f"{space.id}-{n}-{op}",
                        "principal": {"type": kind, "id": ident},
                        "operation": {"key": op, "targetType": "space"},
                    }
                )
        chunk, following = self._page(request, items, request.path)
        return ApiResponse(body=self._multi(chunk, following))

    def space_contents(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        space_id = self._groups_of(request)[0]
        if space_id not in self.state.spaces:
            return ApiResponse(404, {"message": "no such space"})
        kind = "page" if request.route == "space_pages" else "blogpost"
        wanted = set(request.query.get("status", "current").split(","))
        items = [
            self._bulk(c)
            for c in sorted(self.state.contents.values(), key=lambda c: int(c.id))
            if c.space_id == space_id and c.type == kind and c.status in wanted
        ]
        chunk, following = self._page(request, items, request.path)
        return ApiResponse(body=self._multi(chunk, following))

    def _bulk(self, c: Content) -> dict[str, Any]:
        item: dict[str, Any] = {
            "id": c.id,
            "status": c.status,
            "title": c.title,
            "spaceId": c.space_id,
            "authorId": c.author_id,
            "createdAt": _iso(c.created),
            "version": {"number": c.version, "createdAt": _iso(c.modified), "minorEdit": False},
            "_links": {"webui": f"/spaces/{self._key(c.space_id)}/pages/{c.id}"},
        }
        if c.type == "page" and c.parent_id is not None:
            item["parentId"] = c.parent_id
            item["parentType"] = self.state.contents[c.parent_id].type
        return item

    def _key(self, space_id: str) -> str:
        return self.state.spaces[space_id].key

    def content(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        content = self.state.contents.get(self._groups_of(request)[0])
        if content is None or content.type != request.route or not self._visible(content):
            return ApiResponse(404, {"message": "not found"})
        if request.route == "folder":
            body: dict[str, Any] = {"id": content.id, "type": "folder", "title": content.title}
            body["spaceId"] = content.space_id
            return ApiResponse(body=body)
        body = self._bulk(content)
        if request.query.get("body-format") == "storage":
            body["body"] = {"storage": {"representation": "storage", "value": content.body}}
        if request.query.get("include-labels") == "true":
            body["labels"] = {
                "results": [
                    {"id": str(n), "name": name, "prefix": "global"}
                    for n, name in enumerate(content.labels)
                ]
            }
        return ApiResponse(body=body)

    def ancestors(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        content = self.state.contents.get(self._groups_of(request)[0])
        if content is None or not self._visible(content):
            return ApiResponse(404, {"message": "not found"})
        chain: list[dict[str, Any]] = []
        parent = content.parent_id
        while parent is not None:
            node = self.state.contents[parent]
            chain.insert(0, {"id": node.id, "type": node.type})
            parent = node.parent_id
        limit = int(request.query.get("limit", 25))
        # Truncated at limit, keeping the nearest ancestors (the real endpoint's behaviour).
        return ApiResponse(body={"results": chain[-limit:], "_links": {}})

    def comments(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        collection, ident, kind = self._groups_of(request)
        content = self.state.contents.get(ident)
        wanted = "page" if collection == "pages" else "blogpost"
        if content is None or content.type != wanted or not self._visible(content):
            return ApiResponse(404, {"message": "not found"})
        statuses = set(request.query.get("status", "current").split(","))
        chosen = [
            c
            for c in self.state.comments.values()
            if c.container_id == ident and c.kind == kind and c.status in statuses
        ]
        chosen.sort(key=lambda c: (c.created, int(c.id)))
        owner = "pageId" if wanted == "page" else "blogPostId"
        items = []
        for c in chosen:
            item: dict[str, Any] = {
                "id": c.id,
                "status": c.status,
                "title": f"Re: {content.title}",
                owner: ident,
                "version": {
                    "number": c.version,
                    "createdAt": _iso(c.modified),
                    "minorEdit": False,
                    "authorId": c.author_id,
                },
                "_links": {"webui": f"/spaces/{self._key(content.space_id)}/pages/{ident}"},
            }
            if request.query.get("body-format") == "storage":
                item["body"] = {"storage": {"representation": "storage", "value": c.body}}
            if kind == "inline":
                item["resolutionStatus"] = "open"
            items.append(item)
        chunk, following = self._page(request, items, request.path)
        return ApiResponse(body=self._multi(chunk, following))

    # -- v1 handlers ----------------------------------------------------------------------

    def search(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        match = _CQL.match(request.query.get("cql", ""))
        if match is None:
            return ApiResponse(400, {"message": "CQL not understood by the emulator"})
        types = {t.strip() for t in match.group("types").split(",")}
        keys = {k.strip().strip('"') for k in (match.group("spaces") or "").split(",") if k}
        since: datetime | None = None
        if match.group("since"):
            zone = ZoneInfo(self.state.timezone) if self.state.timezone else UTC
            local = datetime.strptime(match.group("since"), "%Y-%m-%d %H:%M")
            since = local.replace(tzinfo=zone).astimezone(UTC)
        found = [
            c
            for c in self.state.contents.values()
            if c.type in types
            and self._visible(c)
            and (not keys or self._key(c.space_id) in keys)
            and (since is None or c.modified >= since)
        ]
        items = [(c.modified, int(c.id), self._search_json(c)) for c in found]
        if "comment" in types:
            for note in self.state.comments.values():
                page = self.state.contents.get(note.container_id)
                if (
                    page is None
                    or note.status != "current"
                    or not self._visible(page)
                    or (keys and self._key(page.space_id) not in keys)
                    or (since is not None and note.modified < since)
                ):
                    continue
                items.append((note.modified, int(note.id), self._comment_json(note, page)))
        items.sort(key=lambda entry: (entry[0], entry[1]))
        return self._search_answer(request, [entry[2] for entry in items])

    def _search_answer(self, request: ApiRequest, items: list[dict[str, Any]]) -> ApiResponse:
        start = int(request.query.get("cursor", "0") or 0)
        limit = int(request.query.get("limit", 25))
        chunk = items[start : start + limit]
        links: dict[str, Any] = {"base": self.url + "/wiki", "context": "/wiki"}
        if start + limit < len(items):
            query = {k: v for k, v in request.query.items() if k != "cursor"}
            query["cursor"] = str(start + limit)
            links["next"] = "/rest/api/content/search?" + urlencode(query)
        return ApiResponse(
            body={
                "results": chunk,
                "start": start,
                "limit": limit,
                "size": len(chunk),
                "_links": links,
            }
        )

    def _comment_json(self, note: Comment, page: Content) -> dict[str, Any]:
        space = self.state.spaces[page.space_id]
        return {
            "id": note.id,
            "type": "comment",
            "status": note.status,
            "title": f"Re: {page.title}",
            "space": self._space_json(space),
            "container": {"id": page.id, "type": page.type, "title": page.title},
            "version": {"number": note.version, "when": _iso(note.modified), "minorEdit": False},
            "_links": {"webui": f"/spaces/{space.key}/pages/{page.id}"},
        }

    def _space_json(self, space: Space) -> dict[str, Any]:
        return {
            "id": int(space.id),
            "key": space.key,
            "name": space.name,
            "type": "global",
            "status": "current",
            "_expandable": {},
            "_links": {},
        }

    def _search_json(self, c: Content) -> dict[str, Any]:
        space = self.state.spaces[c.space_id]
        return {
            "id": c.id,
            "type": c.type,
            "status": c.status,
            "title": c.title,
            "space": self._space_json(space),
            "version": {"number": c.version, "when": _iso(c.modified), "minorEdit": False},
            "_links": {"webui": f"/spaces/{space.key}/pages/{c.id}"},
        }

    def restriction(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        ident, operation = self._groups_of(request)
        content = self.state.contents.get(ident)
        if content is None or not self._visible(content):
            return ApiResponse(404, {"message": "content not found"})
        start = int(request.query.get("start", 0))
        limit = int(request.query.get("limit", 100))
        users = content.read_users if operation == "read" else []
        groups = content.read_groups if operation == "read" else []
        user_part = [self._user_json(u) for u in users[start : start + limit]]
        group_part = [
            {"type": "group", "name": self.state.groups[g].name, "id": g}
            for g in groups[start : start + limit]
        ]
        return ApiResponse(
            body={
                "operation": operation,
                "restrictions": {
                    "user": {
                        "results": user_part,
                        "start": start,
                        "limit": limit,
                        "size": len(user_part),
                    },
                    "group": {
                        "results": group_part,
                        "start": start,
                        "limit": limit,
                        "size": len(group_part),
                    },
                },
                "_expandable": {"content": f"/rest/api/content/{ident}"},
                "_links": {"base": self.url + "/wiki"},
            }
        )

    def groups(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        wanted = list(self.state.groups.values())
        if request.query.get("accessType") == "user":
            wanted = [g for g in wanted if g.product_access]
        items = [{"type": "group", "name": g.name, "id": g.id} for g in wanted]
        return ApiResponse(body=self._v1_array(request, items, 200))

    def _v1_array(self, request: ApiRequest, items: list[Any], default: int) -> dict[str, Any]:
        start = int(request.query.get("start", 0))
        limit = int(request.query.get("limit", default))
        chunk = items[start : start + limit]
        links: dict[str, Any] = {"base": self.url + "/wiki"}
        if start + limit < len(items):
            links["next"] = f"{request.path[len('/wiki') :]}?start={start + limit}&limit={limit}"
        return {
            "results": chunk,
            "start": start,
            "limit": limit,
            "size": len(chunk),
            "_links": links,
        }

    def members(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        found = self.state.groups.get(self._groups_of(request)[0])
        if found is None:
            return ApiResponse(400, {"message": "no such group"})
        items = [self._user_json(u) for u in found.members]
        return ApiResponse(body=self._v1_array(request, items, 200))

    def current_user(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        body = self._user_json(self.state.api_user)
        body["timeZone"] = self.state.timezone
        return ApiResponse(body=body)

    def user(self, request: ApiRequest) -> ApiResponse:
        if not self._authorised(request):
            return self._unauthorised()
        account_id = request.query.get("accountId", "")
        if account_id not in self.state.users:
            return ApiResponse(404, {"message": "no such user"})
        return ApiResponse(body=self._user_json(account_id))
