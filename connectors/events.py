"""Typed events a connector emits from ``changes()`` and ``list_live_ids()``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.documents import Acl, AclLayer, SourceDocument, document_id


class Checkpoint(BaseModel):
    """Opaque per-source resume point; only the connector that made it interprets ``value``."""

    model_config = ConfigDict(frozen=True)

    value: dict[str, Any] = Field(default_factory=dict)


class DocumentUpserted(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["upsert"] = "upsert"
    document: SourceDocument


class DocumentDeleted(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["delete"] = "delete"
    source_id: str
    external_id: str

    @property
    def doc_id(self) -> str:
        return document_id(self.source_id, self.external_id)


class PermissionsChanged(BaseModel):
    """The ACL of an existing document changed; its content did not."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["permissions"] = "permissions"
    source_id: str
    external_id: str
    acl: Acl
    # Where ``acl`` came from (optional, as ``SourceDocument.acl_layers``).
    acl_layers: tuple[AclLayer, ...] = ()

    @property
    def doc_id(self) -> str:
        return document_id(self.source_id, self.external_id)


class DocumentFailed(BaseModel):
    """A document the source has but could not be fetched or parsed; recorded and skipped.

    Pruning must never delete a document that failed: its absence is not evidence of deletion.
    """

    model_config = ConfigDict(frozen=True)
    kind: Literal["failed"] = "failed"
    source_id: str
    external_id: str
    reason: str

    @property
    def doc_id(self) -> str:
        return document_id(self.source_id, self.external_id)


class ScopeFailed(BaseModel):
    """A part of the source (a space, a project, a shared drive, a channel) could not be read.

    Recorded in the run and retried by a later run; nothing in that scope is pruned, and the
    connector keeps that scope's cursor where it was. Other scopes go on.
    """

    model_config = ConfigDict(frozen=True)
    kind: Literal["scope_failed"] = "scope_failed"
    scope: str
    reason: str


class CheckpointReached(BaseModel):
    """Everything emitted before this event is covered by ``checkpoint``."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["checkpoint"] = "checkpoint"
    checkpoint: Checkpoint


ChangeEvent = Annotated[
    DocumentUpserted
    | DocumentDeleted
    | PermissionsChanged
    | DocumentFailed
    | ScopeFailed
    | CheckpointReached,
    Field(discriminator="kind"),
]

# What ``Connector.permissions()`` streams: ACLs, scope failures and resume points.
PermissionsEvent = Annotated[
    PermissionsChanged | ScopeFailed | CheckpointReached, Field(discriminator="kind")
]


class LiveId(BaseModel):
    model_config = ConfigDict(frozen=True)
    kind: Literal["live"] = "live"
    external_id: str


class ListingEnd(BaseModel):
    """The last event of a listing. Without it, or with ``completed=False``, nothing is pruned."""

    model_config = ConfigDict(frozen=True)
    kind: Literal["end"] = "end"
    completed: bool
    reason: str | None = None


# A listing whose end says completed but which reported failed scopes prunes only the others.
ListingEvent = Annotated[LiveId | ScopeFailed | ListingEnd, Field(discriminator="kind")]
