"""The re-index marker on OpenSearch: one document in ``{prefix}-reindex``, read by id."""

from __future__ import annotations

from typing import Any

from indexer.backends.opensearch.aliases import ensure_plain_index
from indexer.backends.opensearch.client import Gateway
from indexer.operations.reindex_marker import ReindexMarker

_ID = "marker"
_BODY: dict[str, Any] = {
    "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
    "mappings": {"dynamic": False, "properties": {}},
}


class OpenSearchMarkerStore:
    def __init__(self, gw: Gateway, prefix: str) -> None:
        self.gw = gw
        self.index = f"{prefix}-reindex"

    def get(self) -> ReindexMarker | None:
        # Never creates the index: every write of every run reads this, most with no re-index.
        # A 404 (no index, or no marker) is the usual answer, not worth a warning each time.
        doc = self.gw.call(self.gw.client.get, index=self.index, id=_ID, ignore=404)
        if not doc.get("found"):
            return None
        return ReindexMarker.model_validate(doc["_source"]["marker"])

    def put(self, marker: ReindexMarker) -> None:
        ensure_plain_index(self.gw, self.index, _BODY)
        self.gw.call(
            self.gw.client.index,
            index=self.index,
            id=_ID,
            body={"marker": marker.model_dump(mode="json")},
            refresh=True,
        )

    def clear(self) -> None:
        self.gw.call(self.gw.client.delete, index=self.index, id=_ID, refresh=True, ignore=404)
