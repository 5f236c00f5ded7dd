"""What a prune would delete, and why, without deleting anything (``permindex prune --dry-run``).

The same rules as the runner's prune (``indexer.pruning``): nothing unless the listing completed,
nothing of a scope that failed in it. Documents the source's retention setting expires are
listed too, with their own reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

from connectors.contract import Connector
from indexer.backends import Stores
from indexer.listing_spill import SpilledIds
from indexer.operations.controls import control_of
from indexer.operations.retention import expired
from indexer.pruning import read_listing, stale_documents

# What a caller above the indexer (the service) is handed to build a configured source's
# connector by id (KeyError for an unknown id), without importing connectors itself.
ConnectorFor = Callable[[str], Connector]

# Candidates listed in full; the counts cover all of them.
MAX_LISTED = 1000


class PruneCandidate(BaseModel):
    doc_id: str
    external_id: str
    reason: str


class PrunePreview(BaseModel):
    source_id: str
    listing_completed: bool
    message: str
    not_listed: int = 0
    expired: int = 0
    candidates: list[PruneCandidate] = Field(default_factory=list)
    kept_scopes: dict[str, str] = Field(default_factory=dict)  # failed in the listing: kept


def preview_prune(
    connector: Connector, stores: Stores, *, clock: Callable[[], datetime]
) -> PrunePreview:
    source_id = connector.source_id
    index = stores.index
    started = clock()
    preview = PrunePreview(source_id=source_id, listing_completed=False, message="")
    seen: set[str] = set()

    def add(doc_id: str, external_id: str, reason: str) -> None:
        seen.add(doc_id)
        if len(preview.candidates) < MAX_LISTED:
            preview.candidates.append(
                PruneCandidate(doc_id=doc_id, external_id=external_id, reason=reason)
            )

    index.refresh()
    with SpilledIds() as live:
        listing = read_listing(connector.list_live_ids(), live)
        preview.listing_completed = listing.completed
        preview.kept_scopes = dict(listing.failed_scopes)
        if listing.completed:
            external = {fp.doc_id: fp.external_id for fp in index.iter_fingerprints(source_id)}
            for page in stale_documents(
                index.iter_fingerprints(source_id),
                listing,
                listing_started=started,
                protected=set(),
                scope_of=connector.scope_of,
            ):
                for doc_id in page:
                    add(doc_id, external.get(doc_id, ""), "the source's listing no longer names it")
            preview.not_listed = len(seen)
    days = control_of(stores, source_id).retention_days
    if days is not None:
        cutoff = started - timedelta(days=days)
        for aged in expired(stores, source_id, days, started):
            if aged.doc_id in seen:
                continue
            preview.expired += 1
            add(
                aged.doc_id,
                aged.external_id,
                f"not modified since {aged.updated_at:%Y-%m-%d} (retention {days} days,"
                f" cutoff {cutoff:%Y-%m-%d})",
            )
    parts = []
    if listing.completed:
        parts.append(f"{preview.not_listed} no longer listed by the source")
    else:
        parts.append(
            f"listing incomplete ({listing.reason or 'no reason given'}): a prune would delete"
            " nothing the source no longer lists"
        )
    if days is not None:
        parts.append(f"{preview.expired} past the {days}-day retention")
    if listing.failed_scopes:
        parts.append(f"the documents of {len(listing.failed_scopes)} failed scope(s) kept")
    preview.message = "; ".join(parts)
    return preview
