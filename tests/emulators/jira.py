"""A Jira Cloud REST v3 emulator on the base: issues, projects, permissions, security, groups.

Answers as Jira Cloud does (shared/briefs/saas-apis.md, Jira): ``search/jql`` (GET and POST,
``nextPageToken``/``isLast``, no ``total``, default ``fields`` is ``id``), ``issue/bulkfetch``,
``project/search``, a project's permission scheme with its grants, project roles and their
actors, issue security level members, groups and their members, application roles, users, and
``user/permission/search`` (who holds a permission on an issue: the oracle of the tests).
Basic auth (email + API token) or a bearer token; 401 otherwise.

Checked against ``jira_cloud_rest_v3_openapi_2025.json`` (the 2022 document lacks search/jql,
bulkfetch and the level member endpoint). The state is plain data tests change at will; every
change to an issue moves its ``updated`` time forward, as Jira does; permission scheme, role,
level and group changes do not, as in Jira.

The JQL understood is what the connector sends: clauses joined by AND (``project = <id|key>``,
``updated >= <epoch ms>``, ``labels = x``, ``labels != x``, a parenthesised clause), then
``ORDER BY <field> ASC``. Anything else is a 400, as a bad JQL is in Jira.
"""

from __future__ import annotations

import base64
import random
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.emulators.base import ApiRequest, ApiResponse, Emulator, Handler
from tests.emulators.spec import OpenAPIDocument

JIRA_SPEC = "jira_cloud_rest_v3_openapi_2025.json"
API = "/rest/api/3"
EPOCH_MS = 1_750_000_000_000

_ROUTES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (method, name, re.compile(f"{API}/{pattern}\\Z"))
    for method, name, pattern in (
        ("GET", "myself", "myself"),
        ("GET", "project/search", "project/search"),
        ("GET", "permissionscheme", r"project/(?P<project>[^/]+)/permissionscheme"),
        ("GET", "project/role", r"project/(?P<project>[^/]+)/role/(?P<role>[^/]+)"),
        ("GET", "level/member", "issuesecurityschemes/level/member"),
        ("GET", "search/jql", "search/jql"),
        ("POST", "search/jql", "search/jql"),
        ("POST", "issue/bulkfetch", "issue/bulkfetch"),
        ("GET", "group/bulk", "group/bulk"),
        ("GET", "group/member", "group/member"),
        ("GET", "applicationrole", "applicationrole"),
        ("GET", "users/search", "users/search"),
        ("GET", "user/permission/search", "user/permission/search"),
    )
)


@dataclass
class JiraUser:
    account_id: str
    display_name: str
    email: str | None  # None: hidden by the user's profile visibility
    active: bool = True


@dataclass
class JiraProject:
    id: str
    key: str
    name: str
    lead: str
    scheme_id: int
    # role id -> actors: ("user", accountId) or ("group", groupId)
    roles: dict[str, list[tuple[str, str]]] = field(default_factory=dict)


@dataclass
class JiraComment:
    id: str
    author: str
    text: str
    visibility: dict[str, str] | None = None


@dataclass
class JiraIssue:
    id: str
    number: int
    project_id: str
    summary: str
    description: str
    reporter: str
    assignee: str | None = None
    status: str = "To Do"
    issuetype: str = "Task"
    priority: str = "Medium"
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    comments: list[JiraComment] = field(default_factory=list)
    level: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    created: int = EPOCH_MS
    updated: int = EPOCH_MS


@dataclass
class JiraSite:
    users: dict[str, JiraUser] = field(default_factory=dict)
    groups: dict[str, tuple[str, set[str]]] = field(default_factory=dict)  # id -> (name, members)
    app_roles: dict[str, list[str]] = field(default_factory=dict)  # key -> group ids
    projects: dict[str, JiraProject] = field(default_factory=dict)
    # scheme id -> grants: (permission, holder type, holder value)
    schemes: dict[int, list[tuple[str, str, str | None]]] = field(default_factory=dict)
    # level id -> (security scheme id, holders (type, value))
    levels: dict[str, tuple[str, list[tuple[str, str | None]]]] = field(default_factory=dict)
    issues: dict[str, JiraIssue] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)  # email -> API token
    bearer_tokens: set[str] = field(default_factory=set)
    admin: str = ""
    clock_ms: int = EPOCH_MS
    serial: int = 10000


