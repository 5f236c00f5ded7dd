"""Which indexed documents a full run may delete, and only when that is provably safe.

A document is pruned only if the source's listing *completed*, the listing did not name it, it
was indexed before the listing started (so a document written mid-crawl survives), and it did not
fail in this run (a failed fetch is no evidence of deletion).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from connectors.events import ListingEnd, ListingEvent, LiveId
from indexer.records import DocFingerprint


@dataclass(frozen=True)
class Listing:
    live: set[str]  # external ids
    completed: bool
    reason: str | None = None


def read_listing(events: Iterator[ListingEvent]) -> Listing:
    """Drain a listing; anything but a final ``ListingEnd(completed=True)`` is incomplete.

    Exceptions other than systemic ones are caught here because a listing that raised is, for
    pruning, exactly a listing that did not complete.
    """
    live: set[str] = set()
    try:
        for event in events:
            if isinstance(event, LiveId):
                live.add(event.external_id)
            elif isinstance(event, ListingEnd):
                return Listing(live, event.completed, event.reason)
    except Exception as exc:
        return Listing(live, False, f"listing raised {type(exc).__name__}: {exc}")
    return Listing(live, False, "listing ended without a ListingEnd event")


def stale_documents(
    indexed: Iterable[DocFingerprint],
    listing: Listing,
    *,
    listing_started: datetime,
    protected: set[str],
) -> list[str]:
    if not listing.completed:
        return []
    return [
        fp.doc_id
        for fp in indexed
        if fp.external_id not in listing.live
        and fp.doc_id not in protected
        and fp.indexed_at < listing_started
    ]
