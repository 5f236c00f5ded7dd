"""Limits and listening address of the HTTP service."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from indexer.settings import IndexSettings

DEFAULT_KEYS_FILE = Path("permindex-keys.yaml")
DEFAULT_AUDIT_FILE = Path("permindex-audit.jsonl")


class ServiceSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    keys_file: Path = DEFAULT_KEYS_FILE
    # One JSON line per search and document read (who asked what, what came back). None: next
    # to the embedded index file, or permindex-audit.jsonl beside the config with OpenSearch.
    audit_file: Path | None = None
    # Requests larger than this are refused with 413 before they are parsed.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Tighter than (or equal to) what the search models accept; enforced with a 422.
    max_top_k: int = Field(default=50, ge=1, le=100)
    max_query_chars: int = Field(default=1000, ge=1, le=2000)
    max_asserted_groups: int = Field(default=500, ge=0)
    # A search that has not finished within the budget gets a 504; one that cannot even start
    # because every worker is busy and the queue is full gets a 503 at once.
    time_budget_s: float = Field(default=5.0, gt=0)
    workers: int = Field(default=4, ge=1, le=64)
    max_queued: int = Field(default=16, ge=0)
    # /metrics needs an admin key unless this is set (for scrapers on a private network).
    metrics_public: bool = False
    readiness_timeout_s: float = Field(default=2.0, gt=0)
    # /readyz needs no key: its answer is reused this long, so a flood costs one probe.
    readiness_cache_s: float = Field(default=2.0, ge=0)


def audit_path(service: ServiceSettings, index: IndexSettings) -> Path:
    """Where ``permindex serve`` appends its audit records."""
    if service.audit_file is not None:
        return service.audit_file
    if index.opensearch is None:
        embedded = index.embedded.path
        return embedded.with_name(f"{embedded.stem}-audit.jsonl")
    return DEFAULT_AUDIT_FILE
