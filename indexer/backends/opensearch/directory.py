"""Synced group memberships and identity mappings in one OpenSearch index.

A replacement writes a new *generation* of the source's rows, then flips the source's pointer
document to it (one single-document write), then deletes older generations. Readers only see
rows of the generations the pointers name, so they see the old set or the new one, never a mix;
a replacement that fails halfway leaves the pointer, and so the old set, in place.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from opensearchpy import helpers

from connectors.directory import GroupMembership, IdentityMapping
from connectors.principals import normalise_email
from indexer.backend import IndexUnavailableError
from indexer.backends.opensearch.aliases import ensure_plain_index
from indexer.backends.opensearch.bulk import BulkPlan, run_bulk
from indexer.backends.opensearch.client import Gateway
from indexer.backends.opensearch.mappings import IndexNames, directory_body

ROWS_PER_BULK = 2_000
MAX_TERMS = 60_000
# Two pointers (groups, identities) per source: far more sources than any deployment has.
MAX_POINTERS = 10_000


class OpenSearchDirectoryStore:
    def __init__(self, gw: Gateway, names: IndexNames) -> None:
        self.gw = gw
        self.index = names.directory
        self._index_ready = False

    def ensure_index(self) -> None:
        if not self._index_ready:
            ensure_plain_index(self.gw, self.index, directory_body())
            self._index_ready = True

    def replace_groups(self, source_id: str, memberships: Iterable[GroupMembership]) -> None:
        rows = (
            {"group": membership.group, "member": member}
            for membership in memberships
            for member in sorted(membership.members)
        )
        self._replace(source_id, "member", rows)

    def replace_identities(self, source_id: str, mappings: Iterable[IdentityMapping]) -> None:
        rows = ({"account": m.account, "email": m.email} for m in mappings)
        self._replace(source_id, "identity", rows)

    def groups_containing(self, members: Iterable[str]) -> set[str]:
        wanted = sorted(set(members))
        if not wanted:
            return set()
        found: set[str] = set()
        for start in range(0, len(wanted), MAX_TERMS):
            found |= self._values(
                "member", {"terms": {"member": wanted[start : start + MAX_TERMS]}}, "group"
            )
        return found

    def members_of(self, group: str) -> set[str]:
        return self._values("member", {"term": {"group": group}}, "member")

    def accounts_of(self, email: str) -> set[str]:
        try:
            address = normalise_email(email)
        except ValueError:
            return set()
        return self._values("identity", {"term": {"email": address}}, "account")

    def generation(self) -> str:
        """The current generation of every source's rows, as one token (one search request).

        A replacement flips its pointer (refreshed) only after its rows are searchable, so a
        token read before resolving names contents no older than what the resolution reads.
        """
        self.ensure_index()
        response = self.gw.call(
            self.gw.client.search,
            index=self.index,
            body={
                "size": MAX_POINTERS,
                "track_total_hits": True,
                "query": {"term": {"kind": "pointer"}},
                "_source": ["generation"],
            },
        )
        hits = response["hits"]["hits"]
        if int(response["hits"]["total"]["value"]) > len(hits):
            # Not every pointer was read: a token that never repeats disables any cache.
            return uuid.uuid4().hex
        pointers = sorted(f"{hit['_id']}={hit['_source']['generation']}" for hit in hits)
        return hashlib.sha256("\n".join(pointers).encode()).hexdigest()

    # -- helpers ----------------------------------------------------------------------------

    def _replace(self, source_id: str, kind: str, rows: Iterable[dict[str, str]]) -> None:
        self.ensure_index()
        generation = uuid.uuid4().hex
        plan = BulkPlan()
        seen: set[tuple[tuple[str, str], ...]] = set()
        for row in rows:
            # Keyed by field, not by sorted values: g1 containing g3 and g3 containing g1 are
            # two memberships (a cycle), not one row seen twice.
            key = tuple(sorted(row.items()))
            if key in seen:
                continue
            seen.add(key)
            plan.index(
                self.index,
                f"{kind}:{source_id}:{generation}:{len(seen)}",
                {"kind": kind, "source_id": source_id, "generation": generation, **row},
                source_id,
            )
            if len(plan) >= ROWS_PER_BULK:
                self._flush(plan)
                plan = BulkPlan()
        self._flush(plan)
        # Rows must be searchable before the pointer names their generation.
        self.gw.call(self.gw.client.indices.refresh, index=self.index)
        self.gw.call(
            self.gw.client.index,
            index=self.index,
            id=f"pointer:{kind}:{source_id}",
            body={
                "kind": "pointer",
                "source_id": source_id,
                "group": kind,
                "generation": generation,
            },
            refresh=True,
        )
        self.gw.call(
            self.gw.client.delete_by_query,
            index=self.index,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"kind": kind}},
                            {"term": {"source_id": source_id}},
                        ],
                        "must_not": [{"term": {"generation": generation}}],
                    }
                }
            },
            conflicts="proceed",
            refresh=True,
        )

    def _flush(self, plan: BulkPlan) -> None:
        failures = run_bulk(self.gw, plan)
        if failures:
            raise IndexUnavailableError(f"directory rows were refused: {failures}")

    def _current_generations(self, kind: str) -> list[str]:
        self.ensure_index()
        # Pointers of this kind keep the kind in their `group` field (see _replace).
        query = {"bool": {"filter": [{"term": {"kind": "pointer"}}, {"term": {"group": kind}}]}}
        return sorted(self._scan_field(query, "generation"))

    def _values(self, kind: str, condition: dict[str, Any], field: str) -> set[str]:
        generations = self._current_generations(kind)
        if not generations:
            return set()
        query = {
            "bool": {
                "filter": [
                    {"term": {"kind": kind}},
                    {"terms": {"generation": generations}},
                    condition,
                ]
            }
        }
        return self._scan_field(query, field)

    def _scan_field(self, query: dict[str, Any], field: str) -> set[str]:
        return {hit["_source"][field] for hit in self.gw.call(self._scan, query, field)}

    def _scan(self, query: dict[str, Any], field: str) -> list[dict[str, Any]]:
        # Materialised inside the retried call so a failure mid-scroll retries the whole scan.
        hits: Iterator[dict[str, Any]] = helpers.scan(
            self.gw.client,
            index=self.index,
            query={"query": query, "_source": [field]},
            size=1000,
            scroll="1m",
        )
        return list(hits)
