"""Atlassian Document Format (ADF) to plain text, for descriptions and comments.

ADF is a JSON tree (https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/):
block nodes hold inline nodes, inline text carries marks. Text is what a reader sees: marks are
dropped, mentions and emoji keep their visible text, cards keep their URL, media is left out.
Anything not shaped like ADF gives the empty string, never an error: a malformed description
must not fail the issue.
"""

from __future__ import annotations

from typing import Any

# Nodes that end a line of their own; others run inline.
_BLOCKS = frozenset(
    {
        "paragraph",
        "heading",
        "blockquote",
        "codeBlock",
        "panel",
        "rule",
        "listItem",
        "tableRow",
        "expand",
        "nestedExpand",
        "decisionItem",
        "taskItem",
        "mediaSingle",
        "mediaGroup",
    }
)


def adf_to_text(node: Any) -> str:
    """The readable text of an ADF document (or of a plain string, returned as it is)."""
    if isinstance(node, str):
        return node.strip()
    lines: list[str] = []
    _walk(node, lines, [""])
    return "\n".join(line.rstrip() for line in lines if line.strip()).strip()


def _walk(node: Any, lines: list[str], current: list[str], depth: int = 0) -> None:
    if depth > 100 or not isinstance(node, dict):
        return  # deeper than any editor writes: a crafted document, not worth recursing into
    kind = node.get("type")
    raw_attrs = node.get("attrs")
    attrs: dict[str, Any] = raw_attrs if isinstance(raw_attrs, dict) else {}
    if kind == "text":
        current[0] += str(node.get("text", ""))
        return
    if kind == "hardBreak":
        _flush(lines, current)
        return
    if kind in ("mention", "emoji", "status", "placeholder"):
        current[0] += str(attrs.get("text") or attrs.get("shortName") or "")
        return
    if kind in ("inlineCard", "blockCard", "embedCard"):
        current[0] += str(attrs.get("url") or "")
        return
    if kind == "date":
        current[0] += str(attrs.get("timestamp") or "")
        return
    if kind in ("media", "mediaInline"):
        return
    children = node.get("content")
    if kind == "tableRow" and isinstance(children, list):
        # One line per row, cells side by side, whatever paragraphs each cell holds.
        _flush(lines, current)
        cells = []
        for cell in children:
            cell_lines: list[str] = []
            _walk(cell, cell_lines, [""], depth + 1)
            cells.append(" ".join(line.strip() for line in cell_lines if line.strip()))
        lines.append(" | ".join(cells))
        return
    if kind in _BLOCKS:
        _flush(lines, current)
    if isinstance(children, list):
        for child in children:
            _walk(child, lines, current, depth + 1)
    if kind in _BLOCKS:
        _flush(lines, current)


def _flush(lines: list[str], current: list[str]) -> None:
    if current[0].strip():
        lines.append(current[0])
    current[0] = ""
