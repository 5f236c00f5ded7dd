"""Read a BEIR-format directory in place: ``corpus.jsonl``, queries and qrels of one split.

Both layouts are accepted: the flat one (``queries_<split>.jsonl``, ``qrels_<split>.tsv``) and the
original one (``queries.jsonl``, ``qrels/<split>.tsv``). Only queries with at least one judged
relevant document are evaluated, as BEIR does.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from retrieval.evaluation.dataset import EvalCase, EvalSet
from retrieval.evaluation.golden import EvalSetError


class BeirDocument(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    text: str


def _first_existing(*candidates: Path) -> Path:
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    names = ", ".join(str(c) for c in candidates)
    raise EvalSetError(f"BEIR directory is missing a file: none of {names} exists")


def corpus_path(root: Path) -> Path:
    return _first_existing(root / "corpus.jsonl")


def iter_corpus(root: Path) -> Iterator[BeirDocument]:
    path = corpus_path(root)
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                yield BeirDocument(
                    id=str(raw["_id"]), title=raw.get("title") or "", text=raw.get("text") or ""
                )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise EvalSetError(f"{path}:{line_no}: not a BEIR corpus line: {exc}") from None


def load_queries(root: Path, split: str) -> dict[str, str]:
    path = _first_existing(root / f"queries_{split}.jsonl", root / "queries.jsonl")
    queries: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
                queries[str(raw["_id"])] = str(raw["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise EvalSetError(f"{path}:{line_no}: not a BEIR query line: {exc}") from None
    return queries


def load_qrels(root: Path, split: str) -> dict[str, dict[str, int]]:
    path = _first_existing(root / f"qrels_{split}.tsv", root / "qrels" / f"{split}.tsv")
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t")
        for row_no, row in enumerate(reader, 1):
            if not row or (row_no == 1 and not row[-1].strip().lstrip("-").isdigit()):
                continue  # blank line or the header
            try:
                query_id, doc_id, grade = row[0], row[1], int(row[2])
            except (IndexError, ValueError):
                raise EvalSetError(
                    f"{path}:{row_no}: expected query-id, corpus-id, score"
                ) from None
            qrels.setdefault(query_id, {})[doc_id] = grade
    return qrels


def load_beir_eval_set(root: Path, split: str, *, limit: int | None = None) -> EvalSet:
    if not root.is_dir():
        raise EvalSetError(f"{root}: not a directory")
    queries = load_queries(root, split)
    qrels = load_qrels(root, split)
    cases: list[EvalCase] = []
    for query_id in sorted(qrels, key=_natural_key):
        judged = qrels[query_id]
        if query_id not in queries or not any(grade > 0 for grade in judged.values()):
            continue
        cases.append(EvalCase(id=query_id, query=queries[query_id], relevant=judged))
        if limit is not None and len(cases) >= limit:
            break
    if not cases:
        raise EvalSetError(f"{root}: split {split!r} has no query with a relevant document")
    return EvalSet(name=f"{root.name}/{split}", id_space="external_id", cases=cases)


def _natural_key(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (1 << 62, value)
