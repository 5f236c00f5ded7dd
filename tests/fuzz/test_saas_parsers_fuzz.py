"""Fuzzed SaaS bodies: Confluence storage HTML, Jira ADF, Slack message text and Drive exports.
Each parser returns text or raises the one error its connector records as a failed document
(never anything that would end the run)."""

from __future__ import annotations

import io
from functools import cache
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from connectors.confluence.storage_text import storage_to_text
from connectors.google_drive import content
from connectors.google_drive.content import UnreadableContent, extract
from connectors.jira.adf import adf_to_text
from connectors.slack.render import Message, plain_text, render
from tests.connectors.folder_helpers import minimal_pdf
from tests.fuzz.strategies import FUZZ, markup_text, mutated

_TAGS = [
    "p",
    "h1",
    "table",
    "tr",
    "td",
    "th",
    "ul",
    "li",
    "ac:structured-macro",
    "ac:parameter",
    "ac:rich-text-body",
    "ac:plain-text-body",
    "ac:link",
    "ri:user",
    "ri:page",
    "ac:image",
    "ac:task-list",
    "![CDATA[",
    "br",
    "pre",
    "code",
]


@st.composite
def storage_html(draw: st.DrawFn) -> str:
    parts: list[str] = []
    for _ in range(draw(st.integers(0, 25))):
        tag = draw(st.sampled_from(_TAGS))
        kind = draw(st.integers(0, 4))
        if kind == 0:
            attr = draw(st.sampled_from(["", ' ac:name="code"', ' ac:name="toc"', ' colspan="x"']))
            parts.append(f"<{tag}{attr}>")
        elif kind == 1:
            parts.append(f"</{tag}>")
        elif kind == 2:
            parts.append(f"<{tag}/>")
        else:
            parts.append(draw(markup_text(40)))
    return "".join(parts)


# Confluence records a ValueError from building a page as a failed document.
@FUZZ
@given(storage=st.one_of(storage_html(), markup_text()))
@example(storage="<table><tr><td>a</td></tr></table></tr></td>")
@example(storage='<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[x')
@example(storage="<" * 5000)
def test_confluence_storage_is_text_or_a_value_error(storage: str) -> None:
    try:
        text = storage_to_text(storage)
    except ValueError:
        return
    assert isinstance(text, str)


_LEAF: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=10)
)
_KINDS = st.sampled_from(
    [
        *("doc", "paragraph", "text", "mention", "emoji", "tableRow", "tableCell", "hardBreak"),
        *("inlineCard", "date", "media", "bulletList", "listItem", "codeBlock", None, 3),
    ]
)


def _adf_node(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {"type": _KINDS},
            optional={
                "content": st.one_of(st.lists(children, max_size=4), children),
                "text": _LEAF,
                "attrs": st.one_of(
                    st.dictionaries(st.sampled_from(["text", "url", "timestamp"]), _LEAF), _LEAF
                ),
            },
        ),
        st.lists(children, max_size=3),
    )


_ADF = st.recursive(_LEAF, _adf_node, max_leaves=30)


def _nested(depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": "deep"}
    for _ in range(depth):
        node = {"type": "paragraph", "content": [node]}
    return node


# Jira records ValueError and TypeError from building an issue as a failed document.
@FUZZ
@given(adf=_ADF)
@example(adf=_nested(5000))
@example(adf={"type": "tableRow", "content": [{"type": "tableRow", "content": "x"}]})
def test_jira_adf_is_text_whatever_its_shape(adf: Any) -> None:
    try:
        text = adf_to_text(adf)
    except (ValueError, TypeError):
        return
    assert isinstance(text, str)


_SLACK_MARKUP = st.one_of(
    markup_text(60),
    st.sampled_from(
        [
            *("<@U1>", "<@U1|alice>", "<#C1|eng>", "<#C2>", "<!here>", "<!subteam^S1|@ops>"),
            *("<!date^1|x>", "<http://x|y>", "<>", "<|>", "<@>", "&amp;", "&#xD800;", "&#0;"),
        ]
    ),
)


@FUZZ
@given(
    texts=st.lists(st.lists(_SLACK_MARKUP, max_size=6).map("".join), min_size=1, max_size=4),
    ts=st.floats(min_value=0, max_value=4e9).map(lambda t: f"{t:.6f}"),
)
@example(texts=["<@U1|<#C1>>", "&#xD800;&#99999999;"], ts="0.000000")
def test_slack_messages_render_to_text(texts: list[str], ts: str) -> None:
    messages = [Message.of({"ts": ts, "user": "U1", "text": text}) for text in texts]
    names = {"U1": "Alice"}
    body = render(messages, lambda u: names.get(u, u), lambda c: c, with_time=True)
    assert isinstance(body, str)
    assert isinstance(plain_text(texts[0], lambda u: u, lambda c: c), str)
    body.encode("utf-8")  # an indexable string: no lone surrogates from entity decoding


@cache
def _office_seeds() -> dict[str, bytes]:
    import docx
    import openpyxl
    import pptx

    out: dict[str, bytes] = {}
    document = docx.Document()
    document.add_paragraph("quasar alarm")
    buffer = io.BytesIO()
    document.save(buffer)
    out[content.DOCX] = buffer.getvalue()
    workbook = openpyxl.Workbook()
    workbook.active.append(["quasar", 1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    out[content.XLSX] = buffer.getvalue()
    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[5])
    slide.shapes.title.text = "quasar alarm"
    buffer = io.BytesIO()
    deck.save(buffer)
    out[content.PPTX] = buffer.getvalue()
    out[content.PDF] = minimal_pdf("quasar alarm")
    out["text/plain"] = b"quasar alarm\n"
    return out


_MIMES = [content.DOCX, content.XLSX, content.PPTX, content.PDF, "text/plain"]


@st.composite
def drive_file(draw: st.DrawFn) -> tuple[str, bytes]:
    mime = draw(st.sampled_from(_MIMES))
    seed = _office_seeds()[mime]
    data = draw(st.one_of(mutated(seed), st.binary(max_size=200)))
    return mime, data


# Drive records UnreadableContent as a failed document.
@FUZZ
@given(file=drive_file())
@example(file=(content.DOCX, b"PK\x03\x04"))
@example(file=("text/plain", b"\xff\xfe\x00\x00"))
def test_a_drive_file_is_text_or_unreadable(file: tuple[str, bytes]) -> None:
    mime, data = file
    try:
        text = extract(mime, data)
    except UnreadableContent:
        return
    assert isinstance(text, str)
    text.encode("utf-8")
