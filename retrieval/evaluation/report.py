"""The evaluation report: one result per mode, written as JSON (machine) and Markdown (people)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, Field

from retrieval.evaluation.metrics import MEASURES


class Leak(BaseModel):
    """A document a user must never receive came back: the run fails."""

    case_id: str
    user: str | None
    mode: str
    doc_id: str
    rank: int


class ModeResult(BaseModel):
    mode: str
    queries: int
    judged_queries: int
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    leaks: list[Leak] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    per_query: dict[str, dict[str, float]] = Field(default_factory=dict)


class EvalReport(BaseModel):
    dataset: str
    backend: str
    index: str
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    settings: dict[str, str] = Field(default_factory=dict)
    modes: dict[str, ModeResult] = Field(default_factory=dict)
    ingest: dict[str, float] | None = None

    @property
    def leaks(self) -> list[Leak]:
        return [leak for result in self.modes.values() for leak in result.leaks]

    def best_mode(self, metric: str = "ndcg@10") -> str | None:
        judged = [r for r in self.modes.values() if r.judged_queries]
        if not judged:
            return None
        return max(judged, key=lambda r: r.metrics.get(metric, 0.0)).mode

    def to_json(self, *, per_query: bool = True) -> str:
        exclude = None if per_query else {"modes": {"__all__": {"per_query"}}}
        return self.model_dump_json(indent=2, exclude=exclude)

    def to_markdown(self) -> str:
        lines = [
            f"# Evaluation: {self.dataset}",
            "",
            f"- backend: `{self.backend}` ({self.index})",
            f"- run at: {self.created_at.isoformat(timespec='seconds')}",
        ]
        lines += [f"- {key}: `{value}`" for key, value in sorted(self.settings.items())]
        if self.ingest:
            lines.append(
                "- ingest: " + ", ".join(f"{k} {v:g}" for k, v in sorted(self.ingest.items()))
            )
        names = list(MEASURES)
        lines += [
            "",
            "| mode | queries | " + " | ".join(names) + " | p50 ms | p95 ms | leaks |",
            "|---" * (len(names) + 5) + "|",
        ]
        for result in self.modes.values():
            cells = [f"{result.metrics.get(n, 0.0):.4f}" for n in names]
            lines.append(
                f"| {result.mode} | {result.queries} | "
                + " | ".join(cells)
                + f" | {result.latency_ms.get('p50', 0.0):.1f}"
                + f" | {result.latency_ms.get('p95', 0.0):.1f} | {len(result.leaks)} |"
            )
        best = self.best_mode()
        if best:
            lines += ["", f"Best nDCG@10: **{best}**."]
        if self.leaks:
            lines += ["", "## ACL leaks (run FAILED)", ""]
            lines += [
                f"- case `{leak.case_id}` user `{leak.user}` mode `{leak.mode}`: "
                f"received `{leak.doc_id}` at rank {leak.rank}"
                for leak in self.leaks
            ]
        errors = [(r.mode, e) for r in self.modes.values() for e in r.errors]
        if errors:
            lines += ["", "## Errors", ""] + [f"- {mode}: {error}" for mode, error in errors]
        return "\n".join(lines) + "\n"

    def write(self, json_path: Path | None, markdown_path: Path | None) -> None:
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(self.to_json(), encoding="utf-8")
        if markdown_path is not None:
            markdown_path.parent.mkdir(parents=True, exist_ok=True)
            markdown_path.write_text(self.to_markdown(), encoding="utf-8")
