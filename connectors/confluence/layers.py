"""The effective ACL of a Confluence page: space read ∩ every restricted ancestor ∩ its own.

Each layer is read through the gateway once per run (cached): the space's read assignments,
then the ``read`` restriction of every ancestor (pages, folders, whiteboards, databases) and of
the content itself. An empty restriction (200, no entries) adds no layer; a restriction or space
permission the site refuses (403, or 404 for a draft or trashed ancestor) makes the content
visible to nobody, with the reason. Several layers are intersected exactly by
``connectors.acl_layers.effective_acl``, which expands groups through their members as the site
reports them; a group whose members cannot be read admits nobody.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connectors.acl_layers import effective_acl
from connectors.confluence.gateway import ConfluenceGateway, Refused
from connectors.documents import Acl, AclLayer
from connectors.org import OrgPolicy
from connectors.principals import account, group

NOBODY: Acl = frozenset()


@dataclass(frozen=True)
class Resolved:
    acl: Acl
    # Why the ACL could not be known (the content is then visible to nobody); None when known.
    unknown: str | None = None
    ancestors: tuple[tuple[str, str], ...] = ()  # (type, id), top to bottom
    # The layers behind ``acl`` (space, each restricted ancestor, the content), for the
    # access explainer; empty when the ACL is unknown.
    layers: tuple[AclLayer, ...] = ()


class _MembersUnknown(Exception):
    pass


class LayerReader:
    """Layers and group members, read once per run."""

    def __init__(self, gateway: ConfluenceGateway, source_id: str, org: OrgPolicy) -> None:
        self._gateway = gateway
        self._source_id = source_id
        self._org = org
        self._spaces: dict[str, Acl | Refused] = {}
        self._restrictions: dict[str, Acl | Refused | None] = {}
        self._members: dict[str, frozenset[str] | Refused] = {}

    def space_layer(self, space_id: str) -> Acl | Refused:
        if space_id not in self._spaces:
            grants = self._gateway.space_read_grants(space_id)
            if isinstance(grants, Refused):
                self._spaces[space_id] = grants
            else:
                # Role assignments (the space-roles model) are not resolved: they admit nobody
                # here, which is narrower than the site, never wider.
                self._spaces[space_id] = frozenset(
                    self._principal(kind, ident)
                    for kind, ident in grants
                    if kind in ("user", "group")
                )
        return self._spaces[space_id]

    def restriction_layer(self, node_id: str) -> Acl | Refused | None:
        if node_id not in self._restrictions:
            found = self._gateway.read_restriction(node_id)
            if isinstance(found, Refused):
                self._restrictions[node_id] = found
            elif found.empty:
                self._restrictions[node_id] = None
            else:
                # A group named without an id cannot be keyed: it admits nobody, so a
                # restriction naming only such groups is a layer that admits nobody.
                self._restrictions[node_id] = frozenset(
                    [account(self._source_id, a) for a in found.account_ids]
                    + [group(self._source_id, g) for g in found.group_ids]
                )
        return self._restrictions[node_id]

    def resolve(self, content_type: str, content_id: str, space_id: str) -> Resolved:
        space = self.space_layer(space_id)
        if isinstance(space, Refused):
            return Resolved(NOBODY, f"space permissions cannot be read ({space})")
        layers: list[Acl] = [space]
        labels = [
            AclLayer(
                kind="space",
                label=f"space {space_id}: read permission",
                principals=space,
                origin=f"space {space_id}",
            )
        ]
        ancestors: tuple[tuple[str, str], ...] = ()
        if content_type == "page":
            found = self._gateway.ancestors(content_id)
            if isinstance(found, Refused):
                return Resolved(NOBODY, f"ancestors cannot be read ({found})")
            ancestors = tuple((str(a.get("type") or "page"), str(a["id"])) for a in found)
        for node_type, node_id in (*ancestors, (content_type, content_id)):
            layer = self.restriction_layer(node_id)
            if isinstance(layer, Refused):
                what = "its own" if node_id == content_id else f"{node_type} {node_id}'s"
                reason = f"{what} read restriction cannot be read ({layer})"
                return Resolved(NOBODY, reason, ancestors)
            if layer is not None:
                layers.append(layer)
                own = node_id == content_id
                labels.append(
                    AclLayer(
                        kind=f"{node_type} restriction" if own else "ancestor restriction",
                        label=f"{node_type} {node_id}: read restriction"
                        + ("" if own else " (restricted ancestor)"),
                        principals=layer,
                        origin=f"{node_type} {node_id}",
                    )
                )
        try:
            acl = effective_acl(layers, self.members_of, self._org)
        except _MembersUnknown as exc:
            return Resolved(NOBODY, str(exc), ancestors)
        return Resolved(acl, None, ancestors, tuple(labels))

    def members_of(self, principal: str) -> Iterable[str]:
        prefix = f"group:{self._source_id}:"
        if not principal.startswith(prefix):
            return ()
        group_id = principal[len(prefix) :]
        if group_id not in self._members:
            found = self._gateway.group_members(group_id)
            if isinstance(found, Refused):
                self._members[group_id] = found
            else:
                self._members[group_id] = frozenset(
                    account(self._source_id, m["accountId"])
                    for m in found
                    if isinstance(m.get("accountId"), str) and m["accountId"]
                )
        members = self._members[group_id]
        if isinstance(members, Refused):
            raise _MembersUnknown(f"members of group {group_id} cannot be read ({members})")
        return members

    def _principal(self, kind: str, ident: str) -> str:
        if kind == "group":
            return group(self._source_id, ident)
        return account(self._source_id, ident)
