"""Highlights for results the keyword leg did not mark (vector-only hits).

Backends mark keyword matches with ``<em>``; a chunk found only by meaning still gets a fragment
around the first query term it contains, marked the same way. No shared term, no highlight: a
fragment without a match would pretend to explain the hit.

Highlights are the one HTML field of a result: the text is escaped and only the marks are tags,
as the backends do, because whoever writes a source controls the text.
"""

from __future__ import annotations

import html
import re

_WORD = re.compile(r"[^\W_]{2,}", re.UNICODE)
FRAGMENT_CHARS = 200


def fallback_highlights(query: str, text: str) -> list[str]:
    terms = {m.group(0).lower() for m in _WORD.finditer(query)}
    if not terms:
        return []
    pattern = re.compile(
        r"\b(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b",
        re.IGNORECASE,
    )
    first = pattern.search(text)
    if first is None:
        return []
    start = max(0, first.start() - FRAGMENT_CHARS // 4)
    end = min(len(text), start + FRAGMENT_CHARS)
    # Cut at word boundaries so the fragment does not start or end mid-word.
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first.start() else start
    if end < len(text):
        space = text.rfind(" ", first.end(), end)
        end = space if space > 0 else end
    fragment = _mark(pattern, text[start:end])
    return [("…" if start > 0 else "") + fragment + ("…" if end < len(text) else "")]


def _mark(pattern: re.Pattern[str], text: str) -> str:
    # Matched on the raw text and escaped piece by piece: marking escaped text would find
    # terms such as "lt" or "amp" inside the entities and split them.
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(html.escape(text[last : match.start()]))
        out.append(f"<em>{html.escape(match.group(0))}</em>")
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)