class JiraEmulator(Emulator):
    document = OpenAPIDocument.named(JIRA_SPEC)
    state: JiraSite
    # Items per page of startAt lists and of search/jql pages with fields; tests lower it.
    page_size = 50

    def seed_state(self, rng: random.Random) -> JiraSite:
        site = JiraSite()
        site.credentials["bot@acme.com"] = f"token-{rng.randrange(10**9)}"
        site.bearer_tokens.add(f"oauth-{rng.randrange(10**9)}")
        site.admin = self.add_user_to(site, "bot", "bot@acme.com")
        return site

    # -- building and changing the site (what tests call) --------------------------------------

    def add_user_to(self, site: JiraSite, name: str, email: str | None) -> str:
        account_id = f"5b10ac8d82e05b22cc7d4e{len(site.users):02d}"
        site.users[account_id] = JiraUser(account_id, name, email)
        return account_id

    def add_user(self, name: str, email: str | None = None) -> str:
        with self.lock:
            return self.add_user_to(self.state, name, email)

    def add_group(self, name: str, members: set[str] | None = None) -> str:
        with self.lock:
            group_id = f"{len(self.state.groups) + 1:08d}-0000-4000-8000-{name[:12]:0>12}"
            self.state.groups[group_id] = (name, set(members or ()))
            return group_id

    def add_scheme(self, grants: list[tuple[str, str, str | None]]) -> int:
        with self.lock:
            scheme_id = 10000 + len(self.state.schemes)
            self.state.schemes[scheme_id] = list(grants)
            return scheme_id

    def add_project(self, key: str, lead: str, scheme_id: int) -> str:
        with self.lock:
            project_id = str(10000 + len(self.state.projects))
            self.state.projects[project_id] = JiraProject(
                project_id, key, f"{key} project", lead, scheme_id
            )
            return project_id

    def add_level(self, holders: list[tuple[str, str | None]]) -> str:
        with self.lock:
            level_id = str(10100 + len(self.state.levels))
            self.state.levels[level_id] = ("10000", list(holders))
            return level_id

    def add_issue(
        self, project_id: str, summary: str, description: str, reporter: str, **fields: Any
    ) -> str:
        with self.lock:
            self.state.serial += 1
            issue_id = str(self.state.serial)
            number = 1 + sum(1 for i in self.state.issues.values() if i.project_id == project_id)
            issue = JiraIssue(
                issue_id, number, project_id, summary, description, reporter, **fields
            )
            issue.created = issue.updated = self._tick()
            self.state.issues[issue_id] = issue
            return issue_id

    def edit_issue(self, issue_id: str, **changes: Any) -> None:
        """Change an issue's fields (``project_id`` moves it); its ``updated`` moves on."""
        with self.lock:
            issue = self.state.issues[issue_id]
            if "project_id" in changes and changes["project_id"] != issue.project_id:
                project = changes["project_id"]
                issue.number = 1 + sum(
                    1 for i in self.state.issues.values() if i.project_id == project
                )
            for name, value in changes.items():
                setattr(issue, name, value)
            issue.updated = self._tick()

    def add_comment(
        self, issue_id: str, author: str, text: str, visibility: dict[str, str] | None = None
    ) -> None:
        with self.lock:
            issue = self.state.issues[issue_id]
            self.state.serial += 1
            issue.comments.append(JiraComment(str(self.state.serial), author, text, visibility))
            issue.updated = self._tick()

    def delete_issue(self, issue_id: str) -> None:
        with self.lock:
            del self.state.issues[issue_id]

    def clear_faults(self) -> None:
        with self.lock:
            self._faults.clear()

    def restore_auth(self) -> None:
        """Credentials valid again, pending revocations dropped."""
        with self.lock:
            self._revocations.clear()
            self.revoked_tokens.clear()

    def key_of(self, issue_id: str) -> str:
        issue = self.state.issues[issue_id]
        return f"{self.state.projects[issue.project_id].key}-{issue.number}"

    def _tick(self) -> int:
        self.state.clock_ms += 60_000
        return self.state.clock_ms

    # -- the oracle: Jira's own permission semantics, independent of the connector -------------

    def can_browse(self, account_id: str, issue: JiraIssue) -> bool:
        user = self.state.users.get(account_id)
        if user is None or not user.active:
            return False
        project = self.state.projects[issue.project_id]
        grants = [
            (t, v)
            for p, t, v in self.state.schemes.get(project.scheme_id, [])
            if p == "BROWSE_PROJECTS"
        ]
        if not any(self._holds(account_id, t, v, issue, project) for t, v in grants):
            return False
        if issue.level is None:
            return True
        level = self.state.levels.get(issue.level)
        return level is not None and any(
            self._holds(account_id, t, v, issue, project) for t, v in level[1]
        )

    def _in_group(self, account_id: str, group_id: str | None) -> bool:
        return group_id in self.state.groups and account_id in self.state.groups[group_id][1]

    def _holds(
        self, account_id: str, kind: str, value: str | None, issue: JiraIssue, project: JiraProject
    ) -> bool:
        if kind == "anyone":
            return True
        if kind == "user":
            return value == account_id
        if kind == "group":
            return self._in_group(account_id, value)
        if kind == "projectRole":
            return any(
                (t == "user" and v == account_id)
                or (t == "group" and self._in_group(account_id, v))
                for t, v in project.roles.get(value or "", [])
            )
        if kind == "applicationRole":
            keys = [value] if value else list(self.state.app_roles)
            return any(
                self._in_group(account_id, g) for k in keys for g in self.state.app_roles.get(k, [])
            )
        if kind == "reporter":
            return issue.reporter == account_id
        if kind == "assignee":
            return issue.assignee == account_id
        if kind == "projectLead":
            return project.lead == account_id
        if kind == "userCustomField":
            found = issue.custom.get(value or "")
            return account_id in (found if isinstance(found, list) else [found])
        if kind == "groupCustomField":
            found = issue.custom.get(value or "")
            return any(
                self._in_group(account_id, g)
                for g in (found if isinstance(found, list) else [found])
            )
        return False

    # -- the base's hooks -----------------------------------------------------------------------

    def default_handlers(self) -> dict[str, Handler]:
        return {
            "myself": self.myself,
            "project/search": self.project_search,
            "permissionscheme": self.permission_scheme,
            "project/role": self.project_role,
            "level/member": self.level_members,
            "search/jql": self.search_jql,
            "issue/bulkfetch": self.bulk_fetch,
            "group/bulk": self.group_bulk,
            "group/member": self.group_member,
            "applicationrole": self.application_roles,
            "users/search": self.users_search,
            "user/permission/search": self.permission_search,
        }

    def route_of(self, method: str, path: str) -> str | None:
        for route_method, name, pattern in _ROUTES:
            if route_method == method and pattern.match(path):
                return name
        return None

    def token_known(self, token: str) -> bool:
        if token.startswith("basic:"):
            email, _, secret = token[len("basic:") :].partition(":")
            return self.state.credentials.get(email) == secret
        return token in self.state.bearer_tokens

    def _answer(self, request: ApiRequest) -> ApiResponse:
        if not self.check_token(_credential(request)):
            return ApiResponse(401, raw=b"", headers={"content-type": "text/plain"})
        return super()._answer(request)

    def fault_response(
        self, request: ApiRequest, status: int, retry_after: str | None
    ) -> ApiResponse:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        return ApiResponse(
            status, {"errorMessages": [f"injected HTTP {status}"], "errors": {}}, headers
        )

    def unknown_route(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(404, {"errorMessages": ["null for uri"], "errors": {}})

    # -- handlers -------------------------------------------------------------------------------

    def myself(self, request: ApiRequest) -> ApiResponse:
        return ApiResponse(body=self._user(self.state.admin))

    def project_search(self, request: ApiRequest) -> ApiResponse:
        projects = sorted(self.state.projects.values(), key=lambda p: p.key)
        values = [
            {
                "id": p.id,
                "key": p.key,
                "name": p.name,
                "self": f"{self.url}{API}/project/{p.id}",
                "lead": self._user(p.lead),
            }
            for p in projects
        ]
        return self._page_bean(request, values)

    def permission_scheme(self, request: ApiRequest) -> ApiResponse:
        project = self._project(_match(request, "project"))
        if project is None:
            return ApiResponse(404, {"errorMessages": ["No project could be found."], "errors": {}})
        grants = self.state.schemes.get(project.scheme_id)
        if grants is None:
            return ApiResponse(
                404, {"errorMessages": ["Permission scheme not found."], "errors": {}}
            )
        permissions = []
        for n, (permission, kind, value) in enumerate(grants):
            holder: dict[str, Any] = {"type": kind}
            if value is not None:
                holder |= {"parameter": value, "value": value}
            permissions.append({"id": 10000 + n, "permission": permission, "holder": holder})
        return ApiResponse(
            body={
                "id": project.scheme_id,
                "name": f"Scheme {project.scheme_id}",
                "permissions": permissions,
            }
        )

    def project_role(self, request: ApiRequest) -> ApiResponse:
        project = self._project(_match(request, "project"))
        role_id = _match(request, "role")
        if project is None or not role_id.isdigit():
            return ApiResponse(404, {"errorMessages": ["No project could be found."], "errors": {}})
        actors = []
        for n, (kind, value) in enumerate(project.roles.get(role_id, [])):
            if kind == "user":
                user = self.state.users.get(value)
                if user is None or (
                    not user.active and request.query.get("excludeInactiveUsers") == "true"
                ):
                    continue
                actors.append(
                    {
                        "id": n,
                        "type": "atlassian-user-role-actor",
                        "displayName": user.display_name,
                        "actorUser": {"accountId": value},
                    }
                )
            elif value in self.state.groups:
                name = self.state.groups[value][0]
                actors.append(
                    {
                        "id": n,
                        "type": "atlassian-group-role-actor",
                        "displayName": name,
                        "name": name,
                        "actorGroup": {"groupId": value, "name": name, "displayName": name},
                    }
                )
        return ApiResponse(body={"id": int(role_id), "name": f"Role {role_id}", "actors": actors})

    def level_members(self, request: ApiRequest) -> ApiResponse:
        wanted = set(request.query.get("levelId", "").split(",")) - {""}
        values = []
        for level_id in sorted(wanted):
            scheme, holders = self.state.levels.get(level_id, ("", []))
            for n, (kind, value) in enumerate(holders):
                holder: dict[str, Any] = {"type": kind}
                if value is not None:
                    holder |= {"parameter": value, "value": value}
                values.append(
                    {
                        "id": f"{level_id}{n:03d}",
                        "issueSecurityLevelId": level_id,
                        "issueSecuritySchemeId": scheme,
                        "holder": holder,
                    }
                )
        return self._page_bean(request, values)

    def search_jql(self, request: ApiRequest) -> ApiResponse:
        if request.method == "post":
            body = request.json_body if isinstance(request.json_body, dict) else {}
            jql, token, fields = (
                str(body.get("jql", "")),
                body.get("nextPageToken"),
                body.get("fields") or ["id"],
            )
            limit = int(body.get("maxResults", 50))
        else:
            jql, token = request.query.get("jql", ""), request.query.get("nextPageToken")
            fields = request.query.get("fields", "id").split(",")
            limit = int(request.query.get("maxResults", 50))
        try:
            matched = self._query(jql)
        except ValueError as exc:
            return ApiResponse(400, {"errorMessages": [str(exc)], "errors": {}})
        wanted = [f for f in fields if f != "id"]
        size = min(limit, self.page_size if wanted else 5000, 5000 if not wanted else 100)
        start = (
            int(token[len("page-") :])
            if isinstance(token, str) and token.startswith("page-")
            else 0
        )
        page = matched[start : start + size]
        body_out: dict[str, Any] = {"issues": [self._issue(i, wanted) for i in page]}
        if start + size < len(matched):
            body_out |= {"nextPageToken": f"page-{start + size}", "isLast": False}
        else:
            body_out["isLast"] = True
        return ApiResponse(body=body_out)

    def bulk_fetch(self, request: ApiRequest) -> ApiResponse:
        body = request.json_body if isinstance(request.json_body, dict) else {}
        ids = [str(i) for i in body.get("issueIdsOrKeys", [])]
        if len(ids) > 100:
            return ApiResponse(400, {"errorMessages": ["at most 100 issues"], "errors": {}})
        fields = [f for f in body.get("fields") or ["*navigable"] if f != "id"]
        issues, errors = [], []
        for issue_id in ids:
            issue = self.state.issues.get(issue_id)
            if issue is None:
                errors.append(
                    {
                        "id": issue_id,
                        "errorMessage": "Issue does not exist or you do not have permission.",
                    }
                )
            else:
                issues.append(self._issue(issue, fields))
        return ApiResponse(body={"issues": issues, "issueErrors": errors})

    def group_bulk(self, request: ApiRequest) -> ApiResponse:
        values = [
            {"groupId": gid, "name": name} for gid, (name, _) in sorted(self.state.groups.items())
        ]
        return self._page_bean(request, values)

    def group_member(self, request: ApiRequest) -> ApiResponse:
        group_id = request.query.get("groupId")
        if group_id not in self.state.groups:
            return ApiResponse(404, {"errorMessages": ["group not found"], "errors": {}})
        include_inactive = request.query.get("includeInactiveUsers") == "true"
        values = [
            self._user(a, details=True)
            for a in sorted(self.state.groups[group_id][1])
            if a in self.state.users and (include_inactive or self.state.users[a].active)
        ]
        return self._page_bean(request, values)

    def application_roles(self, request: ApiRequest) -> ApiResponse:
        roles = []
        for key, group_ids in sorted(self.state.app_roles.items()):
            details = [
                {"groupId": g, "name": self.state.groups[g][0]}
                for g in group_ids
                if g in self.state.groups
            ]
            roles.append(
                {
                    "key": key,
                    "name": key,
                    "groups": [d["name"] for d in details],
                    "groupDetails": details,
                    "defined": True,
                }
            )
        return ApiResponse(body=roles)

    def users_search(self, request: ApiRequest) -> ApiResponse:
        start, limit = (
            int(request.query.get("startAt", 0)),
            int(request.query.get("maxResults", 50)),
        )
        users = sorted(self.state.users)[start : start + limit]
        return ApiResponse(body=[self._user(a) for a in users])

    def permission_search(self, request: ApiRequest) -> ApiResponse:
        if request.query.get("permissions") != "BROWSE_PROJECTS":
            return ApiResponse(
                400, {"errorMessages": ["only BROWSE_PROJECTS is emulated"], "errors": {}}
            )
        key = request.query.get("issueKey", "")
        issue = next((i for i in self.state.issues.values() if self.key_of(i.id) == key), None)
        if issue is None:
            return ApiResponse(404, {"errorMessages": ["Issue does not exist"], "errors": {}})
        return ApiResponse(
            body=[self._user(a) for a in sorted(self.state.users) if self.can_browse(a, issue)]
        )

    # -- representations ------------------------------------------------------------------------

    def _project(self, id_or_key: str) -> JiraProject | None:
        return self.state.projects.get(id_or_key) or next(
            (p for p in self.state.projects.values() if p.key == id_or_key), None
        )

    def _page_bean(self, request: ApiRequest, values: list[Any]) -> ApiResponse:
        start = int(request.query.get("startAt", 0))
        size = min(int(request.query.get("maxResults", 50)), self.page_size)
        page = values[start : start + size]
        return ApiResponse(
            body={
                "startAt": start,
                "maxResults": size,
                "total": len(values),
                "isLast": start + size >= len(values),
                "values": page,
            }
        )

    def _user(self, account_id: str, *, details: bool = False) -> dict[str, Any]:
        user = self.state.users[account_id]
        body: dict[str, Any] = {
            "accountId": user.account_id,
            "accountType": "atlassian",
            "displayName": user.display_name,
            "active": user.active,
            "self": f"{self.url}{API}/user?accountId={user.account_id}",
        }
        if user.email is not None:
            body["emailAddress"] = user.email
        return body

    def _issue(self, issue: JiraIssue, wanted: list[str]) -> dict[str, Any]:
        project = self.state.projects[issue.project_id]
        key = f"{project.key}-{issue.number}"
        body: dict[str, Any] = {"id": issue.id}
        if not wanted:
            return body
        everything: dict[str, Any] = {
            "summary": issue.summary,
            "description": _adf(issue.description),
            "comment": {
                "comments": [self._comment(c) for c in issue.comments],
                "maxResults": len(issue.comments),
                "total": len(issue.comments),
                "startAt": 0,
            },
            "issuetype": {"id": "10001", "name": issue.issuetype},
            "status": {"id": "10002", "name": issue.status},
            "priority": {"id": "3", "name": issue.priority},
            "assignee": self._user(issue.assignee) if issue.assignee else None,
            "reporter": self._user(issue.reporter),
            "labels": list(issue.labels),
            "components": [{"id": str(n), "name": c} for n, c in enumerate(issue.components)],
            "project": {"id": project.id, "key": project.key, "name": project.name},
            "created": _stamp(issue.created),
            "updated": _stamp(issue.updated),
            "security": {"id": issue.level, "name": f"Level {issue.level}"}
            if issue.level
            else None,
        }
        for name, value in issue.custom.items():
            if isinstance(value, list):
                everything[name] = [self._custom_value(v) for v in value]
            else:
                everything[name] = self._custom_value(value)
        for name in wanted:
            if name.startswith("customfield_"):
                everything.setdefault(name, None)  # a field the issue leaves empty is null
        navigable = "*navigable" in wanted or "*all" in wanted
        fields = {n: v for n, v in everything.items() if navigable or n in wanted}
        return {
            "id": issue.id,
            "key": key,
            "self": f"{self.url}{API}/issue/{issue.id}",
            "fields": fields,
        }

    def _custom_value(self, value: Any) -> Any:
        if isinstance(value, str) and value in self.state.users:
            return self._user(value)
        if isinstance(value, str) and value in self.state.groups:
            return {"groupId": value, "name": self.state.groups[value][0]}
        return value

    def _comment(self, comment: JiraComment) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": comment.id,
            "author": self._user(comment.author),
            "body": _adf(comment.text),
        }
        if comment.visibility is not None:
            body["visibility"] = dict(comment.visibility)
        return body

    # -- JQL ------------------------------------------------------------------------------------

    def _query(self, jql: str) -> list[JiraIssue]:
        where, _, order = jql.partition(" ORDER BY ")
        if not where.strip():
            raise ValueError("unbounded JQL queries are not allowed")
        clauses = [c.strip() for c in re.split(r"\s+AND\s+", where)]
        matched = [
            i for i in self.state.issues.values() if all(self._matches(i, c) for c in clauses)
        ]
        field_name = order.split()[0] if order.strip() else "id"
        if field_name == "updated":
            matched.sort(key=lambda i: (i.updated, int(i.id)))
        elif field_name in ("id", "key"):
            matched.sort(key=lambda i: int(i.id))
        else:
            raise ValueError(f"cannot order by {field_name}")
        return matched

    def _matches(self, issue: JiraIssue, clause: str) -> bool:
        clause = clause.strip()
        while clause.startswith("(") and clause.endswith(")"):
            clause = clause[1:-1].strip()
        found = re.fullmatch(r"(\w+)\s*(=|!=|>=)\s*\"?([\w.-]+)\"?", clause)
        if found is None:
            raise ValueError(f"Error in the JQL Query: {clause!r}")
        name, op, value = found.groups()
        if name == "project" and op == "=":
            project = self.state.projects[issue.project_id]
            return value in (project.id, project.key)
        if name == "updated" and op == ">=":
            return issue.updated >= int(value)
        if name == "labels" and op in ("=", "!="):
            return (value in issue.labels) == (op == "=")
        raise ValueError(f"Error in the JQL Query: field {name!r} with {op!r}")


def _match(request: ApiRequest, group: str) -> str:
    for method, _name, pattern in _ROUTES:
        found = pattern.match(request.path)
        if found is not None and method.lower() == request.method and group in found.groupdict():
            return found.group(group)
    return ""


def _credential(request: ApiRequest) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        try:
            return "basic:" + base64.b64decode(value.strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return None
    return None


def _stamp(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def _adf(text: str) -> dict[str, Any]:
    paragraphs = [p for p in text.split("\n\n") if p]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": p}]} for p in paragraphs
        ],
    }
