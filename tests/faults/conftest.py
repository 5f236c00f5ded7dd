"""The fault tests run on the embedded backend unless they say otherwise (the node tests manage
their own OpenSearch node)."""

from __future__ import annotations

import pytest


@pytest.fixture
def backend_kind() -> str:
    return "embedded"
