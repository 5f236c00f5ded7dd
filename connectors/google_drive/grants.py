"""Drive permissions -> principals. Drive grants are a union: a file's permissions.list already
holds what it inherits, so the ACL is the set of what each grant admits, never an intersection.

- ``user`` -> ``user:<email>``; ``group`` -> ``group:<source>:<group email>``.
- ``domain`` discoverable -> ``group:<source>:domain:<domain>``, whose members ``groups()``
  reports from the Directory (the tenant's users at that domain).
- ``anyone`` discoverable -> ``org:<tenant>``: a search index serves the organisation, so the
  widest audience it may give is the organisation, never the public.
- ``domain`` or ``anyone`` with ``allowFileDiscovery`` false (link-only) -> nobody: only holders
  of the link may open it, and a search result would hand the link to everyone else.
- deleted or expired grants -> nothing; a grant that cannot be read -> nothing (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from connectors.documents import Acl
from connectors.google_drive.models import DriveFile, DrivePermission
from connectors.org import OrgPolicy
from connectors.principals import InvalidPrincipalError, group, normalise_email, user


def group_principal(source_id: str, email: str) -> str:
    return group(source_id, normalise_email(email))


def domain_principal(source_id: str, domain: str) -> str:
    return group(source_id, f"domain:{domain.strip().casefold()}")


def acl_of(
    permissions: Iterable[DrivePermission],
    file: DriveFile,
    *,
    source_id: str,
    org: OrgPolicy,
    now: Callable[[], datetime],
) -> Acl:
    principals: set[str] = set()
    for grant in permissions:
        if (
            file.inherited_permissions_disabled
            and grant.details
            and all(d.inherited for d in grant.details)
        ):
            # A limited-access item: what it would inherit does not reach it.
            continue
        principal = _principal(grant, source_id=source_id, org=org, now=now)
        if principal is not None:
            principals.add(principal)
    return frozenset(principals)


def _principal(
    grant: DrivePermission, *, source_id: str, org: OrgPolicy, now: Callable[[], datetime]
) -> str | None:
    if grant.deleted or _expired(grant.expiration_time, now):
        return None
    try:
        if grant.type == "user" and grant.email:
            return user(grant.email)
        if grant.type == "group" and grant.email:
            return group_principal(source_id, grant.email)
        if grant.type == "domain" and grant.domain and grant.allow_file_discovery:
            return domain_principal(source_id, grant.domain)
        if grant.type == "anyone" and grant.allow_file_discovery:
            return org.principal
    except InvalidPrincipalError:
        return None
    return None


def _expired(expiration: str | None, now: Callable[[], datetime]) -> bool:
    if not expiration:
        return False
    try:
        when = datetime.fromisoformat(expiration.replace("Z", "+00:00"))
    except ValueError:
        return True  # an unreadable expiry is treated as passed: fail closed
    if when.tzinfo is None:
        return True
    return when <= now()
