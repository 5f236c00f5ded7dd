"""Split a source document into chunks with llama-index node parsers.

Markdown and HTML are first cut along their structure (headings, block elements) so a chunk
never straddles two sections; every section is then split by ``SentenceSplitter`` to the
configured size in tokens. A chunk stores its own text; the text that is *embedded* is prefixed
with the document title, its breadcrumbs and the section's heading path, so a chunk that never
repeats the page name still lands near queries about it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from connectors.documents import SourceDocument
from indexer.settings import ChunkingSettings

if TYPE_CHECKING:
    from llama_index.core.node_parser import HTMLNodeParser, MarkdownNodeParser, SentenceSplitter

MARKDOWN_TYPES = frozenset({"text/markdown", "text/x-markdown"})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})

# Block-level tags only: inline tags (b, i, u: llama-index's defaults) would tear sentences apart.
_HTML_TAGS = [
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "pre", "blockquote", "td", "th",
    "dt", "dd", "caption", "figcaption", "div", "section", "article", "body",
]  # fmt: skip
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_HTML_DROP = ("script", "style", "noscript", "template", "head")

Tokenizer = Callable[[str], Sequence[object]]


class ChunkingError(ValueError):
    """A document that cannot be chunked (oversized, unparsable): recorded and skipped."""


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    text: str  # what is stored and shown
    embed_text: str  # what is embedded: title, breadcrumbs and section path, then the text


@dataclass(frozen=True, slots=True)
class _Section:
    text: str
    path: tuple[str, ...]


class Chunker:
    """Stateless after construction; safe to reuse for every document of a run."""

    def __init__(self, settings: ChunkingSettings, tokenizer: Tokenizer | None = None) -> None:
        if settings.chunk_overlap >= settings.chunk_size:
            raise ValueError(
                f"chunk_overlap ({settings.chunk_overlap}) must be smaller than "
                f"chunk_size ({settings.chunk_size})"
            )
        self.settings = settings
        self._tokenizer = tokenizer

    # The parsers are built, and llama-index imported (1.4 s, which every CLI command paid at
    # start-up), on first use: the splitter also loads a tokenizer (about half a second and
    # 40 MB), which runs that chunk nothing (ACL-only or version-skipped changes, permissions
    # runs) never need.
    @cached_property
    def _splitter(self) -> SentenceSplitter:
        from llama_index.core.node_parser import SentenceSplitter

        return SentenceSplitter(
            chunk_size=self.settings.chunk_size,
            chunk_overlap=self.settings.chunk_overlap,
            tokenizer=self._tokenizer,
        )

    @cached_property
    def _markdown(self) -> MarkdownNodeParser:
        from llama_index.core.node_parser import MarkdownNodeParser

        return MarkdownNodeParser()

    @cached_property
    def _html(self) -> HTMLNodeParser:
        from llama_index.core.node_parser import HTMLNodeParser

        return HTMLNodeParser(tags=_HTML_TAGS)

    def chunk(self, document: SourceDocument) -> list[Chunk]:
        """At least one chunk per document; ``ChunkingError`` for documents that must be skipped."""
        limit = self.settings.max_document_chars
        if len(document.body) > limit:
            raise ChunkingError(
                f"document body has {len(document.body)} characters, more than the limit of "
                f"{limit} (chunking.max_document_chars)"
            )
        try:
            sections = self._sections(document)
            texts = [
                (piece, section.path)
                for section in sections
                for piece in self._splitter.split_text(section.text)
                if piece.strip()
            ]
        except ChunkingError:
            raise
        except Exception as exc:  # a parser bug on one document must not stop the run
            raise ChunkingError(f"could not split document: {type(exc).__name__}: {exc}") from exc
        if not texts:
            # An empty body still deserves to be findable by its title.
            texts = [(document.title, ())]
        return [
            Chunk(index=i, text=text, embed_text=embedding_text(document, path, text))
            for i, (text, path) in enumerate(texts)
        ]

    def _sections(self, document: SourceDocument) -> list[_Section]:
        body = document.body
        if not body.strip():
            return []
        if document.content_type in MARKDOWN_TYPES:
            return self._markdown_sections(body)
        if document.content_type in HTML_TYPES and "<" in body:
            return self._html_sections(body)
        return [_Section(body, ())]

    def _markdown_sections(self, body: str) -> list[_Section]:
        from llama_index.core.schema import Document

        nodes = self._markdown.get_nodes_from_documents([Document(text=body)])
        sections = []
        for node in nodes:
            header_path = str(node.metadata.get("header_path", "/"))
            path = tuple(part for part in header_path.split("/") if part)
            sections.append(_Section(node.get_content(), path))
        return sections

    def _html_sections(self, body: str) -> list[_Section]:
        from bs4 import BeautifulSoup
        from llama_index.core.schema import Document

        soup = BeautifulSoup(body, "html.parser")
        for tag in soup.find_all(_HTML_DROP):
            tag.decompose()
        visible = " ".join(soup.get_text(" ").split())
        nodes = self._html.get_nodes_from_documents([Document(text=str(soup))])
        sections: list[_Section] = []
        heading: tuple[str, ...] = ()
        for node in nodes:
            text = node.get_content()
            if node.metadata.get("tag") in _HEADINGS:
                sections.append(_Section(text, ()))
                heading = (" ".join(text.split()),)
            else:
                sections.append(_Section(text, heading))
        covered = sum(len(" ".join(s.text.split())) for s in sections)
        if covered < 0.9 * len(visible):
            # The structure parser dropped text it does not know where to put: keep everything.
            return [_Section(soup.get_text("\n"), ())]
        return sections


def embedding_text(document: SourceDocument, path: Sequence[str], text: str) -> str:
    context = [document.title.strip(), *document.breadcrumbs, *path]
    header = " > ".join(part for part in context if part)
    return f"{header}\n\n{text}" if header else text
