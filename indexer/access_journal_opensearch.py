"""The access journal in OpenSearch: one plain index ``<prefix>-access-journal``.

Entries are keyed by their entry id (a retried bulk writes each once) and ordered by ``seq``,
a per-process monotonic nanosecond counter: runs that touch the same document or group hold its
source's lease one after another, so their entries are ordered as their writes were.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import TypeAdapter

from indexer.access_journal import (
    DEFAULT_KEEP,
    AccessJournalError,
    JournalEntry,
    PruneClock,
    subject_of,
)
from indexer.backends.opensearch.aliases import create_index
from indexer.backends.opensearch.bulk import BulkPlan, run_bulk
from indexer.backends.opensearch.client import Gateway
from indexer.backends.opensearch.mappings import IndexNames, chunk_key

_BODY: dict[str, Any] = {
    "settings": {"index": {"number_of_shards": 1, "number_of_replicas": 0}},
    "mappings": {
        "dynamic": False,
        "properties": {
            "kind": {"type": "keyword"},
            "entry_id": {"type": "keyword"},
            "seq": {"type": "long"},
            "at_ms": {"type": "long"},
            "source_id": {"type": "keyword"},
            "subject": {"type": "keyword"},
            # Kept as written, never searched.
            "entry": {"type": "object", "enabled": False},
            "covers_from_ms": {"type": "long"},
        },
    },
}
_ENTRY: TypeAdapter[JournalEntry] = TypeAdapter(JournalEntry)
_META_ID = "meta:covers_from"
_PAGE = 1000
_MAX_TERMS = 60_000

_seq_lock = threading.Lock()
_last_seq = 0


def _next_seq() -> int:
    global _last_seq
    with _seq_lock:
        _last_seq = max(_last_seq + 1, time.time_ns())
        return _last_seq


def _ms(value: datetime) -> int:
    return int((value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp() * 1000)


class OpenSearchAccessJournal:
    def __init__(self, gw: Gateway, names: IndexNames, *, keep: timedelta = DEFAULT_KEEP) -> None:
        self.gw = gw
        self.names = names
        self.index = f"{names.prefix}-access-journal"
        self.keep = keep
        self._ready = False
        self._covered = False
        self._prune = PruneClock()

    def _ensure(self) -> None:
        if self._ready:
            return
        exists = self.gw.call(self.gw.client.indices.exists, index=self.index)
        if not exists and create_index(self.gw, self.index, _BODY) and self._index_was_empty():
            # Nothing was indexed or synced before the journal: it knows every change.
            self.gw.call(
                self.gw.client.index,
                index=self.index,
                id=_META_ID,
                body={"kind": "meta", "covers_from_ms": 0},
                op_type="create",
                ignore=[409],
            )
        self._ready = True

    def _index_was_empty(self) -> bool:
        for index, query in (
            (self.names.chunks, {"match_all": {}}),
            (self.names.directory, {"term": {"kind": "member"}}),
        ):
            if not self.gw.call(self.gw.client.indices.exists, index=index):
                continue
            self.gw.call(self.gw.client.indices.refresh, index=index)
            counted = self.gw.call(self.gw.client.count, index=index, body={"query": query})
            if int(counted["count"]) > 0:
                return False
        return True

    def record(self, entries: Sequence[JournalEntry]) -> None:
        if not entries:
            return
        self._ensure()
        plan = BulkPlan()
        for entry in entries:
            source = {
                "kind": entry.kind,
                "entry_id": entry.entry_id,
                "seq": _next_seq(),
                "at_ms": _ms(entry.at),
                "source_id": entry.source_id,
                "subject": subject_of(entry),
                "entry": entry.model_dump(mode="json", exclude={"seq"}),
            }
            plan.index(self.index, entry.entry_id, source, entry.entry_id)
        failures = run_bulk(self.gw, plan)
        if failures:
            raise AccessJournalError(f"journal writes refused: {list(failures.items())[:3]}")
        if not self._covered:
            # Once per process: an existing record (an earlier entry) is kept as it is.
            first = min(_ms(e.at) for e in entries)
            self.gw.call(
                self.gw.client.index,
                index=self.index,
                id=_META_ID,
                body={"kind": "meta", "covers_from_ms": first},
                op_type="create",
                ignore=[409],
            )
            self._covered = True
        horizon = self._prune.due(entries)
        if horizon is not None:
            self.prune(horizon - self.keep)

    def prune(self, before: datetime) -> int:
        self._ensure()
        cutoff = _ms(before)
        response = self.gw.call(
            self.gw.client.delete_by_query,
            index=self.index,
            body={
                "query": {
                    "bool": {
                        "filter": [{"range": {"at_ms": {"lt": cutoff}}}],
                        "must_not": [{"term": {"kind": "meta"}}],
                    }
                }
            },
            conflicts="proceed",
            refresh=True,
        )
        meta = self.gw.call(self.gw.client.get, index=self.index, id=_META_ID, ignore=[404])
        if meta.get("found") and int(meta["_source"]["covers_from_ms"]) < cutoff:
            self.gw.call(
                self.gw.client.index,
                index=self.index,
                id=_META_ID,
                body={"kind": "meta", "covers_from_ms": cutoff},
            )
        return int(response.get("deleted", 0))

    def discard(self, entry_ids: Sequence[str]) -> None:
        if not entry_ids:
            return
        self._ensure()
        plan = BulkPlan()
        for entry_id in entry_ids:
            plan.delete(self.index, entry_id, entry_id)
        run_bulk(self.gw, plan)

    def changes_since(self, since: datetime) -> Iterator[JournalEntry]:
        self._ensure()
        # Entries are written without a refresh (like the index's own writes): make them all
        # searchable before reading.
        self.gw.call(self.gw.client.indices.refresh, index=self.index)
        query = {
            "bool": {
                "filter": [
                    {"terms": {"kind": ["acl", "membership"]}},
                    {"range": {"at_ms": {"gte": _ms(since)}}},
                ]
            }
        }
        for hit in self._pages(self.index, query, ["seq", "entry_id"], ["seq", "entry"]):
            entry = _ENTRY.validate_python(hit["_source"]["entry"])
            yield entry.model_copy(update={"seq": int(hit["_source"]["seq"])})

    def covers_from(self) -> datetime | None:
        self._ensure()
        meta = self.gw.call(self.gw.client.get, index=self.index, id=_META_ID, ignore=[404])
        if not meta.get("found"):
            return None
        return datetime.fromtimestamp(int(meta["_source"]["covers_from_ms"]) / 1000, UTC)

    # -- what the index and directory hold now -----------------------------------------

    def acls_of(self, doc_ids: Sequence[str]) -> dict[str, frozenset[str]]:
        if not doc_ids:
            return {}
        # The ACL lives on the chunks (every chunk of a document has the same ACL); a realtime
        # mget sees this run's earlier writes without a refresh.
        response = self.gw.call(
            self.gw.client.mget,
            index=self.names.chunks,
            body={"ids": [chunk_key(doc_id, 0) for doc_id in doc_ids]},
            _source=["doc_id", "acl"],
        )
        return {
            doc["_source"]["doc_id"]: frozenset(doc["_source"].get("acl") or ())
            for doc in response["docs"]
            if doc.get("found")
        }

    def memberships_of(self, source_id: str) -> dict[str, frozenset[str]]:
        directory = self.names.directory
        if not self.gw.call(self.gw.client.indices.exists, index=directory):
            return {}
        pointer = self.gw.call(
            self.gw.client.get, index=directory, id=f"pointer:member:{source_id}", ignore=[404]
        )
        if not pointer.get("found"):
            return {}
        generation = pointer["_source"]["generation"]
        query = {
            "bool": {
                "filter": [
                    {"term": {"kind": "member"}},
                    {"term": {"source_id": source_id}},
                    {"term": {"generation": generation}},
                ]
            }
        }
        groups: dict[str, set[str]] = {}
        for hit in self._pages(directory, query, ["group", "member"], ["group", "member"]):
            groups.setdefault(hit["_source"]["group"], set()).add(hit["_source"]["member"])
        return {group: frozenset(members) for group, members in groups.items()}

    def docs_admitting(self, principals: Iterable[str]) -> Iterator[tuple[str, frozenset[str]]]:
        wanted = sorted(set(principals))
        if not wanted:
            return
        seen: set[str] = set()
        for start in range(0, len(wanted), _MAX_TERMS):
            query = {
                "bool": {
                    "filter": [
                        {"terms": {"acl": wanted[start : start + _MAX_TERMS]}},
                        {"term": {"chunk_index": 0}},
                    ]
                }
            }
            for hit in self._pages(self.names.chunks, query, ["doc_id"], ["doc_id", "acl"]):
                doc_id = hit["_source"]["doc_id"]
                if doc_id not in seen:
                    seen.add(doc_id)
                    yield doc_id, frozenset(hit["_source"].get("acl") or ())

    def _pages(
        self, index: str, query: dict[str, Any], sort: list[str], fields: list[str]
    ) -> Iterator[dict[str, Any]]:
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {
                "size": _PAGE,
                "query": query,
                "sort": [{field: "asc"} for field in sort],
                "_source": fields,
            }
            if after is not None:
                body["search_after"] = after
            hits = self.gw.call(self.gw.client.search, index=index, body=body)["hits"]["hits"]
            yield from hits
            if len(hits) < _PAGE:
                return
            after = hits[-1]["sort"]
