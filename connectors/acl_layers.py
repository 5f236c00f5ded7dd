"""Resolve layered visibility (a page under restricted ancestors) into one effective ACL.

A caller must pass every layer. Each layer is expanded to everything it admits (its principals
plus, transitively, the members of its groups); the effective ACL is the intersection of the
expanded layers. A principal survives only if every layer admits it, so the result is never wider
than any single layer: when in doubt it is narrower (fail closed). A layer that admits the whole
organisation (an ``org:`` principal) constrains nothing and is skipped while a narrower layer
exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from connectors.documents import Acl

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


def effective_acl(layers: Sequence[Acl], members_of: MembersOf) -> Acl:
    if not layers:
        return frozenset()
    if any(not layer for layer in layers):
        return frozenset()
    restrictive = [layer for layer in layers if not any(p.startswith("org:") for p in layer)]
    if not restrictive:
        return frozenset(set.intersection(*(set(layer) for layer in layers)))
    if len(restrictive) == 1:
        return frozenset(restrictive[0])
    expanded = [expand(layer, members_of) for layer in restrictive]
    return frozenset(set.intersection(*expanded))
