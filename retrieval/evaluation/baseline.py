"""Compare a report with a saved baseline: a quality drop beyond the tolerance is a regression.

Latency is reported but never compared: on shared, noisy machines it would make the gate flaky.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError

from retrieval.evaluation.golden import EvalSetError
from retrieval.evaluation.report import EvalReport


class Regression(BaseModel):
    mode: str
    metric: str
    baseline: float
    current: float

    def describe(self) -> str:
        return (
            f"{self.mode} {self.metric}: {self.current:.4f} < baseline {self.baseline:.4f} "
            f"({self.current - self.baseline:+.4f})"
        )


def load_baseline(path: Path) -> EvalReport:
    try:
        return EvalReport.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvalSetError(f"{path}: cannot read baseline: {exc}") from None
    except ValidationError as exc:
        raise EvalSetError(f"{path}: not an evaluation report: {exc}") from None


def compare(current: EvalReport, baseline: EvalReport, tolerance: float) -> list[Regression]:
    """Every (mode, metric) of both reports whose value fell by more than ``tolerance``."""
    regressions: list[Regression] = []
    for mode, result in current.modes.items():
        before = baseline.modes.get(mode)
        if before is None:
            continue
        for metric, value in result.metrics.items():
            old = before.metrics.get(metric)
            if old is not None and value < old - tolerance:
                regressions.append(
                    Regression(mode=mode, metric=metric, baseline=old, current=value)
                )
    return regressions
