"""Named search configurations an evaluation compares: ``keyword``, ``vector``, ``hybrid``,
``hybrid-rrf``, ``hybrid-minmax``, each optionally with ``+rerank``."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from retrieval.models import FusionMethod, SearchMode

_MODES: dict[str, tuple[SearchMode, FusionMethod | None]] = {
    "keyword": ("keyword", None),
    "vector": ("vector", None),
    "hybrid": ("hybrid", None),  # the configured default fusion
    "hybrid-rrf": ("hybrid", "rrf"),
    "hybrid-minmax": ("hybrid", "minmax"),
}
RERANK_SUFFIX = "+rerank"


class ModeSpec(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    mode: SearchMode
    fusion: FusionMethod | None = None
    rerank: bool = False


def parse_mode(name: str) -> ModeSpec:
    base = name.strip().lower()
    rerank = base.endswith(RERANK_SUFFIX)
    if rerank:
        base = base[: -len(RERANK_SUFFIX)]
    if base not in _MODES:
        known = ", ".join(sorted(_MODES))
        raise ValueError(f"unknown mode {name!r}: expected one of {known}, optionally +rerank")
    mode, fusion = _MODES[base]
    return ModeSpec(
        name=base + (RERANK_SUFFIX if rerank else ""), mode=mode, fusion=fusion, rerank=rerank
    )
