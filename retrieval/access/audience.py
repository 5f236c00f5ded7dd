"""Who can see a document: its effective ACL expanded through the synced groups, paged.

``who_can_see(stores, resolver, doc_id, *, offset=0, limit=50) -> AccessAudience``

Users and accounts are listed one by one with the ACL principals that admit them; the
organisation (``org:<tenant>``, in the ACL or as a member of one of its groups) is a class of
people (verified domains and listed members, minus guests), reported once rather than listed.
Every listed user is confirmed with the search path's own check (``search_visible``), so the
list never names someone search would not serve. Counts are per ACL principal and, when the
source's layers are recorded, per layer.
"""

from __future__ import annotations

from collections.abc import Iterable

from indexer import principals as p
from indexer.backends import Stores
from retrieval.access.explain import indexed_acl, recorded_layers, search_visible
from retrieval.access.models import (
    AccessAudience,
    AudienceMember,
    LayerCount,
    OrgMembership,
    PrincipalCount,
)
from retrieval.identity import IdentityError, IdentityResolver

MAX_LIMIT = 500


def _expand(resolver: IdentityResolver, principal: str) -> tuple[set[str], bool]:
    """Users and accounts ``principal`` admits through the directory, and whether it reaches
    the org principal (which admits the organisation's members as a class)."""
    found: set[str] = set()
    org_wide = False
    seen = {principal}
    pending = [principal]
    while pending:
        current = pending.pop()
        kind = p.principal_kind(current)
        if kind in ("user", "account"):
            found.add(current)
        elif current == resolver.org.principal:
            org_wide = True
        elif kind == "group":
            for member in resolver.directory.members_of(current) - seen:
                seen.add(member)
                pending.append(member)
    return found, org_wide


def _org_description(resolver: IdentityResolver) -> str:
    org = resolver.org
    parts = [f"addresses at {', '.join(sorted(org.domains))}" if org.domains else ""]
    if org.members:
        parts.append(f"{len(org.members)} listed member(s)")
    if org.member_sources:
        parts.append(f"members reported by {', '.join(sorted(org.member_sources))}")
    text = " and ".join(part for part in parts if part) or "nobody (no org policy)"
    return text + (f", minus {len(org.guests)} listed guest(s)" if org.guests else "")


def _confirmed(stores: Stores, resolver: IdentityResolver, principal: str, doc_id: str) -> bool:
    if not principal.startswith("user:"):
        return True  # an account is served through whoever it is mapped to
    try:
        principals = resolver.resolve(principal[len("user:") :])
    except IdentityError:
        return False
    return search_visible(stores.index, principals, doc_id)


def who_can_see(
    stores: Stores,
    resolver: IdentityResolver,
    doc_id: str,
    *,
    offset: int = 0,
    limit: int = 50,
) -> AccessAudience:
    offset = max(offset, 0)
    limit = min(max(limit, 0), MAX_LIMIT)
    stored = indexed_acl(stores, doc_id)
    if stored is None:
        return AccessAudience(
            doc_id=doc_id,
            found=False,
            offset=offset,
            limit=limit,
            notes=["not in the index: nobody can find it"],
        )
    via: dict[str, set[str]] = {}
    per_principal: list[PrincipalCount] = []
    org_wide = False
    for principal in sorted(stored.acl):
        admitted, reaches_org = _expand(resolver, principal)
        org_wide |= reaches_org
        for member in admitted:
            via.setdefault(member, set()).add(principal)
        per_principal.append(
            PrincipalCount(
                principal=principal,
                admits=len(admitted),
                description=_org_description(resolver) if reaches_org else None,
            )
        )
    everyone = sorted(via)
    page = everyone[offset : offset + limit]
    members = [
        AudienceMember(principal=m, via=sorted(via[m]))
        for m in page
        if _confirmed(stores, resolver, m, doc_id)
    ]
    notes: list[str] = []
    if len(members) < len(page):
        notes.append(
            f"{len(page) - len(members)} listed member(s) on this page are not served the "
            "document by search (a guest, or an address the resolver refuses) and are omitted"
        )
    org_entry: OrgMembership | None = None
    if org_wide:
        org_entry = OrgMembership(
            tenant=resolver.org.tenant,
            principal=resolver.org.principal,
            member=True,
            reason=_org_description(resolver),
        )
    provenance = recorded_layers(stores, doc_id)
    status = "not_recorded"
    per_layer: list[LayerCount] = []
    if provenance is not None and provenance.acl_fingerprint == stored.acl_fingerprint:
        status = "recorded"
        for position, layer in enumerate(provenance.layers, 1):
            admitted, layer_org = _union(resolver, layer.principals)
            per_layer.append(
                LayerCount(
                    position=position, label=layer.label, admits=len(admitted), org_wide=layer_org
                )
            )
    elif provenance is not None:
        status = "stale"
    if not stored.acl:
        notes.append("the effective ACL is empty: nobody can see this document (fail closed)")
    return AccessAudience(
        doc_id=doc_id,
        found=True,
        title=stored.title,
        source_id=stored.source_id,
        effective_acl=sorted(stored.acl),
        total=len(everyone),
        offset=offset,
        limit=limit,
        members=members,
        org_wide=org_entry,
        per_principal=per_principal,
        layers_status=status,
        per_layer=per_layer,
        acl_written_at=stored.indexed_at,
        notes=notes,
    )


def _union(resolver: IdentityResolver, principals: Iterable[str]) -> tuple[set[str], bool]:
    admitted: set[str] = set()
    org_wide = False
    for principal in principals:
        found, reaches_org = _expand(resolver, principal)
        admitted |= found
        org_wide |= reaches_org
    return admitted, org_wide
