from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from connectors.gateway.retry_after import parse_retry_after, retry_after_from_headers

NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def at_now() -> float:
    return NOW.timestamp()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("7", 7.0), (" 12 ", 12.0), ("1.5", 1.5), (b"3", 3.0)],
)
def test_delay_seconds_integer_and_decimal(value: str | bytes, expected: float) -> None:
    assert parse_retry_after(value, wall_clock=at_now) == expected


def test_http_date_is_relative_to_the_injected_clock() -> None:
    header = format_datetime(NOW + timedelta(seconds=90), usegmt=True)
    assert parse_retry_after(header, wall_clock=at_now) == pytest.approx(90.0)


def test_http_date_with_unknown_zone_reads_as_utc() -> None:
    assert parse_retry_after("Tue, 01 Dec 2026 12:00:30 -0000", wall_clock=at_now) == 30.0


def test_past_http_date_means_now() -> None:
    header = format_datetime(NOW - timedelta(hours=1), usegmt=True)
    assert parse_retry_after(header, wall_clock=at_now) == 0.0


@pytest.mark.parametrize(
    "value",
    [None, "", "  ", "soon", "-5", "1e3", "inf", "nan", "0x10", "1.", "Mon, 99 Foo 2015", b"\xff"],
)
def test_garbage_is_none(value: str | bytes | None) -> None:
    assert parse_retry_after(value, wall_clock=at_now) is None


def test_capped_at_the_configured_maximum() -> None:
    assert parse_retry_after("86400", max_s=300.0) == 300.0
    far = format_datetime(NOW + timedelta(days=2), usegmt=True)
    assert parse_retry_after(far, max_s=60.0, wall_clock=at_now) == 60.0


def test_header_lookup_ignores_case() -> None:
    assert retry_after_from_headers({"retry-after": "4"}) == 4.0
    assert retry_after_from_headers({"Retry-After": "4"}) == 4.0
    assert retry_after_from_headers({"Content-Type": "application/json"}) is None
    assert retry_after_from_headers(None) is None
