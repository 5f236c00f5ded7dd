"""The demo, small size, with the real model: two people see different things, and a revoked
permission and a deleted document are gone after one incremental sync."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from permindex.demo import generator
from permindex.demo.flow import AFTER_QUERY, QUERIES, doc_id, run_demo
from permindex.demo.org import ALICE, BOB

pytestmark = pytest.mark.slow


def test_generator_is_deterministic_and_realistic() -> None:
    first = generator.generate("small", seed=3)
    assert first == generator.generate("small", seed=3)
    assert first != generator.generate("small", seed=4)
    assert len(generator.generate("full")) >= 250
    text = " ".join(f.text for f in first).lower()
    assert "lorem" not in text


def test_demo_trims_by_permission_and_applies_revocation_and_deletion(tmp_path: Path) -> None:
    console = Console(file=io.StringIO(), width=160)
    outcome = run_demo(tmp_path, size="small", console=console)
    shown = console.file.getvalue()  # type: ignore[attr-defined]

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
