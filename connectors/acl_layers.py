"""Resolve layered visibility (a page under restricted ancestors) into one effective ACL.

A caller must pass every layer. Each layer is expanded to everything it admits (its principals
plus, transitively, the members of its groups); a principal is in the effective ACL only when
every layer admits it, so the result is never wider than any single layer and, when in doubt,
narrower (fail closed). A layer naming ``org:<tenant>`` admits exactly the organisation's members
(``connectors.org``): a guest named in a narrower layer below it does not pass it, and
``org:<other>`` admits no one from this tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from connectors.documents import Acl
from connectors.org import OrgPolicy

MembersOf = Callable[[str], Iterable[str]]


def expand(layer: Iterable[str], members_of: MembersOf) -> set[str]:
    admitted: set[str] = set()
    pending = list(layer)
    while pending:
        principal = pending.pop()
        if principal in admitted:
            continue  # also what keeps cyclic group nesting finite
        admitted.add(principal)
        if principal.startswith("group:"):
            pending.extend(members_of(principal))
    return admitted


def effective_acl(layers: Sequence[Acl], members_of: MembersOf, org: OrgPolicy) -> Acl:
    if not layers or any(not layer for layer in layers):
        return frozenset()
    if len(layers) == 1:
        # One layer is its own effective ACL, groups left as groups so that later membership
        # changes apply at query time without recomputing the ACL.
        return frozenset(layers[0])
    expanded = [expand(layer, members_of) for layer in layers]
    candidates = set().union(*expanded)
    return frozenset(
        principal
        for principal in candidates
        if all(_admits(layer, principal, org) for layer in expanded)
    )


def _admits(expanded_layer: set[str], principal: str, org: OrgPolicy) -> bool:
    if principal in expanded_layer:
        return True
    return org.principal in expanded_layer and org.includes(principal)
