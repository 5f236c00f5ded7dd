"""Turn any user string into a safe FTS5 query: quoted terms joined by OR, like a BM25 match query.

FTS5 has its own syntax (``AND``/``NEAR``, ``col:``, ``^``, ``*``, parentheses, quotes); passing
user text through would let a query fail or change meaning. Every term is double-quoted, which FTS5
reads as a plain string, and the terms are OR-ed so ranking (not the query) decides relevance.
"""

from __future__ import annotations

import re

# Letters and digits, the characters FTS5's unicode61 tokenizer keeps; everything else separates.
_TERM = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERMS = 64


def fts_match_expression(query: str) -> str | None:
    """The MATCH expression for ``query``, or None when it contains no searchable term."""
    terms = fts_terms(query)
    return fts_expression(terms) if terms else None


def fts_expression(terms: list[str]) -> str:
    return " OR ".join(f'"{term}"' for term in terms)


def fts_terms(query: str) -> list[str]:
    """The distinct searchable terms of ``query``, in order, at most ``MAX_TERMS``."""
    terms: list[str] = []
    seen: set[str] = set()
    for match in _TERM.finditer(query.lower()):
        term = match.group(0)
        if term not in seen:
            seen.add(term)
            terms.append(term)
        if len(terms) == MAX_TERMS:
            break
    return terms
