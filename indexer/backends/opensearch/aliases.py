"""Creating indices behind aliases idempotently, and rebuilding them without downtime.

Readers and writers only use the alias (``{prefix}-chunks``); the concrete index is
``{alias}-v{SCHEMA_VERSION}-{generation}``. A rebuild creates the next generation, copies the
documents with ``_reindex``, and swaps the alias in one atomic ``_aliases`` call, so searches never
see a missing or half-filled index.
"""

from __future__ import annotations

from typing import Any

from opensearchpy.exceptions import NotFoundError, RequestError

from indexer.backend import SCHEMA_VERSION
from indexer.backends.opensearch.client import Gateway


class SchemaMismatchError(Exception):
    """The existing index cannot be used as is (newer schema, other vector dimension, no alias)."""


def _generation(index: str) -> int:
    tail = index.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def alias_target(gw: Gateway, alias: str) -> str | None:
    try:
        found = gw.call(gw.client.indices.get_alias, name=alias)
    except NotFoundError:
        return None
    targets = sorted(found)
    if len(targets) != 1:
        raise SchemaMismatchError(f"alias {alias} points to {len(targets)} indices: {targets}")
    return targets[0]


def index_meta(gw: Gateway, index: str) -> dict[str, Any]:
    mapping = gw.call(gw.client.indices.get_mapping, index=index)
    meta = mapping[index]["mappings"].get("_meta", {})
    return dict(meta)


def create_index(gw: Gateway, index: str, body: dict[str, Any]) -> bool:
    """Create ``index``; False when it already exists (another process may have won the race)."""
    try:
        gw.call(gw.client.indices.create, index=index, body=body)
    except RequestError as exc:
        if exc.error == "resource_already_exists_exception":
            return False
        raise
    return True


def ensure_aliased_index(gw: Gateway, alias: str, body: dict[str, Any]) -> str:
    """Make ``alias`` point at an index of the current schema; returns the concrete index."""
    wanted = body["mappings"].get("_meta", {})
    target = alias_target(gw, alias)
    if target is None:
        if gw.call(gw.client.indices.exists, index=alias):
            raise SchemaMismatchError(f"{alias} is a concrete index, expected an alias")
        target = f"{alias}-v{SCHEMA_VERSION}-0"
        create_index(gw, target, body)
        gw.call(
            gw.client.indices.update_aliases,
            body={"actions": [{"add": {"index": target, "alias": alias, "is_write_index": True}}]},
        )
        return target
    meta = index_meta(gw, target)
    version = int(meta.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise SchemaMismatchError(
            f"{target} has schema version {version}; this code knows up to {SCHEMA_VERSION}"
        )
    if "dimension" in wanted and meta.get("dimension") not in (None, wanted["dimension"]):
        raise SchemaMismatchError(
            f"{target} holds {meta.get('dimension')}-d vectors, the embedder makes "
            f"{wanted['dimension']}-d ones: rebuild the index with the new model"
        )
    if version < SCHEMA_VERSION:
        return rebuild(gw, alias, body)
    return target


def rebuild(gw: Gateway, alias: str, body: dict[str, Any]) -> str:
    """Copy the alias's index into a fresh one built from ``body`` and swap the alias atomically.

    Writes made while the copy runs go to the old index and are lost with it: run a rebuild while
    no sync holds a lease (or follow it with a sync run, which rewrites what changed).
    """
    old = alias_target(gw, alias)
    if old is None:
        return ensure_aliased_index(gw, alias, body)
    new = f"{alias}-v{SCHEMA_VERSION}-{_generation(old) + 1}"
    create_index(gw, new, body)
    result = gw.call(
        gw.client.reindex,
        body={"source": {"index": old}, "dest": {"index": new}},
        refresh=True,
        wait_for_completion=True,
        request_timeout=3600,
    )
    if result.get("failures"):
        gw.call(gw.client.indices.delete, index=new)
        raise SchemaMismatchError(f"rebuild of {alias} failed: {result['failures'][:3]}")
    gw.call(
        gw.client.indices.update_aliases,
        body={
            "actions": [
                {"remove": {"index": old, "alias": alias}},
                {"add": {"index": new, "alias": alias, "is_write_index": True}},
            ]
        },
    )
    gw.call(gw.client.indices.delete, index=old)
    return new


def ensure_plain_index(gw: Gateway, index: str, body: dict[str, Any]) -> None:
    if not gw.call(gw.client.indices.exists, index=index):
        create_index(gw, index, body)
