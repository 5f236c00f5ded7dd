"""``JiraConnector``: the issues of a Jira Cloud site, with browse permissions and security levels.

- Changes: per project, ``search/jql`` windows ``updated >= <ms> ORDER BY updated ASC`` re-read
  ``overlap_s`` before the last ``updated`` seen (search is eventually consistent), with the ACL
  fields on each page; bodies of issues whose version the index lacks come from
  ``issue/bulkfetch``. Each project keeps its own cursor; a failed project keeps its cursor.
- Status or assignee changes move only metadata: the text (title, summary, description and
  public comments) is unchanged, so the indexer rewrites fields without re-embedding.
- External ids are ``<project id>/<issue id>``: the project is the scope (``work_scopes``,
  ``for_scope``). An issue moved to another project is a new document under the new project;
  the run that writes it deletes its copies under the other projects (and the bare ``<issue
  id>`` of checkpoint format 1), and a permissions run hides them (nobody) until then.
- Deletions: an id-only ``search/jql`` listing over the configured projects. Any project that
  cannot be listed ends the listing incomplete, so nothing is pruned.
- Permissions: ``access.AccessResolver``; permissions runs walk one project at a time.
- Comments restricted by ``visibility`` (a group or a role) are left out of the index (see
  docs/connectors/jira.md), so they never travel with the issue's ACL.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter, ValidationError

from connectors.contract import EMPTY_INDEX, Capabilities, Connector, SyncContext
from connectors.directory import GroupMembership, IdentityMapping
from connectors.documents import Acl, AclLayer, SourceDocument, SourceId
from connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    PermissionSourceUnreadableError,
    RetryableError,
    SourceUnavailableError,
)
from connectors.events import (
    ChangeEvent,
    Checkpoint,
    CheckpointReached,
    DocumentDeleted,
    DocumentFailed,
    DocumentUpserted,
    ListingEnd,
    ListingEvent,
    LiveId,
    PermissionsChanged,
    PermissionsEvent,
    ScopeFailed,
)
from connectors.jira.access import ACL_FIELDS, NOBODY, AccessResolver, ProjectAccess
from connectors.jira.adf import adf_to_text
from connectors.jira.gateway import BULK_FETCH_MAX, JiraGateway, SearchPage
from connectors.jira.models import Issue, Project
from connectors.org import OrgPolicy, members_group
from connectors.principals import InvalidPrincipalError, account, group

log = logging.getLogger(__name__)

_SOURCE_ID = TypeAdapter(SourceId)
# 2: external ids carry the project (``<project id>/<issue id>``); a format 1 checkpoint is
# read as none, so every project is read again and its issues rewritten under the new ids.
CHECKPOINT_FORMAT = "jira-checkpoint/2"
# Ids per index lookup when looking for an issue's copies under other projects.
_LOOKUP_BATCH = 500
# Part of every version: bump when the document recipe changes, so every issue is fetched again.
_VERSION_FORMAT = "jira/1"
CONTENT_FIELDS = (
    "summary",
    "description",
    "comment",
    "issuetype",
    "status",
    "priority",
    "assignee",
    "reporter",
    "labels",
    "components",
    "project",
    "created",
    "updated",
    "security",
)


class JiraConnector(Connector):
    capabilities = Capabilities(
        incremental=True,
        listing=True,
        permissions_refresh=True,
        groups=True,
        identities=True,
        acls_expand_groups=True,
    )

    def __init__(
        self,
        *,
        source_id: str,
        gateway: JiraGateway,
        org: OrgPolicy,
        clock: Callable[[], datetime],
        projects: frozenset[str] | None = None,
        exclude_projects: frozenset[str] = frozenset(),
        jql: str | None = None,
        overlap_s: int = 120,
        max_pages: int = 50,
    ) -> None:
        try:
            self.source_id = _SOURCE_ID.validate_python(source_id)
        except ValidationError as exc:
            raise ConnectorConfigError(f"jira source {source_id!r}: {exc}") from exc
        self._gateway = gateway
        self._org = org
        self._clock = clock
        self._allow = projects
        self._deny = exclude_projects
        self._filter = jql
        self._overlap_ms = overlap_s * 1000
        self._max_pages = max_pages
        self._scope: str | None = None  # a project id: this connector covers that project only
        # What the last identities() run could not map: accounts whose email is hidden (None
        # until identities() has run: other run types have nothing to report).
        self.hidden_emails: int | None = None

    # -- scopes (schedules.scopes.ScopedSource) ------------------------------------------------

    def work_scopes(self) -> list[str]:
        """The configured projects' ids (one project listing), in id order."""
        return sorted((p.id for p in self._projects(self._gateway)), key=_id_order)

    def for_scope(self, scope: str) -> JiraConnector:
        scoped = copy.copy(self)
        scoped._scope = scope
        scoped.hidden_emails = None
        return scoped

    def scope_of(self, external_id: str) -> str:
        project, sep, _ = external_id.partition("/")
        return project if sep else ""  # a format 1 id (bare issue id) names no project

    # -- contract -------------------------------------------------------------------------------

    def validate(self) -> None:
        try:
            self._gateway.myself()
        except SourceUnavailableError as exc:
            raise ConnectorConfigError(f"jira source {self.source_id!r}: {exc}") from exc

    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        gateway = self._gateway.with_stop(context.stop)
        resolver = AccessResolver(gateway, self.source_id, self._org)
        cursors: dict[str, int] = {}
        if checkpoint is not None and checkpoint.value.get("format") == CHECKPOINT_FORMAT:
            cursors = {str(k): int(v) for k, v in checkpoint.value.get("cursors", {}).items()}
        projects = self._projects(gateway)
        others = self._other_projects(gateway, projects)
        for project in projects:
            since = None if context.full else cursors.get(project.id)
            reached = cursors.get(project.id)
            try:
                changes = self._project_changes(gateway, resolver, project, since, context, others)
                for event in changes:
                    if isinstance(event, int):
                        reached = event if reached is None else max(event, reached)
                    else:
                        yield event
            except (RetryableError, SourceUnavailableError):
                raise
            except ConnectorError as exc:
                yield _scope_failed(project, exc)  # its cursor stays
                continue
            if reached is not None:
                cursors[project.id] = reached
            yield CheckpointReached(checkpoint=self._checkpoint(cursors))
        self._log_unknown(resolver)
        yield CheckpointReached(checkpoint=self._checkpoint(cursors))

    def list_live_ids(self) -> Iterator[ListingEvent]:
        try:
            projects = self._projects(self._gateway)
        except (RetryableError, SourceUnavailableError):
            raise
        except ConnectorError as exc:
            yield ListingEnd(completed=False, reason=f"projects cannot be listed: {exc}")
            return
        incomplete: str | None = None
        for project in projects:
            try:
                for page in self._pages(self._gateway, self._jql(project, None, "id"), (), True):
                    for issue in page.issues:
                        yield LiveId(external_id=_external_id(project, issue.id))
            except (RetryableError, SourceUnavailableError):
                raise
            except ConnectorError as exc:
                incomplete = incomplete or f"project {project.key}: {exc}"
                yield _scope_failed(project, exc)
        yield ListingEnd(completed=incomplete is None, reason=incomplete)

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        gateway = self._gateway.with_stop(context.stop)
        resolver = AccessResolver(gateway, self.source_id, self._org)
        done: list[str] = []
        if checkpoint is not None and checkpoint.value.get("format") == CHECKPOINT_FORMAT:
            done = [str(p) for p in checkpoint.value.get("done", [])]
        from_start = not done
        seen: set[str] = set()
        complete = True
        projects = self._projects(gateway)
        others = self._other_projects(gateway, projects)
        for project in projects:
            if project.id in done:
                continue
            access = resolver.project(project)
            try:
                fields = (*ACL_FIELDS, *sorted(access.custom_fields))
                for page in self._pages(gateway, self._jql(project, None, "id"), fields, False):
                    issues = self._with_level_fields(gateway, resolver, page.issues, fields)
                    ids = {i.id: _external_id(project, i.id) for i in issues}
                    seen.update(ids.values())
                    for issue in issues:
                        acl, _, layers = resolver.issue_access(access, issue.fields)
                        yield self._acl_event(ids[issue.id], acl, layers)
                    # Not yet written under this project (moved in since the last incremental
                    # run): a copy under another project keeps that project's ACL, so nobody.
                    held = context.indexed_versions(list(ids.values()))
                    arrived = [i for i, e in ids.items() if e not in held]
                    for copy_id in self._copies_elsewhere(project, arrived, others, context):
                        yield self._acl_event(copy_id, NOBODY)
            except (RetryableError, SourceUnavailableError):
                raise
            except ConnectorError as exc:
                complete = False
                yield _scope_failed(project, exc)
                continue
            done.append(project.id)
            yield CheckpointReached(checkpoint=self._checkpoint(None, done))
        if from_start and complete:
            # Gone from every project since the last incremental run (deleted, moved out of the
            # configured projects): the old ACL is stale, so nobody until pruning removes it. In
            # a scope run, the index names only this project's documents.
            for external_id in context.indexed_ids():
                if external_id not in seen:
                    yield self._acl_event(external_id, NOBODY)
        self._log_unknown(resolver)
        yield CheckpointReached(checkpoint=self._checkpoint(None, []))

    def groups(self) -> Iterator[GroupMembership]:
        resolver = AccessResolver(self._gateway, self.source_id, self._org)
        try:
            site_groups = self._gateway.groups()
            memberships = [
                GroupMembership(
                    group=group(self.source_id, group_id),
                    members=frozenset(
                        account(self.source_id, m.account_id)
                        for m in self._gateway.group_members(group_id)
                        if m.active
                    ),
                )
                for group_id, _name in site_groups
            ]
            apps = resolver.app_groups()
        except (RetryableError, SourceUnavailableError):
            raise
        except (ConnectorError, InvalidPrincipalError) as exc:
            raise PermissionSourceUnreadableError(f"jira source {self.source_id!r}: {exc}") from exc
        yield from memberships
        for key, members in apps.items():
            yield GroupMembership(group=group(self.source_id, f"app:{key}"), members=members)
        # Licensed users are the site's people: offered as org members (trusted sources only).
        yield GroupMembership(
            group=members_group(self.source_id),
            members=frozenset({group(self.source_id, "app:any")}),
        )

    def run_notes(self) -> dict[str, int]:
        if self.hidden_emails is None:
            return {}
        return {"hidden_emails": self.hidden_emails}

    def identities(self) -> Iterator[IdentityMapping]:
        hidden = 0
        for user in self._gateway.users():
            if user.account_type not in (None, "atlassian") or not user.active:
                continue  # apps, customers and deactivated accounts are nobody's identity
            if not user.email:
                hidden += 1
                continue
            try:
                yield IdentityMapping(
                    account=account(self.source_id, user.account_id), email=user.email
                )
            except (ValidationError, InvalidPrincipalError):
                hidden += 1
        self.hidden_emails = hidden
        if hidden:
            log.warning(
                "jira %s: %d accounts hide their email; they match only as account principals",
                self.source_id,
                hidden,
            )

    # -- changes of one project -----------------------------------------------------------------

    def _project_changes(
        self,
        gateway: JiraGateway,
        resolver: AccessResolver,
        project: Project,
        since: int | None,
        context: SyncContext,
        others: Sequence[str],
    ) -> Iterator[ChangeEvent | int]:
        """The project's events, and ints: the highest ``updated`` (ms) covered so far."""
        access = resolver.project(project)
        fields = (*ACL_FIELDS, *sorted(access.custom_fields))
        window = None if since is None else max(0, since - self._overlap_ms)
        while True:
            highest: int | None = None
            reached_end = True
            for pages, page in enumerate(
                self._pages(
                    gateway, self._jql(project, window, "updated"), fields, False, cap=False
                ),
                start=1,
            ):
                issues = self._with_level_fields(gateway, resolver, page.issues, fields)
                yield from self._page_events(gateway, resolver, access, issues, context, others)
                for issue in issues:
                    stamp = _ms(issue.fields.get("updated"))
                    if stamp is not None:
                        highest = stamp if highest is None else max(highest, stamp)
                if highest is not None:
                    yield highest
                if pages >= self._max_pages and page.next_token is not None:
                    reached_end = False
                    break
            if reached_end:
                return
            if highest is None or (window is not None and highest <= window):
                raise _WindowStuck(f"more than {self._max_pages} pages share one updated time")
            window = highest  # the next window starts where this one stopped, inclusive

    def _page_events(
        self,
        gateway: JiraGateway,
        resolver: AccessResolver,
        access: ProjectAccess,
        issues: Sequence[Issue],
        context: SyncContext,
        others: Sequence[str],
    ) -> Iterator[ChangeEvent]:
        project = access.project
        acls: dict[str, tuple[Acl, str | None, tuple[AclLayer, ...]]] = {
            i.id: resolver.issue_access(access, i.fields) for i in issues
        }
        ids = {i.id: _external_id(project, i.id) for i in issues}
        # A full run ignores versions, but still needs to know which issues are new here.
        held = context.indexed_versions(list(ids.values()))
        known = {} if context.full else held
        stale = [i.id for i in issues if known.get(ids[i.id]) != _version(i.fields.get("updated"))]
        bodies: dict[str, Issue] = {}
        missing: set[str] = set()
        for start in range(0, len(stale), BULK_FETCH_MAX):
            found, failed = gateway.bulk_fetch(
                stale[start : start + BULK_FETCH_MAX], CONTENT_FIELDS
            )
            bodies.update({issue.id: issue for issue in found})
            missing |= failed
        written: list[str] = []  # issues written here that the index did not hold here
        unreadable: list[str] = []  # and those whose ACL cannot be read
        for issue in issues:
            external_id = ids[issue.id]
            acl, error, layers = acls[issue.id]
            body = bodies.get(issue.id)
            if error is not None:
                yield self._acl_event(external_id, NOBODY)
                yield self._failed(external_id, error)
                if external_id not in held:
                    unreadable.append(issue.id)
            elif issue.id not in stale:
                yield self._acl_event(external_id, acl, layers)
            elif body is not None and _project_id(body) not in (None, project.id):
                # Moved on since the search named it here: found under its new project, and
                # this project's copy must not keep this project's ACL meanwhile.
                yield self._acl_event(external_id, NOBODY)
            elif body is not None:
                upserted = False
                for event in self._upsert(body, project, acl, layers):
                    upserted = upserted or isinstance(event, DocumentUpserted)
                    yield event
                if upserted and external_id not in held:
                    written.append(issue.id)
            else:
                # Vanished between the search and the fetch (deleted, moved, restricted): not
                # evidence of deletion, and its indexed copy must not keep a stale ACL.
                yield self._acl_event(external_id, NOBODY)
                yield self._failed(external_id, "issue/bulkfetch did not return it")
        # Moved here from another project (or indexed under a format 1 id): the old copy goes
        # in the run that writes the new one, whichever scope held it.
        for copy_id in self._copies_elsewhere(project, written, others, context):
            yield DocumentDeleted(source_id=self.source_id, external_id=copy_id)
        # In this project now, but not written: an older copy keeps an ACL that no longer
        # applies, so nobody (a failing document keeps nothing of its source's old access).
        for copy_id in self._copies_elsewhere(project, unreadable, others, context):
            yield self._acl_event(copy_id, NOBODY)

    def _upsert(
        self, issue: Issue, project: Project, acl: Acl, layers: tuple[AclLayer, ...] = ()
    ) -> Iterator[ChangeEvent]:
        try:
            document = self._document(issue, project, acl).model_copy(update={"acl_layers": layers})
        except (ValidationError, ValueError, TypeError) as exc:
            yield self._acl_event(_external_id(project, issue.id), acl)
            yield self._failed(_external_id(project, issue.id), f"invalid issue: {exc}")
            return
        yield DocumentUpserted(document=document)

    def _document(self, issue: Issue, project: Project, acl: Acl) -> SourceDocument:
        f = issue.fields
        summary = str(f.get("summary") or "")
        parts = [summary, adf_to_text(f.get("description"))]
        for comment in _comments(f.get("comment")):
            if comment.get("visibility"):
                continue  # restricted to a group or role: never under the issue's ACL
            author = _name(comment.get("author")) or "someone"
            text = adf_to_text(comment.get("body"))
            if text:
                parts.append(f"{author}: {text}")
        updated = _datetime(f.get("updated"))
        if updated is None:
            raise ValueError("issue has no updated time")
        metadata: dict[str, str | list[str]] = {"project": project.key, "key": issue.key}
        for name, value in (
            ("type", _name(f.get("issuetype"))),
            ("status", _name(f.get("status"))),
            ("priority", _name(f.get("priority"))),
            ("assignee", _name(f.get("assignee"))),
            ("reporter", _name(f.get("reporter"))),
        ):
            if value:
                metadata[name] = value
        labels = [str(label) for label in f.get("labels") or [] if isinstance(label, str)]
        components = [c for c in (_name(c) for c in f.get("components") or []) if c]
        if labels:
            metadata["labels"] = labels
        if components:
            metadata["components"] = components
        return SourceDocument(
            source_id=self.source_id,
            external_id=_external_id(project, issue.id),
            title=f"{issue.key}: {summary}" if summary else issue.key,
            body="\n\n".join(part for part in parts if part),
            url=f"{self._gateway.base_url}/browse/{issue.key}",
            author=_name(f.get("reporter")),
            created_at=_datetime(f.get("created")),
            updated_at=updated,
            doc_type="issue",
            breadcrumbs=(project.name or project.key,),
            metadata=metadata,
            version=_version(f.get("updated")),
            acl=acl,
        )

    # -- helpers --------------------------------------------------------------------------------

    def _projects(self, gateway: JiraGateway) -> list[Project]:
        """The projects this connector covers: the configured ones, or its scope's one."""
        return [p for p in self._configured(gateway) if self._scope in (None, p.id)]

    def _configured(self, gateway: JiraGateway) -> list[Project]:
        return [
            p
            for p in gateway.projects()
            if (self._allow is None or p.key in self._allow) and p.key not in self._deny
        ]

    def _other_projects(self, gateway: JiraGateway, covered: list[Project]) -> list[str]:
        """Every configured project's id: where a copy of an issue moved here may be indexed."""
        if self._scope is None:
            return [p.id for p in covered]
        return [p.id for p in self._configured(gateway)]

    def _copies_elsewhere(
        self,
        project: Project,
        issue_ids: Iterable[str],
        projects: Sequence[str],
        context: SyncContext,
    ) -> Iterator[str]:
        """External ids the index holds for these issues outside ``project``: under another
        configured project, or the bare id of checkpoint format 1."""
        candidates = [
            candidate
            for issue_id in issue_ids
            for candidate in (
                issue_id,
                *(f"{other}/{issue_id}" for other in projects if other != project.id),
            )
        ]
        for start in range(0, len(candidates), _LOOKUP_BATCH):
            yield from context.indexed_versions(candidates[start : start + _LOOKUP_BATCH])

    def _jql(self, project: Project, since_ms: int | None, order: str) -> str:
        clauses = [f"project = {project.id}"]
        if self._filter:
            clauses.append(f"({self._filter})")
        if since_ms is not None:
            clauses.append(f"updated >= {since_ms}")
        return " AND ".join(clauses) + f" ORDER BY {order} ASC"

    def _pages(
        self,
        gateway: JiraGateway,
        jql: str,
        fields: Sequence[str],
        ids_only: bool,
        *,
        cap: bool = True,
    ) -> Iterator[SearchPage]:
        token: str | None = None
        pages = 0
        while True:
            page = gateway.search(jql, fields, token, ids_only=ids_only)
            pages += 1
            yield page
            if page.next_token is None:
                return
            if cap and pages >= self._max_pages * 50:
                raise _WindowStuck(f"search went past {pages} pages without its last page")
            token = page.next_token

    def _with_level_fields(
        self,
        gateway: JiraGateway,
        resolver: AccessResolver,
        issues: Sequence[Issue],
        fields: Sequence[str],
    ) -> list[Issue]:
        """The issues, re-read with the custom fields their security levels' holders name."""
        extra: set[str] = set()
        for issue in issues:
            security = issue.fields.get("security")
            if isinstance(security, dict) and security.get("id") is not None:
                holders, _ = resolver.level(str(security["id"]))
                extra |= {h.value for h in holders if h.value and h.type.endswith("CustomField")}
        extra -= set(fields)
        if not extra:
            return list(issues)
        wider = (*fields, *sorted(extra))
        refetched: dict[str, Issue] = {}
        ids = [i.id for i in issues]
        for start in range(0, len(ids), BULK_FETCH_MAX):
            found, _ = gateway.bulk_fetch(ids[start : start + BULK_FETCH_MAX], wider)
            refetched.update({issue.id: issue for issue in found})
        return [refetched.get(i.id, i) for i in issues]

    def _acl_event(
        self, external_id: str, acl: Acl, layers: tuple[AclLayer, ...] = ()
    ) -> PermissionsChanged:
        return PermissionsChanged(
            source_id=self.source_id, external_id=external_id, acl=acl, acl_layers=layers
        )

    def _failed(self, external_id: str, reason: str) -> DocumentFailed:
        return DocumentFailed(source_id=self.source_id, external_id=external_id, reason=reason)

    def _checkpoint(
        self, cursors: dict[str, int] | None, done: list[str] | None = None
    ) -> Checkpoint:
        value: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "taken_at": self._clock().isoformat()}
        if cursors is not None:
            value["cursors"] = dict(cursors)
        if done is not None:
            value["done"] = list(done)
        return Checkpoint(value=value)

    def _log_unknown(self, resolver: AccessResolver) -> None:
        if resolver.unknown_holders:
            log.warning(
                "jira %s: holder types admitting nobody: %s",
                self.source_id,
                ", ".join(sorted(resolver.unknown_holders)),
            )


def _external_id(project: Project, issue_id: str) -> str:
    return f"{project.id}/{issue_id}"


def _project_id(issue: Issue) -> str | None:
    project = issue.fields.get("project")
    found = project.get("id") if isinstance(project, dict) else None
    return None if found is None else str(found)


def _id_order(ident: str) -> tuple[int, str]:
    return (int(ident), "") if ident.isdigit() else (0, ident)


def _scope_failed(project: Project, exc: Exception) -> ScopeFailed:
    return ScopeFailed(scope=project.id, reason=f"project {project.key}: {exc}")


class _WindowStuck(ConnectorError):
    """A search that paging cannot finish; the project fails, its cursor stays."""


def _comments(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = value.get("comments")
    return [c for c in value if isinstance(c, dict)] if isinstance(value, list) else []


def _name(value: Any) -> str | None:
    if isinstance(value, dict):
        found = value.get("displayName") or value.get("name") or value.get("value")
        return str(found) if found else None
    return None


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    return parsed if parsed.tzinfo is not None else None


def _ms(value: Any) -> int | None:
    parsed = _datetime(value)
    return None if parsed is None else int(parsed.timestamp() * 1000)


def _version(updated: Any) -> str:
    return f"{_VERSION_FORMAT}|{updated}"
