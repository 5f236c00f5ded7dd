"""Pytest plugin: count OpenSearch-backed tests; fail a run that required some but ran none.

A suite that silently skips the real-index tests looks green while testing only half the product.
"""

from __future__ import annotations

import os

import pytest

_outcomes: dict[str, int] = {"passed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "opensearch" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        _outcomes[report.outcome] = _outcomes.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        "OpenSearch-backed tests: {passed} passed, {failed} failed, {skipped} skipped".format(
            **_outcomes
        )
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        # An xdist worker sees only its share; the controller receives every report.
        return
    required = os.environ.get("PERMINDEX_REQUIRE_OPENSEARCH_TESTS") == "1"
    executed = _outcomes["passed"] + _outcomes["failed"]
    if required and exitstatus == 0 and (executed == 0 or _outcomes["skipped"]):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        print(
            "\nOpenSearch-backed tests were required but "
            f"{executed} executed and {_outcomes['skipped']} skipped: failing the run."
        )
