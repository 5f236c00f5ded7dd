"""How a user comes to hold each principal: seeds, group paths with their syncing runs, and
org membership with its reason. Explanation only: the verdict comes from the resolver."""

from __future__ import annotations

from collections import deque

from indexer import principals as p
from indexer.state_store import StateStore
from retrieval.access.models import HeldPrincipal, MembershipStep, OrgMembership, RunRef
from retrieval.identity import IdentityResolver

ACL_RUN_TYPES = frozenset({"incremental", "full", "permissions", "groups"})
FINISHED = frozenset({"succeeded", "partial"})


class RunLookup:
    """Last finished runs per source, read once per explanation."""

    def __init__(self, state: StateStore, *, depth: int = 50) -> None:
        self._state = state
        self._depth = depth
        self._runs: dict[str, list[RunRef]] = {}

    def _of(self, source_id: str) -> list[RunRef]:
        if source_id not in self._runs:
            records = self._state.recent_runs(source_id, limit=self._depth)
            self._runs[source_id] = [
                RunRef(
                    run_id=r.run_id,
                    source_id=r.source_id,
                    run_type=r.run_type,
                    status=r.status,
                    ended_at=r.ended_at,
                )
                for r in records
                if r.status in FINISHED
            ]
        return self._runs[source_id]

    def last_groups_run(self, source_id: str) -> RunRef | None:
        return next((r for r in self._of(source_id) if r.run_type == "groups"), None)

    def last_acl_run(self, source_id: str) -> RunRef | None:
        return next((r for r in self._of(source_id) if r.run_type in ACL_RUN_TYPES), None)


def source_of_group(group: str) -> str:
    """``group:<source>:<id>`` -> ``<source>``."""
    return group.split(":", 2)[1] if group.count(":") >= 2 else ""


def held_principals(
    resolver: IdentityResolver, address: str, runs: RunLookup, *, member: bool
) -> list[HeldPrincipal]:
    """Every principal reachable from the user's seeds, each with its shortest path.

    The same walk as ``IdentityResolver._expand`` (up through ``groups_containing``), one
    principal at a time so each step knows which member led to which group.
    """
    directory = resolver.directory
    seeds: dict[str, str] = {p.user(address): "their own address"}
    for account in sorted(directory.accounts_of(address)):
        seeds.setdefault(
            account, f"identity mapping synced from source {account.split(':', 2)[1]!r}"
        )
    if member:
        seeds.setdefault(resolver.org.principal, "organisation membership")
    held: dict[str, HeldPrincipal] = {
        principal: HeldPrincipal(principal=principal, seed=seed)
        for principal, seed in seeds.items()
    }
    queue = deque(sorted(seeds))
    while queue:
        member_principal = queue.popleft()
        base = held[member_principal]
        for group in sorted(directory.groups_containing({member_principal})):
            if group in held:
                continue
            source_id = source_of_group(group)
            step = MembershipStep(
                member=member_principal,
                group=group,
                source_id=source_id,
                synced_by=runs.last_groups_run(source_id) if source_id else None,
            )
            held[group] = HeldPrincipal(principal=group, seed=base.seed, path=[*base.path, step])
            queue.append(group)
    return sorted(held.values(), key=lambda h: (len(h.path), h.principal))


def org_membership(
    resolver: IdentityResolver, address: str, principals: frozenset[str]
) -> OrgMembership:
    """Whether the resolver gave the user ``org:<tenant>``, and the rule that decided it."""
    org = resolver.org
    member = org.principal in principals
    domain = address.rsplit("@", 1)[1]
    trusted = sorted(org.member_sources)
    if address in org.guests:
        reason = "listed as a guest in the org policy (guests are never members)"
    elif guest_sources := [s for s in trusted if p.guests_group(s) in principals]:
        reason = f"reported as a guest by trusted source {guest_sources[0]!r}"
    elif address in org.members:
        reason = "listed as a member in the org policy"
    elif domain in org.domains:
        reason = f"address at the verified domain {domain}"
    elif member_sources := [s for s in trusted if p.members_group(s) in principals]:
        reason = f"reported as a member by trusted source {member_sources[0]!r}"
    elif not org.domains and not org.members:
        reason = "the deployment has no org policy: nobody is a member"
    else:
        reason = (
            f"{domain} is not a verified domain ({', '.join(sorted(org.domains)) or 'none'}) "
            "and the address is not listed as a member"
        )
    return OrgMembership(tenant=org.tenant, principal=org.principal, member=member, reason=reason)
