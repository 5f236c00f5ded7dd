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

The explainer's layers (``grants_of``) are one per grant as permissions.list gives it, with its
role and where it comes from (the file, a parent folder, the shared drive's membership); a grant
that admits nobody in search (link-only, expired, cut by limited access) is a layer with no
principals that says why. Drive's layers are alternatives: any one admits, and the union of
their principals is exactly the ACL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from connectors.documents import Acl, AclLayer
from connectors.google_drive.models import DriveFile, DrivePermission
from connectors.org import OrgPolicy
from connectors.principals import InvalidPrincipalError, group, normalise_email, user


def group_principal(source_id: str, email: str) -> str:
    return group(source_id, normalise_email(email))


def domain_principal(source_id: str, domain: str) -> str:
    return group(source_id, f"domain:{domain.strip().casefold()}")


@dataclass(frozen=True)
class Grants:
    """A file's ACL and the layers that say where each of its principals comes from."""

    acl: Acl
    layers: tuple[AclLayer, ...]


def acl_of(
    permissions: Iterable[DrivePermission],
    file: DriveFile,
    *,
    source_id: str,
    org: OrgPolicy,
    now: Callable[[], datetime],
) -> Acl:
    return grants_of(permissions, file, source_id=source_id, org=org, now=now).acl


def grants_of(
    permissions: Iterable[DrivePermission],
    file: DriveFile,
    *,
    source_id: str,
    org: OrgPolicy,
    now: Callable[[], datetime],
) -> Grants:
    principals: set[str] = set()
    layers: set[AclLayer] = set()
    for grant in permissions:
        principal: str | None = None
        why: str | None = None
        if (
            file.inherited_permissions_disabled
            and grant.details
            and all(d.inherited for d in grant.details)
        ):
            # A limited-access item: what it would inherit does not reach it.
            why = "not applied: the file has limited access (inherited permissions disabled)"
        else:
            principal = _principal(grant, source_id=source_id, org=org, now=now)
            why = None if principal is not None else _nobody_because(grant, now)
        if principal is not None:
            principals.add(principal)
        layers.add(_layer(grant, file, principal, why))
    if not layers:
        layers.add(no_grants(file.id, "permissions.list gave no grant: nobody"))
    ordered = sorted(layers, key=lambda layer: (_rank(layer), layer.kind, layer.label))
    return Grants(acl=frozenset(principals), layers=tuple(ordered))


def no_grants(file_id: str, why: str) -> AclLayer:
    """The one layer of a file whose grants could not be read (fail closed: nobody)."""
    return AclLayer(
        kind="unreadable grants", label=why[:512], principals=frozenset(), origin=f"file {file_id}"
    )


def _layer(
    grant: DrivePermission, file: DriveFile, principal: str | None, why: str | None
) -> AclLayer:
    member = any(d.permission_type == "member" for d in grant.details)
    inherited = bool(grant.details) and all(d.inherited for d in grant.details)
    sources = sorted({d.inherited_from for d in grant.details if d.inherited_from})
    kind = f"{grant.type or 'untyped'} grant"
    if member:
        kind, where = "shared drive member", f"member of shared drive {file.drive_id}"
        origin = f"shared drive {file.drive_id}"
    elif inherited:
        kind += " (inherited)"
        folders = ", ".join(f"folder {source}" for source in sources) or "a parent folder"
        where, origin = f"inherited from {folders}", folders
    else:
        where, origin = "on the file", f"file {file.id}"
    label = f"{grant.role or 'no role'}: {_grantee(grant)}, {where}"
    if why is not None:
        label += f"; {why}"
    elif grant.type == "anyone":
        label += "; admits the organisation, never the public"
    return AclLayer(
        kind=kind[:64],
        label=label[:512],
        principals=frozenset({principal}) if principal is not None else frozenset(),
        origin=origin[:2048],
        # Any one grant admits: the file's ACL is the union of its grants.
        alternative=True,
    )


def _rank(layer: AclLayer) -> int:
    # On the file, then inherited from folders, then the shared drive's members.
    if layer.kind == "shared drive member":
        return 2
    return 1 if layer.kind.endswith("(inherited)") else 0


def _grantee(grant: DrivePermission) -> str:
    if grant.type in ("user", "group"):
        return f"{grant.type} {grant.email or '(no address)'}"
    if grant.type == "domain":
        return f"everyone at {grant.domain or '(no domain)'}"
    if grant.type == "anyone":
        return "anyone"
    return f"{grant.type or 'a grant of no type'}"


def _nobody_because(grant: DrivePermission, now: Callable[[], datetime]) -> str:
    if grant.deleted:
        return "deleted: admits nobody"
    if _expired(grant.expiration_time, now):
        return f"expired ({grant.expiration_time}): admits nobody"
    if grant.type in ("domain", "anyone") and not grant.allow_file_discovery:
        return "link only: search admits nobody (it would hand the link to everyone)"
    return "unreadable grant: admits nobody"


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
