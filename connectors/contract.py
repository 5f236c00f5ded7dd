"""The contract every source implements.

Designed for change-feed sources (Drive page tokens, Slack per-channel ``oldest``, CQL/JQL
``updated >=`` windows with overlap) as much as for plain trees of files.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from connectors.directory import GroupMembership, IdentityMapping
from connectors.events import ChangeEvent, Checkpoint, ListingEvent, PermissionsEvent


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

    @property
    def stop(self) -> threading.Event:
        """Set when the run is asked to stop (SIGTERM): wait on it, never ``time.sleep``."""

    def heartbeat(self) -> None:
        """Keep the run's lease while waiting (a long Retry-After): call at least every minute."""

    def indexed_versions(self, external_ids: Sequence[str]) -> Mapping[str, str]:
        """The ``SourceDocument.version`` the index holds for each of ``external_ids`` it holds
        with a version; ask in batches (a few hundred ids), not one id at a time."""

    def indexed_ids(self) -> Iterator[str]:
        """External ids of every document of this source the index holds (streamed); in a scope
        run (see ``scope_of``), of that scope only."""


class EmptyIndex:
    """The context of a first run: the index holds nothing of this source yet."""

    full = True

    def __init__(self) -> None:
        self.stop = threading.Event()

    def heartbeat(self) -> None:
        return None

    def indexed_versions(self, external_ids: Sequence[str]) -> Mapping[str, str]:
        return {}

    def indexed_ids(self) -> Iterator[str]:
        return iter(())


EMPTY_INDEX: SyncContext = EmptyIndex()


class Connector(ABC):
    """One configured source. Implementations must not import anything from ``indexer``."""

    source_id: str
    capabilities: Capabilities = Capabilities()

    def scope_of(self, external_id: str) -> str:
        """The scope (space, project, drive, channel) a document belongs to; "" = the source."""
        return ""

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

        A listing that stops early (exception, no end event, ``completed=False``) prunes nothing;
        a scope reported as ``ScopeFailed`` prunes nothing of that scope (see ``scope_of``).
        """
        raise NotImplementedError(f"{type(self).__name__} does not support listing")

    def permissions(
        self, checkpoint: Checkpoint | None = None, context: SyncContext = EMPTY_INDEX
    ) -> Iterator[PermissionsEvent]:
        """Current ACL of every document, for sources whose ACLs change without content changes.

        Scoped sources emit ``CheckpointReached`` after each scope (space, drive) so a stopped
        permissions run resumes where it was; ``checkpoint`` is that resume point (None: from
        the start), kept apart from the ``changes()`` checkpoint.
        """
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

    def run_notes(self) -> Mapping[str, int]:
        """Counts kept in the run record, read when a run ends: what the source withheld
        without failing the run (accounts whose email it hides, say), so an operator sees why
        some people match fewer documents than expected."""
        return {}
