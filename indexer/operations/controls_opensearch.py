"""Source controls in OpenSearch: one document per source in ``{prefix}-controls``."""

from __future__ import annotations

from typing import Any

from opensearchpy.exceptions import NotFoundError

from indexer.backends.opensearch.aliases import ensure_plain_index
from indexer.backends.opensearch.client import Gateway
from indexer.operations.controls import SourceControl

_BODY: dict[str, Any] = {
    "settings": {"index": {"number_of_shards": 1, "auto_expand_replicas": "0-1"}},
    # The control is stored whole and read back by id: nothing in it is searched.
    "mappings": {"dynamic": False, "properties": {"source_id": {"type": "keyword"}}},
}


class OpenSearchControlStore:
    def __init__(self, gw: Gateway, prefix: str) -> None:
        self.gw = gw
        self.index = f"{prefix}-controls"
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            ensure_plain_index(self.gw, self.index, _BODY)
            self._ready = True

    def get(self, source_id: str) -> SourceControl | None:
        self._ensure()
        try:
            doc = self.gw.call(self.gw.client.get, index=self.index, id=source_id)
        except NotFoundError:
            return None
        return SourceControl.model_validate(doc["_source"]["control"])

    def put(self, control: SourceControl) -> None:
        self._ensure()
        self.gw.call(
            self.gw.client.index,
            index=self.index,
            id=control.source_id,
            body={"source_id": control.source_id, "control": control.model_dump(mode="json")},
            refresh=True,
        )

    def all(self) -> list[SourceControl]:
        self._ensure()
        response = self.gw.call(
            self.gw.client.search,
            index=self.index,
            body={"size": 10_000, "query": {"match_all": {}}, "sort": [{"source_id": "asc"}]},
        )
        return [
            SourceControl.model_validate(h["_source"]["control"]) for h in response["hits"]["hits"]
        ]
