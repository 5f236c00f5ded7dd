"""The contract every source implements.

Designed for change-feed sources (Drive page tokens, Slack per-channel ``oldest``, CQL/JQL
``updated >=`` windows with overlap) as much as for plain trees of files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator

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


class Connector(ABC):
    """One configured source. Implementations must not import anything from ``indexer``."""

    source_id: str
    capabilities: Capabilities = Capabilities()

    @abstractmethod
    def validate(self) -> None:
        """Check credentials and configuration; raise ``ConnectorConfigError`` if unusable."""

    @abstractmethod
    def changes(self, checkpoint: Checkpoint | None) -> Iterator[ChangeEvent]:
        """Stream what changed since ``checkpoint`` (everything when it is None).

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
        """Direct group memberships (nested groups allowed)."""
        raise NotImplementedError(f"{type(self).__name__} does not support groups")

    def identities(self) -> Iterator[IdentityMapping]:
        """Mappings from source accounts to emails."""
        raise NotImplementedError(f"{type(self).__name__} does not support identities")
