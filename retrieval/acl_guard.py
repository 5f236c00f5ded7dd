"""The ACL re-check of one query, bound once to its caller so every stage checks alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from indexer.records import Hit
from retrieval.acl_check import enforce_acl

T = TypeVar("T")


@dataclass(frozen=True)
class AclGuard:
    principals: frozenset[str]
    query_id: str
    caller: str
    service: str
    backend: str

    def check(self, items: Iterable[T], *, hit_of: Callable[[T], Hit], stage: str) -> list[T]:
        """The items whose hit the caller may see; every other one is dropped and reported."""
        return enforce_acl(
            items,
            self.principals,
            hit_of=hit_of,
            stage=stage,
            query_id=self.query_id,
            caller=self.caller,
            service=self.service,
            backend=self.backend,
        )

    def hits(self, hits: Iterable[Hit], *, stage: str) -> list[Hit]:
        return self.check(hits, hit_of=_itself, stage=stage)


def _itself(hit: Hit) -> Hit:
    return hit
