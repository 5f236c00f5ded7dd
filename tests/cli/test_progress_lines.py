"""Sync progress off a terminal: plain lines at a bounded rate, not a bar nobody sees."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from indexer.state_store import RunRecord
from permindex.progress import RichProgressSink


def test_plain_lines_are_throttled_and_end_with_the_outcome() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=60)
    now = [0.0]
    sink = RichProgressSink(console, source_id="wiki[bold]", interval_s=10.0, timer=lambda: now[0])
    with sink:
        sink.started("full", 300)
        for _ in range(30):  # 30 batches of 10 documents, one a second
            now[0] += 1.0
            sink.advanced(10, 25)
        record = RunRecord(
            run_id="r1",
            source_id="wiki[bold]",
            run_type="full",
            status="succeeded",
            started_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        sink.finished(record)
    assert buffer.getvalue().splitlines() == [
        "wiki[bold] full: started, 300 documents to read",
        "wiki[bold] full: 100/300 documents, 250 chunks, 10.0 docs/s",
        "wiki[bold] full: 200/300 documents, 500 chunks, 10.0 docs/s",
        "wiki[bold] full: 300/300 documents, 750 chunks, 10.0 docs/s",
        "wiki[bold] full: succeeded after 30.0 s: 300/300 documents, 750 chunks, 10.0 docs/s",
    ]


def test_a_terminal_gets_the_bar_not_lines() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    with RichProgressSink(console, source_id="docs") as sink:
        sink.started("incremental", None)
        sink.advanced(3, 4)
    assert "docs incremental documents" in buffer.getvalue()
    assert "started" not in buffer.getvalue()
