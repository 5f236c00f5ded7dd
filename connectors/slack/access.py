"""Who may read a channel's documents: the ACL and the one layer behind it, for the explainer.

Every channel is the group ``group:<source>:channel:<C>``, its members reported by ``groups()``.

- private channels and group DMs: the channel group only;
- public channels: ``group:<source>:team:<T>`` (the workspace's full members, never guests) or
  the channel group (guests and others who are in it);
- Slack Connect channels (``is_ext_shared``), public or not: the channel group only: this
  organisation's members in it and the named external accounts, never the external
  organisation nor, for a shared public channel, everyone in the workspace.

The layer's principals are the ACL itself: a channel's rule is one layer (a public channel's
two groups are alternatives, not an intersection). A file carries its channel's layer, labelled
as that file's copy; a channel the connector no longer lists has an empty ACL and a layer that
says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.documents import Acl, AclLayer
from connectors.principals import group
from connectors.slack.channels import Channel


@dataclass(frozen=True)
class ChannelAccess:
    acl: Acl
    layers: tuple[AclLayer, ...]

    def layers_for(self, external_id: str) -> tuple[AclLayer, ...]:
        """The layers of one document: a file's copy names the file (each channel's copy of a
        file is its own document), from its id alone so every run labels it alike."""
        parts = external_id.split("/", 2)
        if len(parts) != 3 or parts[1] != "file":
            return self.layers
        return tuple(
            layer.model_copy(update={"label": f"file {parts[2]} as shared in {layer.label}"[:512]})
            for layer in self.layers
        )


def channel_group(source_id: str, channel_id: str) -> str:
    return group(source_id, f"channel:{channel_id}")


def team_group(source_id: str, team_id: str) -> str:
    return group(source_id, f"team:{team_id}")


def channel_access(source_id: str, channel: Channel) -> ChannelAccess:
    own = channel_group(source_id, channel.id)
    where = f"#{channel.name}"
    origin = f"channel {channel.id}"
    if channel.ext_shared:
        kind = "Slack Connect channel"
        label = (
            f"{where}: Slack Connect channel: its members only (this organisation's members "
            "in it and the named external accounts; never the external organisation nor the "
            "whole workspace)"
        )
        acl: Acl = frozenset({own})
    elif channel.mpim:
        kind = "group DM"
        label = f"{where}: group DM: its members"
        acl = frozenset({own})
    elif channel.private:
        kind = "private channel"
        label = f"{where}: private channel: its members"
        acl = frozenset({own})
    else:
        kind = "public channel"
        label = (
            f"{where}: public channel: the workspace's full members (workspace "
            f"{channel.team_id}, guests excluded) or the channel's members"
        )
        acl = frozenset({team_group(source_id, channel.team_id), own})
    layer = AclLayer(kind=kind, label=label, principals=acl, origin=origin)
    return ChannelAccess(acl=acl, layers=(layer,))


def unlisted_access(channel_id: str) -> ChannelAccess:
    """A channel indexed before that the connector no longer lists: nobody, until an
    incremental run deletes its documents."""
    layer = AclLayer(
        kind="channel not listed",
        label=(
            f"channel {channel_id} is no longer listed to the connector (deleted, excluded, "
            "archived and dropped, or the bot removed): nobody until its documents are deleted"
        ),
        principals=frozenset(),
        origin=f"channel {channel_id}",
    )
    return ChannelAccess(acl=frozenset(), layers=(layer,))


__all__ = [
    "ChannelAccess",
    "channel_access",
    "channel_group",
    "team_group",
    "unlisted_access",
]
