"""Load a golden set from YAML or JSON.

Format (YAML shown; JSON has the same shape)::

    name: demo
    default_user: alice@example.com        # optional
    cases:
      - id: salary-bands-hr
        user: bob@example.com
        query: salary bands for senior engineers
        relevant: [hr:compensation/bands.md]           # or a mapping doc id -> grade
        must_never_receive: [leadership:reorg.md]      # ACL-leak check, any rank, any mode

Document ids are permindex document ids (``<source id>:<external id>``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from retrieval.evaluation.dataset import EvalSet


class EvalSetError(Exception):
    """The golden set or BEIR directory cannot be used; the message says where and why."""


def load_golden_set(path: Path) -> EvalSet:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read golden set: {exc}") from None
    try:
        raw = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise EvalSetError(
            f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: {exc}"
        ) from None
    if not isinstance(raw, dict):
        raise EvalSetError(f"{path}: top level must be a mapping with 'cases'")
    raw.setdefault("name", path.stem)
    raw["cases"] = [_normalise_case(c, path) for c in raw.get("cases") or []]
    try:
        return EvalSet.model_validate(raw)
    except ValidationError as exc:
        raise EvalSetError(f"{path}: invalid golden set:\n{exc}") from None


def _normalise_case(case: Any, path: Path) -> Any:
    if not isinstance(case, dict):
        raise EvalSetError(f"{path}: every case must be a mapping, got {case!r}")
    relevant = case.get("relevant")
    if isinstance(relevant, list):
        case = {**case, "relevant": {str(doc): 1 for doc in relevant}}
    return case
