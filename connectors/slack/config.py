"""One Slack source's configuration (an internal app's bot token)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.registry import SourceSettings
from connectors.secrets import Secret


class SlackSettings(SourceSettings):
    type: Literal["slack"] = "slack"
    bot_token: Secret
    base_url: str = "https://slack.com/api/"
    # Workspaces to read (Enterprise Grid org tokens need them); empty: the token's own workspace.
    team_ids: tuple[str, ...] = ()
    # Channel ids or names; an empty allow list means every channel the bot is in.
    channels: tuple[str, ...] = ()
    exclude_channels: tuple[str, ...] = ()
    # "index": archived channels stay searchable to their members (read-only in Slack, still
    # readable there); "drop": their documents are removed.
    archived: Literal["index", "drop"] = "index"
    group_dms: bool = False
    usergroups: bool = True
    # Each incremental run re-reads this much history before a channel's high-water mark, for
    # edits, deletions and new replies to recent threads.
    lookback_days: float = Field(default=7.0, gt=0)
    # Threads with a reply within this horizon are polled every run for late replies.
    thread_horizon_days: float = Field(default=90.0, gt=0)
    # Messages outside threads are grouped into one document per channel per window.
    window_hours: int = Field(default=24, ge=1, le=24 * 31)
    # Files shared in indexed channels become their own documents (needs files:read).
    files: bool = True
    # Larger text-like files and PDFs are recorded as skipped; nothing past it is downloaded.
    max_file_bytes: int = Field(default=10_000_000, ge=1)
