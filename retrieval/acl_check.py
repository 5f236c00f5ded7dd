"""The final ACL check: no hit leaves retrieval unless its own ACL admits the caller.

The backends already filter by principals inside the query; this is the second, independent
line. A hit that fails it means a backend or index bug, so it is dropped, logged on the
dedicated ``permindex.security`` logger and counted, never silently passed on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

from prometheus_client import Counter

from indexer.records import Hit

security_log = logging.getLogger("permindex.security")

ACL_VIOLATIONS = Counter(
    "permindex_retrieval_acl_violations_total",
    "Hits a backend returned that the caller's principals do not admit (dropped).",
    ["stage"],
)

T = TypeVar("T")


def is_visible(acl: Iterable[str], principals: frozenset[str]) -> bool:
    """Visible when the ACL and the principals intersect; empty on either side means no."""
    return bool(principals) and not principals.isdisjoint(acl)


def enforce_acl(
    items: Iterable[T],
    principals: frozenset[str],
    *,
    hit_of: Callable[[T], Hit],
    stage: str,
    query_id: str,
    caller: str,
    service: str,
    backend: str,
) -> list[T]:
    """Keep the items whose hit is visible to ``principals``; report every other one."""
    kept: list[T] = []
    for item in items:
        hit = hit_of(item)
        if is_visible(hit.acl, principals):
            kept.append(item)
            continue
        ACL_VIOLATIONS.labels(stage=stage).inc()
        security_log.error(
            "acl_violation: dropped chunk %s of document %s for %s (stage %s, query %s)",
            hit.chunk_id,
            hit.doc_id,
            caller,
            stage,
            query_id,
            extra={
                "event": "acl_violation",
                "stage": stage,
                "query_id": query_id,
                "caller": caller,
                "service": service,
                "backend": backend,
                "doc_id": hit.doc_id,
                "chunk_id": hit.chunk_id,
                "acl_size": len(hit.acl),
                "principal_count": len(principals),
            },
        )
    return kept
