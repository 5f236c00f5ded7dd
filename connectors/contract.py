"""The contract every source implements.

Designed for change-feed sources (Drive page tokens, Slack per-channel ``oldest``, CQL/JQL
``updated >=`` windows with overlap) as much as for plain trees of files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from connectors.directory import GroupMembership, IdentityMapping
from connectors.events import ChangeEvent, Checkpoint, ListingEvent, PermissionsChanged


class Capabilities(BaseModel):
    """What a connector supports, so the runner never calls what is not there."""

    model_config = ConfigDict(frozen=True)

    incremental: bool = True
    listing: bool = True
    permissions_refresh: bool = False
    groups: bool = False
    identities: bool = False
    # Effective ACLs expand group memberships (layered ACLs): a groups run must recompute them,
    # or a member removed from a group keeps what the frozen expansion gave them.
    acls_expand_groups: bool = False


class SyncContext(Protocol):
    """What the run tells a connector about the index it writes to.

    The index, not the connector's own memory, is the truth about what was written: a write the
    index rejected, or a permissions run the connector did not see, leaves the index different
    from what the connector last sent. Connectors decide what to fetch again from this.
    """

    @property
    def full(self) -> bool:
        """A full run: fetch everything again, whatever the index holds."""

    def indexed_version(self, external_id: str) -> str | None:
        """The ``SourceDocument.version`` the index holds for ``external_id`` (None: absent)."""

    def indexed_ids(self) -> Iterator[str]:
        """External ids of every document of this source the index holds."""


class EmptyIndex:
    """The context of a first run: the index holds nothing of this source yet."""

    full = True

    def indexed_version(self, external_id: str) -> str | None:
        return None

    def indexed_ids(self) -> Iterator[str]:
        return iter(())


EMPTY_INDEX: SyncContext = EmptyIndex()


class Connector(ABC):
    """One configured source. Implementations must not import anything from ``indexer``."""

    source_id: str
    capabilities: Capabilities = Capabilities()

    @abstractmethod
    def validate(self) -> None:
        """Check credentials and configuration; raise ``ConnectorConfigError`` if unusable."""

    @abstractmethod
    def changes(
        self, checkpoint: Checkpoint | None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[ChangeEvent]:
        """Stream what changed since ``checkpoint`` (everything when it is None).

        Change detection compares with what ``context`` says the index holds. An ACL is sent
        (``PermissionsChanged``) whenever it may differ from the index's; never suppressed on
        the strength of what this connector sent before, since a permissions run or a rejected
        write may have left the index elsewhere. The indexer drops ACLs the index already has.

        Emits ``CheckpointReached`` whenever all events before it are covered by that checkpoint;
        the runner persists it only after the writes for those events are durable.
        Raises ``SourceUnavailableError`` on systemic failure.
        """

    def list_live_ids(self) -> Iterator[ListingEvent]:
        """Every live external id, ending with ``ListingEnd(completed=...)``.

        A listing that stops early (exception, no end event, ``completed=False``) prunes nothing.
        """
        raise NotImplementedError(f"{type(self).__name__} does not support listing")

    def permissions(self) -> Iterator[PermissionsChanged]:
        """Current ACL of every document, for sources whose ACLs change without content changes."""
        raise NotImplementedError(f"{type(self).__name__} does not support permissions refresh")

    def groups(self) -> Iterator[GroupMembership]:
        """Direct group memberships (nested groups allowed).

        Raises ``PermissionSourceUnreadableError`` when the group data cannot be read: the
        runner then keeps no memberships of this source (unreadable means nobody).
        """
        raise NotImplementedError(f"{type(self).__name__} does not support groups")

    def identities(self) -> Iterator[IdentityMapping]:
        """Mappings from source accounts to emails."""
        raise NotImplementedError(f"{type(self).__name__} does not support identities")
