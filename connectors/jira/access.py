"""Who may browse an issue: the project's BROWSE_PROJECTS holders, intersected with the members
of the issue's security level when it has one.

Both are lists of permission holders (``PermissionHolder``: anyone, user, group, projectRole,
applicationRole, reporter, assignee, projectLead, userCustomField, groupCustomField). Each layer
is resolved against the issue (its reporter, assignee and custom fields) and the project (its
lead and role actors), and the two layers are intersected with group expansion
(``connectors.acl_layers.effective_acl``). Elastic uses level members alone and Onyx ignores
levels; either leaks.

Fail closed everywhere: a scheme or level that cannot be read makes the issue visible to nobody
and is recorded; a holder type this module does not know admits nobody; an unresolvable role or
custom field admits nobody. "anyone" (anonymous access) becomes the organisation, never wider.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from connectors.acl_layers import effective_acl
from connectors.documents import Acl, AclLayer
from connectors.errors import ConnectorError, RetryableError, SourceUnavailableError
from connectors.jira.gateway import JiraGateway
from connectors.jira.models import Holder, Project
from connectors.org import OrgPolicy
from connectors.principals import InvalidPrincipalError, account, group

log = logging.getLogger(__name__)

BROWSE = "BROWSE_PROJECTS"
NOBODY: Acl = frozenset()
# Issue fields every ACL needs, beside the custom fields holders name.
ACL_FIELDS = ("project", "reporter", "assignee", "security", "updated")
ANY_APPLICATION = "any"


def app_group(source_id: str, key: str) -> str:
    """The group of users licensed for one product (``applicationRole`` holders), never org."""
    return group(source_id, f"app:{key}")


@dataclass
class ProjectAccess:
    project: Project
    browse: tuple[Holder, ...] = ()
    error: str | None = None
    roles: dict[str, frozenset[str] | None] = field(default_factory=dict)

    @property
    def custom_fields(self) -> set[str]:
        return custom_fields_of(self.browse)


def custom_fields_of(holders: Iterable[Holder]) -> set[str]:
    return {
        h.value
        for h in holders
        if h.type in ("userCustomField", "groupCustomField") and h.value is not None
    }


class AccessResolver:
    """Per run: schemes, roles, levels and group members, each read once."""

    def __init__(self, gateway: JiraGateway, source_id: str, org: OrgPolicy) -> None:
        self._gateway = gateway
        self._source = source_id
        self._org = org
        self._projects: dict[str, ProjectAccess] = {}
        self._levels: dict[str, tuple[tuple[Holder, ...], str | None]] = {}
        self._members: dict[str, frozenset[str]] = {}
        self._app_groups: dict[str, frozenset[str]] | None = None
        self.unknown_holders: set[str] = set()

    def project(self, project: Project) -> ProjectAccess:
        if project.id not in self._projects:
            self._projects[project.id] = self._read_project(project)
        return self._projects[project.id]

    def level(self, level_id: str) -> tuple[tuple[Holder, ...], str | None]:
        if level_id not in self._levels:
            try:
                members = self._gateway.level_members(level_id)
                self._levels[level_id] = (tuple(m.holder for m in members), None)
            except (RetryableError, SourceUnavailableError):
                raise
            except ConnectorError as exc:
                self._levels[level_id] = ((), f"security level {level_id} unreadable: {exc}")
        return self._levels[level_id]

    def issue_acl(self, access: ProjectAccess, fields: Mapping[str, Any]) -> tuple[Acl, str | None]:
        """The issue's effective ACL, or nobody and the reason it cannot be known."""
        acl, error, _ = self.issue_access(access, fields)
        return acl, error

    def issue_access(
        self, access: ProjectAccess, fields: Mapping[str, Any]
    ) -> tuple[Acl, str | None, tuple[AclLayer, ...]]:
        """``issue_acl`` and the layers behind it (project scheme, security level), labelled
        for the access explainer; no layers when the ACL cannot be known."""
        if access.error is not None:
            return NOBODY, access.error, ()
        key = access.project.key
        layers = [self._resolve(access.browse, access, fields)]
        labels = [
            AclLayer(
                kind="project permission scheme",
                label=f"project {key}: {BROWSE} holders of its permission scheme",
                principals=layers[0],
                origin=f"project {key}",
            )
        ]
        level_id = _id_of(fields.get("security"))
        if fields.get("security") is not None and level_id is None:
            return NOBODY, "security level without an id", ()
        if level_id is not None:
            holders, error = self.level(level_id)
            if error is not None:
                return NOBODY, error, ()
            missing = custom_fields_of(holders) - set(fields)
            if missing:
                return NOBODY, f"security level {level_id} needs fields {sorted(missing)}", ()
            layers.append(self._resolve(holders, access, fields))
            labels.append(
                AclLayer(
                    kind="security level",
                    label=f"security level {level_id}: its members",
                    principals=layers[-1],
                    origin=f"security level {level_id}",
                )
            )
        # "anyone" admits every principal the other layer admits, accounts included, which
        # org:<tenant> cannot (an account is not known to be a member): such a layer drops out.
        narrowing = [layer for layer in layers if self._org.principal not in layer]
        if narrowing and len(narrowing) < len(layers):
            labels = [label for label in labels if self._org.principal not in label.principals]
            layers = narrowing
        return effective_acl(layers, self.members_of, self._org), None, tuple(labels)

    def members_of(self, principal: str) -> frozenset[str]:
        """Direct members of one of this source's groups (unreadable: none, so nobody via it)."""
        if principal not in self._members:
            self._members[principal] = self._read_members(principal)
        return self._members[principal]

    # -- reading ------------------------------------------------------------------------------

    def _read_project(self, project: Project) -> ProjectAccess:
        access = ProjectAccess(project)
        try:
            scheme = self._gateway.permission_scheme(project.id)
        except (RetryableError, SourceUnavailableError):
            raise
        except ConnectorError as exc:
            access.error = f"permission scheme of {project.key} unreadable: {exc}"
            return access
        if scheme is None:
            access.error = f"permission scheme of {project.key} not found"
            return access
        access.browse = tuple(g.holder for g in scheme.permissions if g.permission == BROWSE)
        return access

    def _role(self, access: ProjectAccess, role_id: str) -> frozenset[str]:
        if role_id not in access.roles:
            try:
                role = self._gateway.project_role(access.project.id, role_id)
            except (RetryableError, SourceUnavailableError):
                raise
            except ConnectorError as exc:
                log.warning(
                    "jira %s: role %s of %s: %s", self._source, role_id, access.project.key, exc
                )
                role = None
            if role is None:
                access.roles[role_id] = None
            else:
                actors: set[str] = set()
                for actor in role.actors:
                    if actor.actor_user is not None:
                        actors.add(account(self._source, actor.actor_user.account_id))
                    elif actor.actor_group is not None and actor.actor_group.group_id:
                        actors.add(group(self._source, actor.actor_group.group_id))
                access.roles[role_id] = frozenset(actors)
        return access.roles[role_id] or frozenset()

    def _resolve(
        self, holders: Iterable[Holder], access: ProjectAccess, fields: Mapping[str, Any]
    ) -> frozenset[str]:
        admitted: set[str] = set()
        for holder in holders:
            try:
                admitted |= self._holder(holder, access, fields)
            except InvalidPrincipalError as exc:
                log.warning("jira %s: holder %s: %s", self._source, holder.type, exc)
        return frozenset(admitted)

    def _holder(self, holder: Holder, access: ProjectAccess, fields: Mapping[str, Any]) -> set[str]:
        kind, value = holder.type, holder.value
        if kind == "anyone":
            return {self._org.principal}
        if kind == "user" and value:
            return {account(self._source, value)}
        if kind == "group" and value:
            return {group(self._source, value)}
        if kind == "projectRole" and value:
            return set(self._role(access, value))
        if kind == "applicationRole":
            return {app_group(self._source, value or ANY_APPLICATION)}
        if kind in ("reporter", "assignee"):
            return self._users(fields.get(kind))
        if kind == "projectLead":
            lead = access.project.lead
            return {account(self._source, lead.account_id)} if lead is not None else set()
        if kind == "userCustomField" and value:
            return self._users(fields.get(value))
        if kind == "groupCustomField" and value:
            return self._groups(fields.get(value))
        # A holder we cannot resolve (a new type, a group named only by name) admits nobody.
        self.unknown_holders.add(kind)
        return set()

    def _users(self, value: Any) -> set[str]:
        values = value if isinstance(value, list) else [value]
        return {
            account(self._source, str(v["accountId"]))
            for v in values
            if isinstance(v, dict) and v.get("accountId")
        }

    def _groups(self, value: Any) -> set[str]:
        values = value if isinstance(value, list) else [value]
        return {
            group(self._source, str(v["groupId"]))
            for v in values
            if isinstance(v, dict) and v.get("groupId")
        }

    def _read_members(self, principal: str) -> frozenset[str]:
        prefix = f"group:{self._source}:"
        if not principal.startswith(prefix):
            return frozenset()
        group_id = principal[len(prefix) :]
        try:
            if group_id.startswith("app:"):
                return self.app_groups().get(group_id[len("app:") :], frozenset())
            members = self._gateway.group_members(group_id)
        except (RetryableError, SourceUnavailableError):
            raise
        except ConnectorError as exc:
            log.warning("jira %s: members of %s unreadable: %s", self._source, group_id, exc)
            return frozenset()
        return frozenset(account(self._source, m.account_id) for m in members if m.active)

    def app_groups(self) -> dict[str, frozenset[str]]:
        """Product key -> the groups granting it, plus ``any`` -> every product's group."""
        if self._app_groups is None:
            found: dict[str, frozenset[str]] = {}
            for role in self._gateway.application_roles():
                found[role.key] = frozenset(
                    group(self._source, g.group_id) for g in role.group_details if g.group_id
                )
            found[ANY_APPLICATION] = frozenset(app_group(self._source, key) for key in found)
            self._app_groups = found
        return self._app_groups


def _id_of(value: Any) -> str | None:
    if isinstance(value, dict) and value.get("id") is not None:
        return str(value["id"])
    return None
