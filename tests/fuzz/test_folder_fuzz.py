"""Fuzzed folder trees: bad files, sidecars and groups files are failed documents, never a
crashed run, and never an ACL wider than what the files name."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from connectors.documents import Acl
from connectors.folder.directory_file import GROUPS_NAME, load_directory
from connectors.folder.parsing import CONTENT_TYPES, ParseError, parse
from connectors.folder.short_forms import expand_principal
from connectors.folder.sidecar import SIDECAR_NAME
from connectors.folder.yaml_files import FolderFileError
from connectors.principals import InvalidPrincipalError
from tests.connectors.folder_helpers import Replica, connector, minimal_pdf, write
from tests.fuzz.strategies import FUZZ, markup_text, mutated

SOURCE, TENANT = "docs", "acme"
PARENT: Acl = frozenset({"user:alice@acme.com", "user:bob@acme.com"})
PARENT_SIDECAR = "allow: [alice@acme.com, bob@acme.com]\ninherit: false\n"

_PRINCIPALS = st.sampled_from(
    [
        "alice@acme.com",
        "carol@acme.com",
        "CAROL@ACME.COM",
        "mallory@evil.test",
        "group:eng",
        "org",
        "everyone",
        "*",
        "",
        " ",
        "user:",
        "group:",
        "account:docs:u1",
        "\uff43arol@acme.com",  # fullwidth c: folds into carol,
    ]
)
_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=5), st.just([]), st.just({})
)
_ALLOW = st.one_of(st.lists(st.one_of(_PRINCIPALS, _VALUES), max_size=4), _VALUES)
_RULE = st.dictionaries(
    st.sampled_from(["allow", "inherit", "doc_type", "alow", "files"]),
    st.one_of(_ALLOW, st.sampled_from(["page", "Bad Type", ""])),
    max_size=3,
)
_SIDECAR = st.dictionaries(
    st.sampled_from(["allow", "inherit", "doc_type", "files", "alow", "Allow"]),
    st.one_of(
        _ALLOW,
        st.dictionaries(
            st.sampled_from(["note.md", "page.html", "../x", ".hidden", ""]), _RULE, max_size=2
        ),
    ),
    max_size=4,
)


def sidecar_text() -> st.SearchStrategy[str]:
    dumped = _SIDECAR.map(lambda d: yaml.safe_dump(d, allow_unicode=True))
    broken = dumped.flatmap(lambda t: mutated(t.encode("utf-8"))).map(
        lambda b: b.decode("utf-8", errors="replace")
    )
    return st.one_of(dumped, broken, markup_text())


def _expanded(raw: Any) -> Acl | None:
    """What an ``allow`` value could name at most; None when it cannot name anyone validly."""
    if raw is None:
        return frozenset()
    if not isinstance(raw, list):
        return None
    try:
        return frozenset(expand_principal(item, source=SOURCE, tenant=TENANT) for item in raw)
    except (InvalidPrincipalError, TypeError):
        return None


def oracle(text: str, name: str) -> Acl:
    """The widest ACL the folder's sidecar may give ``name``: the parent's, unless a rule with
    ``inherit: false`` replaces it with what that rule names (narrowing never widens)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return PARENT
    if not isinstance(data, dict):
        return PARENT
    widest = PARENT
    for rule in (
        data,
        (data.get("files") or {}).get(name) if isinstance(data.get("files"), dict) else None,
    ):
        if isinstance(rule, dict) and rule.get("inherit") is False:
            named = _expanded(rule.get("allow"))
            widest = named if named is not None else frozenset()
    return widest


@FUZZ
@given(
    sidecar=sidecar_text(),
    markdown=markup_text(),
    html=markup_text().map(lambda t: f"<html><title>{t}</title><body>{t}</body>"),
    pdf=mutated(minimal_pdf("quasar alarm")),
)
@example(
    sidecar="allow: [carol@acme.com]\n",
    markdown="---\ntitle: [\n---\n# x\n",
    html="<html",
    pdf=b"%PDF-1.4\n",
)
@example(sidecar="allow:\ninherit: false\n", markdown="", html="", pdf=b"")
def test_a_fuzzed_folder_fails_documents_never_the_run_nor_widens(
    sidecar: str, markdown: str, html: str, pdf: bytes
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(root, SIDECAR_NAME, PARENT_SIDECAR)
        write(root, f"team/{SIDECAR_NAME}", sidecar)
        write(root, "team/note.md", markdown)
        write(root, "team/page.html", html)
        write(root, "team/doc.pdf", pdf)
        replica = Replica()
        replica.sync(connector(root))  # raising here is the crashed run this test forbids

        for name in ("note.md", "page.html", "doc.pdf"):
            relpath = f"team/{name}"
            assert relpath in replica.docs or relpath in replica.failed, relpath
            if relpath in replica.docs:
                acl = replica.docs[relpath][2]
                assert acl <= oracle(sidecar, name), (relpath, acl)


@FUZZ
@given(
    suffix=st.sampled_from(sorted(CONTENT_TYPES)),
    data=st.one_of(st.binary(max_size=400), markup_text().map(str.encode)),
)
def test_a_file_parses_or_is_a_parse_error(suffix: str, data: bytes) -> None:
    try:
        parsed = parse(suffix, data)
    except ParseError:
        return
    assert isinstance(parsed.body, str)
    assert "\x00" not in parsed.body


_MEMBERS = st.lists(st.one_of(_PRINCIPALS, _VALUES), max_size=4)
_GROUPS = st.dictionaries(
    st.sampled_from(["eng", "hr", "group:docs:eng", "", "org"]),
    st.one_of(_MEMBERS, _VALUES),
    max_size=3,
)


@FUZZ
@given(
    groups=st.one_of(
        _GROUPS.map(lambda g: yaml.safe_dump({"groups": g}, allow_unicode=True)),
        st.dictionaries(
            st.sampled_from(["groups", "identities", "grups"]), _GROUPS, max_size=2
        ).map(lambda d: yaml.safe_dump(d, allow_unicode=True)),
        markup_text(),
    )
)
def test_a_fuzzed_groups_file_names_no_member_it_does_not_list(groups: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(root, GROUPS_NAME, groups)
        try:
            directory = load_directory(root, source=SOURCE, tenant=TENANT)
        except FolderFileError:
            return
        data = yaml.safe_load(groups)
        listed = data.get("groups") if isinstance(data, dict) else None
        named: set[str] = set()
        for members in (listed or {}).values():
            named |= _expanded(members) or set()
        for membership in directory.memberships():
            assert set(membership.members) <= named, membership
