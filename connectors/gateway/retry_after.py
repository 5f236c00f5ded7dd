"""Retry-After as SaaS APIs send it: delay-seconds, a decimal (seen in the wild), or an HTTP-date.

RFC 9110 section 10.2.3 allows a non-negative integer or an HTTP-date. Some servers send decimals
("1.5"), which slack-sdk's own handler crashes on (``int("0.5")``); an uncapped value once hung a
sync for 22 minutes. So every form is accepted, the result is capped, and anything else is None:
the caller then falls back to its own backoff instead of trusting a header it cannot read.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime

DEFAULT_MAX_RETRY_AFTER_S = 300.0

_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_retry_after(
    value: str | bytes | None,
    *,
    max_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    wall_clock: Callable[[], float] = time.time,
) -> float | None:
    """Seconds to wait, in ``[0, max_s]``, or None when ``value`` is absent or unreadable.

    ``wall_clock`` (epoch seconds) is the "now" an HTTP-date is measured from; a date in the past
    means 0, as the server's clock may run slightly behind ours.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    text = value.strip()
    if not text:
        return None
    if _SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        seconds_or_none = _seconds_until_http_date(text, wall_clock())
        if seconds_or_none is None:
            return None
        seconds = seconds_or_none
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), max_s)


def retry_after_from_headers(
    headers: Mapping[str, str] | None,
    *,
    max_s: float = DEFAULT_MAX_RETRY_AFTER_S,
    wall_clock: Callable[[], float] = time.time,
) -> float | None:
    """``parse_retry_after`` of the Retry-After header, looked up case-insensitively.

    SDKs hand headers over as plain dicts whose key case varies (urllib keeps the server's case).
    """
    if not headers:
        return None
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) and value else value
            return parse_retry_after(raw, max_s=max_s, wall_clock=wall_clock)
    return None


def _seconds_until_http_date(text: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # "-0000" parses naive; RFC 5322 reads it as UTC with unknown origin.
        when = when.replace(tzinfo=UTC)
    try:
        return when.timestamp() - now
    except (OverflowError, OSError, ValueError):
        return None
