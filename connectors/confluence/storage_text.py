"""Confluence storage format (XHTML with ``ac:``/``ri:`` elements) to structured plain text.

The text keeps what chunking and retrieval use: headings as ``#`` lines, list items as ``-`` or
``1.`` lines (indented per level), table rows as ``|``-separated cells, code blocks fenced.
Confluence's own elements are handled one by one, never passed through as markup:

- code and noformat macros become fenced blocks (with the macro's language);
- macros with a rich-text body (info, note, panel, expand...) keep their body and title;
- macros without a body (toc, children, jira, recently-updated) are dynamic: dropped;
- mentions (``ri:user``) become ``@`` and the link text, or ``@user``;
- emoticons become their fallback character, or ``:name:``;
- images and attachment links become ``[image: name]`` / ``[attachment: name]`` (file contents
  are not indexed here);
- tasks become ``- [ ]`` / ``- [x]`` items; placeholders (editor hints) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCKS = {"p", "div", "blockquote", "section", "article", "pre", "hr", "tr", "table"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CODE_MACROS = {"code", "noformat"}
_SPACES = re.compile(r"[ \t\r\n\u00a0]+")


@dataclass
class _Macro:
    name: str
    params: dict[str, str] = field(default_factory=dict)
    param: str | None = None
    title_done: bool = False


@dataclass
class _Table:
    rows: list[list[str]] = field(default_factory=list)
    header_rows: int = 0
    cell: list[str] | None = None
    row_is_header: bool = False


class _Renderer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.inline: list[str] = []
        self.lists: list[tuple[str, int]] = []
        self.macros: list[_Macro] = []
        self.tables: list[_Table] = []
        self.heading: int | None = None
        self.skip = 0  # inside something whose text is not content
        self.pre = 0
        self.code: list[str] | None = None
        self.link_body: list[str] | None = None
        self.link_target: str | None = None
        self.task_done = False
        self.in_task_status = False

    # -- output ---------------------------------------------------------------------------

    def text(self, value: str) -> None:
        if self.skip:
            return
        if self.code is not None:
            self.code.append(value)
            return
        if self.link_body is not None:
            self.link_body.append(value)
            return
        if self.tables and self.tables[-1].cell is not None:
            self.tables[-1].cell.append(value)
            return
        self.inline.append(value)

    def flush(self) -> None:
        raw = "".join(self.inline)
        self.inline = []
        line = raw if self.pre else _SPACES.sub(" ", raw).strip()
        if not line:
            return
        if self.heading is not None:
            line = "#" * self.heading + " " + line
        elif self.lists:
            kind, _depth = self.lists[-1]
            marker = "-" if kind == "ul" else "1."
            line = "  " * (len(self.lists) - 1) + f"{marker} {line}"
        self.lines.append(line)

    def blank(self) -> None:
        self.flush()
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    # -- parsing --------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "ac:structured-macro":
            self.macros.append(_Macro(a.get("ac:name", "")))
            return
        if tag == "ac:parameter":
            if self.macros:
                self.macros[-1].param = a.get("ac:name", "")
            self.skip += 1
            return
        if tag == "ac:plain-text-body":
            if self.macros and self.macros[-1].name in _CODE_MACROS:
                self.blank()
                self.code = []
            else:
                self.skip += 1
            return
        if tag == "ac:rich-text-body":
            macro = self.macros[-1] if self.macros else None
            if macro is not None and not macro.title_done:
                macro.title_done = True
                title = macro.params.get("title")
                self.blank()
                if title:
                    self.lines.append(f"**{title}**")
            return
        if tag == "ac:placeholder":
            self.skip += 1
            return
        if tag == "ac:emoticon":
            self.text(a.get("ac:emoji-fallback") or f":{a.get('ac:name', 'emoticon')}:")
            return
        if tag == "ac:link":
            self.link_body = []
            self.link_target = None
            return
        if tag == "ri:user":
            self.link_target = "@"
            return
        if tag == "ri:page":
            self.link_target = a.get("ri:content-title") or self.link_target
            return
        if tag == "ri:attachment":
            name = a.get("ri:filename", "file")
            if self.link_body is not None:
                self.link_target = f"[attachment: {name}]"
            else:
                self.text(f"[image: {name}]")
            return
        if tag == "ac:image":
            return
        if tag == "ri:url":
            if self.link_body is None:
                self.text("[image]")
            return
        if tag == "ac:task":
            self.task_done = False
            return
        if tag == "ac:task-status":
            self.in_task_status = True
            return
        if tag in ("ac:task-body",):
            self.flush()
            return
        if tag in ("ac:task-list", "ul", "ol"):
            self.flush()
            self.lists.append(("ol" if tag == "ol" else "ul", len(self.lists)))
            return
        if tag == "li":
            self.flush()
            return
        if tag in _HEADINGS:
            self.blank()
            self.heading = _HEADINGS[tag]
            return
        if tag == "table":
            self.blank()
            self.tables.append(_Table())
            return
        if tag == "tr" and self.tables:
            self.tables[-1].rows.append([])
            self.tables[-1].row_is_header = True
            return
        if tag in ("td", "th") and self.tables:
            table = self.tables[-1]
            if not table.rows:
                table.rows.append([])
            table.cell = []
            if tag == "td":
                table.row_is_header = False
            return
        if tag == "br":
            if self.code is not None:
                self.code.append("\n")
            elif self.tables and self.tables[-1].cell is not None:
                self.tables[-1].cell.append(" ")
            else:
                self.flush()
            return
        if tag == "pre":
            self.blank()
            self.pre += 1
            self.code = []
            return
        if tag == "time":
            self.text(a.get("datetime", ""))
            return
        if tag in _BLOCKS:
            self.blank()

    def handle_endtag(self, tag: str) -> None:
        if tag == "ac:structured-macro":
            if self.macros:
                self.macros.pop()
            return
        if tag == "ac:parameter":
            self.skip = max(0, self.skip - 1)
            if self.macros:
                self.macros[-1].param = None
            return
        if tag == "ac:plain-text-body":
            if self.code is not None and self.macros:
                language = self.macros[-1].params.get("language", "")
                self._fence("".join(self.code), language)
                self.code = None
            else:
                self.skip = max(0, self.skip - 1)
            return
        if tag == "ac:rich-text-body":
            self.blank()
            return
        if tag == "ac:placeholder":
            self.skip = max(0, self.skip - 1)
            return
        if tag == "ac:task-status":
            self.in_task_status = False
            return
        if tag == "ac:link":
            body = _SPACES.sub(" ", "".join(self.link_body or [])).strip()
            target = self.link_target
            self.link_body = None
            self.link_target = None
            if target == "@":
                self.text("@" + (body or "user"))
            elif body:
                self.text(body)
            elif target:
                self.text(target)
            return
        if tag == "ac:task-body":
            prefix = "[x] " if self.task_done else "[ ] "
            self.inline.insert(0, prefix)
            self.flush()
            return
        if tag in ("ac:task-list", "ul", "ol"):
            self.flush()
            if self.lists:
                self.lists.pop()
            if not self.lists:
                self.blank()
            return
        if tag == "li":
            self.flush()
            return
        if tag in _HEADINGS:
            self.flush()
            self.heading = None
            self.blank()
            return
        if tag in ("td", "th") and self.tables:
            table = self.tables[-1]
            if table.cell is not None:
                table.rows[-1].append(_SPACES.sub(" ", "".join(table.cell)).strip())
                table.cell = None
            return
        if tag == "tr" and self.tables:
            table = self.tables[-1]
            if table.row_is_header and len(table.rows) == table.header_rows + 1:
                table.header_rows += 1
            return
        if tag == "table" and self.tables:
            self._table(self.tables.pop())
            return
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
            if self.code is not None:
                self._fence("".join(self.code), "")
                self.code = None
            return
        if tag in _BLOCKS:
            self.blank()

    def handle_data(self, data: str) -> None:
        if self.in_task_status:
            self.task_done = data.strip() == "complete"
            return
        if self.macros and self.macros[-1].param is not None and self.skip:
            macro = self.macros[-1]
            name = macro.param or ""
            macro.params[name] = macro.params.get(name, "") + data.strip()
            return
        self.text(data)

    def unknown_decl(self, data: str) -> None:
        if data.startswith("CDATA["):
            self.handle_data(data[len("CDATA[") :])

    # -- blocks ---------------------------------------------------------------------------

    def _fence(self, code: str, language: str) -> None:
        self.blank()
        self.lines.append(f"```{language}")
        self.lines.extend(code.strip("\n").splitlines())
        self.lines.append("```")
        self.lines.append("")

    def _table(self, table: _Table) -> None:
        self.blank()
        for n, row in enumerate(r for r in table.rows if r):
            self.lines.append("| " + " | ".join(row) + " |")
            if n == 0 and table.header_rows:
                self.lines.append("|" + "---|" * len(row))
        self.lines.append("")

    def result(self) -> str:
        self.blank()
        return "\n".join(self.lines).strip() + "\n" if any(self.lines) else ""


def storage_to_text(storage: str) -> str:
    """The structured text of a storage-format body ("" for a body with no text)."""
    renderer = _Renderer()
    renderer.feed(storage)
    renderer.close()
    return renderer.result()
