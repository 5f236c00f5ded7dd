"""Shared Hypothesis strategies and settings for the parser fuzz tests."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Derandomized and modest: the fuzz suite must stay within its share of the test budget.
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Characters that make markup and YAML parsers take their odd paths.
_MARKUP = "<>/&;#=\"'`-:[]{}|!*_~\\\n\t \r\x00\u00a0\u200b\ufeffé😀"
_SYNTAX = st.sampled_from(list(_MARKUP))
_WORDS = st.sampled_from(
    ["a", "quasar", "title", "allow", "org", "null", "~", "true", "---", "...", "&x", "*x"]
)


def markup_text(max_size: int = 300) -> st.SearchStrategy[str]:
    """Text dense in syntax characters, with runs of ordinary text between them."""
    piece = st.one_of(_SYNTAX, _WORDS, st.text(max_size=8))
    return st.lists(piece, max_size=max_size // 4).map("".join)


def mutated(data: bytes) -> st.SearchStrategy[bytes]:
    """``data`` truncated, with bytes flipped, or with junk spliced in."""
    size = len(data)

    def truncate(n: int) -> bytes:
        return data[:n]

    def flip(pair: tuple[int, int]) -> bytes:
        at, value = pair
        return data[:at] + bytes([value]) + data[at + 1 :]

    def splice(pair: tuple[int, bytes]) -> bytes:
        at, junk = pair
        return data[:at] + junk + data[at:]

    index = st.integers(min_value=0, max_value=max(size - 1, 0))
    return st.one_of(
        st.integers(min_value=0, max_value=size).map(truncate),
        st.tuples(index, st.integers(0, 255)).map(flip),
        st.tuples(index, st.binary(max_size=64)).map(splice),
    )
