"""Which indexed documents a full or prune run may delete, and only when that is provably safe.

A document is pruned only if the source's listing *completed*, the listing did not name it, its
scope did not fail in the listing, it was indexed before the listing started (so a document
written mid-crawl survives), and it did not fail in this run (a failed fetch is no evidence of
deletion). Mark and sweep: the listing is spilled to a temporary file (``listing_spill``), then
the index's documents are streamed past it in pages, so memory does not grow with the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from connectors.events import ListingEnd, ListingEvent, LiveId, ScopeFailed
from indexer.listing_spill import SpilledIds
from indexer.records import DocFingerprint

_SWEEP_PAGE = 500


@dataclass
class Listing:
    live: SpilledIds
    completed: bool = False
    reason: str | None = None
    failed_scopes: dict[str, str] = field(default_factory=dict)


def read_listing(
    events: Iterator[ListingEvent], into: SpilledIds, tick: Callable[[], None] = lambda: None
) -> Listing:
    """Drain a listing; anything but a final ``ListingEnd(completed=True)`` is incomplete.

    Exceptions other than systemic ones are caught here because a listing that raised is, for
    pruning, exactly a listing that did not complete.
    """
    listing = Listing(live=into, reason="listing ended without a ListingEnd event")
    try:
        for count, event in enumerate(events):
            if isinstance(event, LiveId):
                into.add(event.external_id)
            elif isinstance(event, ScopeFailed):
                listing.failed_scopes[event.scope] = event.reason
            elif isinstance(event, ListingEnd):
                listing.completed, listing.reason = event.completed, event.reason
                return listing
            if count % 1000 == 0:
                tick()
    except Exception as exc:
        listing.reason = f"listing raised {type(exc).__name__}: {exc}"
    return listing


def stale_documents(
    indexed: Iterable[DocFingerprint],
    listing: Listing,
    *,
    listing_started: datetime,
    protected: set[str],
    scope_of: Callable[[str], str] = lambda _external_id: "",
) -> Iterator[list[str]]:
    """Pages of doc ids to delete (nothing at all unless the listing completed)."""
    if not listing.completed:
        return
    page: list[DocFingerprint] = []
    for fingerprint in indexed:
        page.append(fingerprint)
        if len(page) >= _SWEEP_PAGE:
            yield _sweep(page, listing, listing_started, protected, scope_of)
            page = []
    if page:
        yield _sweep(page, listing, listing_started, protected, scope_of)


def _sweep(
    page: list[DocFingerprint],
    listing: Listing,
    listing_started: datetime,
    protected: set[str],
    scope_of: Callable[[str], str],
) -> list[str]:
    listed = listing.live.present([fp.external_id for fp in page])
    return [
        fp.doc_id
        for fp in page
        if fp.external_id not in listed
        and fp.doc_id not in protected
        and fp.indexed_at < listing_started
        and scope_of(fp.external_id) not in listing.failed_scopes
    ]
