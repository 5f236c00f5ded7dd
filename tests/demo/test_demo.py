"""The demo, small size, with the real model: two people see different things, and a revoked
permission and a deleted document are gone after one incremental sync."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from permindex.demo import generator
from permindex.demo.flow import AFTER_QUERY, QUERIES, DemoOutcome, doc_id, run_demo
from permindex.demo.org import ALICE, BOB

pytestmark = pytest.mark.slow


def test_generator_is_deterministic_and_realistic() -> None:
    first = generator.generate("small", seed=3)
    assert first == generator.generate("small", seed=3)
    assert first != generator.generate("small", seed=4)
    assert len(generator.generate("full")) >= 250
    text = " ".join(f.text for f in first).lower()
    assert "lorem" not in text


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoOutcome, str]:
    """One small demo run shared by the tests below (it loads the real model)."""
    console = Console(file=io.StringIO(), width=160)
    outcome = run_demo(tmp_path_factory.mktemp("demo"), size="small", console=console)
    return outcome, console.file.getvalue()  # type: ignore[attr-defined]


def test_demo_trims_by_permission_and_applies_revocation_and_deletion(
    demo: tuple[DemoOutcome, str],
) -> None:
    outcome, shown = demo

    for query in QUERIES:
        assert outcome.before[(ALICE.email, query)] != outcome.before[(BOB.email, query)], query

    bands = doc_id(generator.SALARY_BANDS)
    reorg = doc_id(generator.REORG_PLAN)
    salary_q, incident_q, reorg_q = QUERIES
    assert bands in outcome.before[(BOB.email, salary_q)]
    assert bands not in outcome.before[(ALICE.email, salary_q)]
    assert reorg in outcome.before[(BOB.email, reorg_q)]
    assert reorg not in outcome.before[(ALICE.email, reorg_q)]

    # Alice reaches the incident only through nested groups; Bob never does.
    assert outcome.revoked_doc in outcome.before[(ALICE.email, incident_q)]
    assert outcome.deleted_doc in outcome.before[(ALICE.email, incident_q)]
    assert outcome.revoked_doc not in outcome.before[(BOB.email, incident_q)]
    after = outcome.after[(ALICE.email, AFTER_QUERY)]
    assert outcome.revoked_doc not in after
    assert outcome.deleted_doc not in after

    incremental = outcome.runs[-1]
    assert incremental.run_type == "incremental"
    assert incremental.counts.deleted == 1
    assert incremental.counts.acl_updated >= 1
    assert incremental.counts.chunks_embedded == 0  # an ACL change costs no embedding
    assert "Salary bands 2025" in shown and "is gone" in shown


def test_golden_set_of_the_demo_index_has_no_leak(
    demo: tuple[DemoOutcome, str], tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from permindex.cli import app

    workdir = demo[0].index_path.parent
    report = tmp_path / "golden.json"
    result = CliRunner().invoke(
        app,
        ["eval", "--golden", str(workdir / "northwind-golden.yaml"),
         "--index", str(workdir / "demo-index.sqlite"), "--tenant", "northwind",
         "--mode", "keyword", "--mode", "vector", "--mode", "hybrid", "--json", str(report)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    modes = json.loads(report.read_text())["modes"]
    assert all(mode["leaks"] == [] and not mode["errors"] for mode in modes.values())
    # HR finds the confidential bands first: the judged cases are answerable, not empty.
    assert modes["hybrid"]["per_query"]["bands-hr"]["mrr"] == 1.0
