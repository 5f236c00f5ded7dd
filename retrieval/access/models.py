"""What the access explainer answers, as JSON-serialisable models (CLI ``--json``, admin API).

Titles of documents appear (admins may read them); content never does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class RunRef(_Model):
    """A sync run, as the state store records it."""

    run_id: str
    source_id: str
    run_type: str
    status: str
    ended_at: datetime | None = None


class MembershipStep(_Model):
    """``member`` is in ``group``, as the group's source last synced it."""

    member: str
    group: str
    source_id: str
    # The last groups run of ``source_id`` that replaced its memberships; None: not recorded.
    synced_by: RunRef | None = None


class HeldPrincipal(_Model):
    """A principal the user holds, and how: ``seed`` names where the chain starts (their own
    address, an identity mapping, org membership, an asserted group) and ``path`` the group
    memberships from that seed up to this principal (empty for a seed itself)."""

    principal: str
    seed: str
    path: list[MembershipStep] = Field(default_factory=list)


class OrgMembership(_Model):
    tenant: str
    principal: str
    member: bool
    reason: str


class LayerExplanation(_Model):
    """One ACL layer as the source gave it, and whether it admits the user now."""

    position: int
    kind: str
    label: str
    origin: str | None = None
    line: int | None = None
    principals: list[str]
    admits: bool
    # One of alternatives (a file's grants): any one of them admitting is enough.
    alternative: bool = False
    # The layer's principals the user holds; empty with ``admits`` false means the layer
    # admitted nobody of theirs.
    matched: list[str] = Field(default_factory=list)


LayersStatus = Literal["recorded", "stale", "not_recorded"]
Verdict = Literal["visible", "not_visible", "not_indexed"]


class AccessExplanation(_Model):
    """Why ``user`` can or cannot see ``doc_id``, from what the index holds.

    ``verdict`` is computed by the search path's own code: the caller's principals from
    ``retrieval.identity.IdentityResolver`` and the backend's ACL filter followed by
    ``retrieval.acl_check`` (as ``Searcher.get_document``). Everything else explains it.
    """

    doc_id: str
    user: str
    verdict: Verdict
    visible: bool
    summary: str
    title: str | None = None
    source_id: str | None = None
    # The effective ACL the index holds, and the part of it the user holds.
    effective_acl: list[str] = Field(default_factory=list)
    matched_acl: list[str] = Field(default_factory=list)
    # When the index last wrote this document or its ACL, and the last run of its source
    # that compared the source's ACLs with the index's.
    acl_written_at: datetime | None = None
    acl_checked_by: RunRef | None = None
    layers_status: LayersStatus = "not_recorded"
    layers_recorded_at: datetime | None = None
    layers: list[LayerExplanation] = Field(default_factory=list)
    # How the user holds the principals that explain the verdict (seeds, and the ACL's and
    # layers' matches), and every principal the resolver gave them.
    principals: list[HeldPrincipal] = Field(default_factory=list)
    principal_names: list[str] = Field(default_factory=list)
    org: OrgMembership | None = None
    notes: list[str] = Field(default_factory=list)


class AudienceMember(_Model):
    """Someone (a user, or an account no mapping names) the ACL admits, and through what."""

    principal: str
    via: list[str]


class PrincipalCount(_Model):
    principal: str
    admits: int
    # Org principals admit a class of people (verified domains, listed members), not a list.
    description: str | None = None


class LayerCount(_Model):
    position: int
    label: str
    admits: int
    org_wide: bool = False


class AccessAudience(_Model):
    """Who can see ``doc_id``: the effective ACL expanded through the synced groups, paged."""

    doc_id: str
    found: bool
    title: str | None = None
    source_id: str | None = None
    effective_acl: list[str] = Field(default_factory=list)
    total: int = 0
    offset: int = 0
    limit: int = 0
    members: list[AudienceMember] = Field(default_factory=list)
    # Whether the ACL admits the organisation's members as a class (not listed one by one).
    org_wide: OrgMembership | None = None
    per_principal: list[PrincipalCount] = Field(default_factory=list)
    layers_status: LayersStatus = "not_recorded"
    per_layer: list[LayerCount] = Field(default_factory=list)
    acl_written_at: datetime | None = None
    notes: list[str] = Field(default_factory=list)
