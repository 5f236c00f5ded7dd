"""How a user comes to hold each principal: seeds, group paths with their syncing runs, and
org membership with its reason. Explanation only: the verdict comes from the resolver."""

from __future__ import annotations

import itertools
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


def seeds_of(
    resolver: IdentityResolver, address: str, principals: frozenset[str]
) -> dict[str, str]:
    """Where the resolver's walk starts, and why: the address, its mapped accounts (the only
    accounts a resolution holds) and, for members, the org principal."""
    seeds = {p.user(address): "their own address"}
    for account in sorted(x for x in principals if p.principal_kind(x) == "account"):
        seeds[account] = f"identity mapping synced from source {account.split(':', 2)[1]!r}"
    if resolver.org.principal in principals:
        seeds[resolver.org.principal] = "organisation membership"
    return seeds


def held_principals(
    resolver: IdentityResolver,
    address: str,
    principals: frozenset[str],
    wanted: set[str],
    runs: RunLookup,
) -> list[HeldPrincipal]:
    """How the user holds each of ``wanted`` (a subset of the resolver's ``principals``): the
    seed and the group memberships from it up to the principal, traced down from the group
    through the synced members the user holds, shortest first."""
    seeds = seeds_of(resolver, address, principals)
    held: list[HeldPrincipal] = []
    for principal in sorted(wanted & principals):
        if principal in seeds:
            held.append(HeldPrincipal(principal=principal, seed=seeds[principal]))
            continue
        chain = _chain_down(resolver, principal, principals, seeds)
        if chain is None:
            held.append(HeldPrincipal(principal=principal, seed="not traced"))
            continue
        steps = []
        for member, group in itertools.pairwise(chain):
            source_id = source_of_group(group)
            steps.append(
                MembershipStep(
                    member=member,
                    group=group,
                    source_id=source_id,
                    synced_by=runs.last_groups_run(source_id) if source_id else None,
                )
            )
        held.append(HeldPrincipal(principal=principal, seed=seeds[chain[0]], path=steps))
    return sorted(held, key=lambda h: (len(h.path), h.principal))


def _chain_down(
    resolver: IdentityResolver, group: str, principals: frozenset[str], seeds: dict[str, str]
) -> list[str] | None:
    """[seed, ..., group] through memberships among ``principals``; None if not found (a
    membership replaced since the resolution)."""
    above: dict[str, str | None] = {group: None}
    queue = deque([group])
    while queue:
        current = queue.popleft()
        for member in sorted(resolver.directory.members_of(current) & principals):
            if member in above:
                continue
            above[member] = current
            if member in seeds:
                chain = [member]
                while (parent := above[chain[-1]]) is not None:
                    chain.append(parent)
                return chain
            if p.principal_kind(member) == "group":
                queue.append(member)
    return None


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
