"""Who may see which document of a folder source, computed from the files on disk alone.

The reference the stateful property test (``test_folder_stateful``) compares search with. It is
written from the semantics stated in issue 7 and docs/permissions.md, deliberately without
importing the connector's rule code (``connectors.folder``, ``connectors.acl_layers``): a bug
shared by the production code and its oracle would otherwise pass unnoticed. It understands the
vocabulary the test generates (``.md``/``.txt`` documents, the principals and YAML shapes of the
machine's strategies) and refuses, loudly, anything else it meets on disk.

The model, for tenant ``acme`` with the verified domain ``acme.com`` and source ``docs``:

- a document is a regular file (never a link) named ``*.md`` or ``*.txt``, not hidden, in a
  folder that is not hidden and is reached through real folders only;
- every ``.permindex-acl.yaml`` on the way down adds its ``allow`` as one more *layer*
  (``inherit: false`` replaces the inherited layers by this one); a present but blank ``allow``
  is an empty layer; per-file rules under ``files:`` apply the same way after the folder's own;
- a user sees a document iff it has at least one layer and the user passes every layer;
- a folder with a broken sidecar, a misnamed sidecar, or a per-file rule that names no file of
  the folder is an *error*: every document in it and below is visible to nobody, except below a
  later ``inherit: false`` (folder or file rule) with a valid ``allow``;
- a broken groups file (invalid, a link, or a misnamed one beside it) means no groups.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TENANT = "acme"
SOURCE = "docs"
ORG_DOMAINS = frozenset({"acme.com"})
ORG = f"org:{TENANT}"

SIDECAR = ".permindex-acl.yaml"
GROUPS_FILE = ".permindex-groups.yaml"
IDENTITIES_FILE = ".permindex-identities.yaml"
DOC_EXTENSIONS = frozenset({".md", ".txt"})
# Extensions the connector also indexes; the oracle does not model their parsing, so meeting one
# means the test generated something it cannot judge.
UNMODELLED_DOC_EXTENSIONS = frozenset({".markdown", ".html", ".htm", ".pdf"})

_DOC_TYPE = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
_RULE_KEYS = frozenset({"allow", "inherit", "doc_type"})
_SIDECAR_KEYS = _RULE_KEYS | {"files"}
_GROUPS_KEYS = frozenset({"groups", "identities"})

Layer = frozenset[str]


class Invalid(Exception):
    """A control file (sidecar, groups file) the connector must reject; the message says why."""


class Unmodelled(Exception):
    """Something on disk this oracle does not model: a bug of the test, not of the product."""


# -- YAML --------------------------------------------------------------------------------------


def load_yaml(text: str) -> Any:
    """Parse one YAML document, rejecting a mapping that gives a key twice.

    PyYAML keeps the last of two equal keys; the connector must refuse such a file instead, so
    the oracle checks the composed node tree before constructing anything.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise Invalid(f"invalid YAML: {exc}") from exc
    if node is not None:
        _check_unique_keys(node)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Invalid(f"invalid YAML: {exc}") from exc


def _check_unique_keys(node: yaml.Node) -> None:
    if isinstance(node, yaml.MappingNode):
        keys: set[tuple[str, str]] = set()
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                raise Unmodelled(f"YAML key {key!r} is not a plain scalar")
            identity = (key.tag, key.value)
            if identity in keys:
                raise Invalid(f"duplicate key {key.value!r}")
            keys.add(identity)
            _check_unique_keys(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_unique_keys(item)


# -- principals --------------------------------------------------------------------------------


def email(raw: str) -> str:
    value = raw.strip()
    if (
        value.count("@") != 1
        or value.startswith("@")
        or value.endswith("@")
        or ":" in value
        or any(ch.isspace() for ch in value)
        or not value.isascii()
    ):
        raise Invalid(f"not an email address: {raw!r}")
    return value.lower()


def principal(raw: object) -> str:
    """A short or typed principal as a sidecar or the groups file may write it, fully typed."""
    if not isinstance(raw, str):
        raise Invalid(f"principal must be a string: {raw!r}")
    value = raw.strip()
    if value == "org":
        return ORG
    kind, sep, rest = value.partition(":")
    if not sep:
        return f"user:{email(value)}"
    if kind == "user":
        return f"user:{email(rest)}"
    if kind == "group":
        if rest and ":" not in rest:
            return f"group:{SOURCE}:{rest}"
        source, _, group_id = rest.partition(":")
        if re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", source) and group_id.strip() == group_id != "":
            return value
        raise Invalid(f"invalid group principal {raw!r}")
    if kind == "org" and rest and not any(ch.isspace() for ch in rest):
        return value
    raise Invalid(f"invalid principal {raw!r}")


def is_org_member(address: str) -> bool:
    return address.rsplit("@", 1)[1] in ORG_DOMAINS


# -- the groups file ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Groups:
    """A parsed groups file: ``group principal -> direct members``, or broken.

    Two broken files are equal (both clear the synced memberships and hide layered documents),
    whatever their reasons.
    """

    members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    broken: bool = False
    reason: str = field(default="", compare=False)


NO_GROUPS = Groups()


def read_groups(root: Path) -> Groups:
    """The groups file at the root. Broken too when it is not a regular file (a link is never
    followed) or when a misnamed groups or identities file sits beside it: the groups such a
    file was meant to hold (or take away) would silently not count."""
    with os.scandir(root) as scan:
        entries = {entry.name: entry for entry in scan}
    misnamed = sorted(
        name
        for name in entries
        if looks_like(name, GROUPS_FILE) or looks_like(name, IDENTITIES_FILE)
    )
    if misnamed:
        return Groups(broken=True, reason=f"misnamed groups or identities file {misnamed}")
    if IDENTITIES_FILE in entries:
        raise Unmodelled(IDENTITIES_FILE)
    entry = entries.get(GROUPS_FILE)
    if entry is None:
        return NO_GROUPS
    if not entry.is_file(follow_symlinks=False):
        return Groups(broken=True, reason=f"{GROUPS_FILE} is not a regular file")
    try:
        return Groups(members=parse_groups((root / GROUPS_FILE).read_bytes()))
    except Invalid as exc:
        return Groups(broken=True, reason=str(exc))


def parse_groups(data: bytes) -> dict[str, frozenset[str]]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"not UTF-8: {exc}") from exc
    loaded = load_yaml(text)
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise Invalid("the groups file must be a mapping")
    unknown = set(loaded) - _GROUPS_KEYS
    if unknown:
        raise Invalid(f"unknown keys {sorted(map(str, unknown))}")
    if "identities" in loaded:
        raise Unmodelled("identities in the groups file")
    raw_groups = loaded.get("groups", {})
    if not isinstance(raw_groups, dict):
        raise Invalid("groups must be a mapping")
    groups: dict[str, frozenset[str]] = {}
    for raw_name, raw_members in raw_groups.items():
        name = str(raw_name).strip().removeprefix("group:")
        if not name or ":" in name:
            raise Invalid(f"invalid group name {raw_name!r}")
        key = f"group:{SOURCE}:{name}"
        if key in groups:
            raise Invalid(f"group {raw_name!r} is defined twice")
        if raw_members is None:
            raw_members = []
        if not isinstance(raw_members, list):
            raise Invalid(f"members of {raw_name!r} must be a list")
        groups[key] = frozenset(principal(member) for member in raw_members)
    return groups


class Membership:
    """Who is in which group, over the union of one or more membership maps.

    The union is what the safety bound needs while the synced memberships (query time) and the
    groups file (frozen into layered ACLs at index time) disagree: a user may legitimately gain
    access through either, never through neither.
    """

    def __init__(self, sources: Iterable[Groups]) -> None:
        self._edges: dict[str, set[str]] = {}
        for groups in sources:
            for group, members in groups.members.items():
                self._edges.setdefault(group, set()).update(members)

    def contains(self, group: str, address: str) -> bool:
        seen: set[str] = set()
        pending = [group]
        while pending:
            current = pending.pop()
            if current in seen:
                continue  # cycles between groups are allowed and harmless
            seen.add(current)
            for member in self._edges.get(current, ()):
                if member == f"user:{address}" or (member == ORG and is_org_member(address)):
                    return True
                if member.startswith("group:"):
                    pending.append(member)
        return False


# -- sidecars ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """``allow`` (None when the key is absent) and ``inherit`` of a folder or a file."""

    allow: Layer | None
    inherit: bool


@dataclass(frozen=True)
class Sidecar:
    rule: Rule
    files: Mapping[str, Rule]


def parse_sidecar(data: bytes) -> Sidecar:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid(f"not UTF-8: {exc}") from exc
    loaded = load_yaml(text)
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise Invalid("a sidecar must be a mapping")
    rule = _rule(loaded, _SIDECAR_KEYS, "sidecar")
    files: dict[str, Rule] = {}
    if "files" in loaded:
        raw_files = loaded["files"]
        if not isinstance(raw_files, dict):
            raise Invalid("files must map file names to rules")
        for name, raw_rule in raw_files.items():
            if (
                not isinstance(name, str)
                or not name
                or "/" in name
                or "\\" in name
                or name.startswith(".")
            ):
                raise Invalid(f"files: {name!r} is not the plain name of a visible file")
            if not isinstance(raw_rule, dict):
                raise Invalid(f"files: {name!r} must be a mapping")
            files[name] = _rule(raw_rule, _RULE_KEYS, f"files: {name!r}")
    return Sidecar(rule=rule, files=files)


def _rule(raw: dict[Any, Any], keys: frozenset[str], label: str) -> Rule:
    if not raw:
        raise Invalid(f"{label} says nothing")
    unknown = set(raw) - keys
    if unknown:
        raise Invalid(f"{label}: unknown keys {sorted(map(str, unknown))}")
    allow: Layer | None = None
    if "allow" in raw:
        value = raw["allow"]
        if value is None:
            allow = frozenset()  # present but blank (every entry commented out, `~`): nobody
        elif isinstance(value, list):
            allow = frozenset(principal(item) for item in value)
        else:
            raise Invalid(f"{label}: allow must be a list")
    inherit = raw.get("inherit", True)
    if not isinstance(inherit, bool):
        raise Unmodelled(f"{label}: inherit {inherit!r} is not a YAML boolean")
    doc_type = raw.get("doc_type")
    if doc_type is not None and not (isinstance(doc_type, str) and _DOC_TYPE.match(doc_type)):
        raise Invalid(f"{label}: invalid doc_type {doc_type!r}")
    if not inherit and allow is None:
        raise Invalid(f"{label}: inherit: false without allow")
    return Rule(allow=allow, inherit=inherit)


# -- misnamed sidecars -------------------------------------------------------------------------


def _key(name: str) -> str:
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(ch for ch in folded if ch.isalnum())


def _levenshtein(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, start=1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


def looks_like(name: str, control_file: str) -> bool:
    """A name someone may have meant as ``control_file`` (``.permindex-acl.yaml``...): another
    case, extension or punctuation, a backup suffix, or a typo of at most two edits."""
    if name == control_file:
        return False
    key = _key(name)
    stem = _key(control_file.lstrip(".").rsplit(".", 1)[0])  # "permindexacl"
    return stem in key or _levenshtein(key, _key(control_file)) <= 2


# -- the tree ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """What the files say about one document: its layers, or why nobody may see it."""

    layers: tuple[Layer, ...] = ()
    error: str | None = None

    def apply(self, rule: Rule) -> Access:
        if rule.allow is None:
            return self
        if rule.inherit:
            return Access((*self.layers, rule.allow), self.error)
        # Replacing every inherited layer also drops the dependency on a broken ancestor.
        return Access((rule.allow,), None)

    def describe(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        return " AND ".join("{" + ", ".join(sorted(layer)) + "}" for layer in self.layers) or (
            "no layers"
        )


def read_tree(root: Path) -> dict[str, Access]:
    """Every document now on disk (relative POSIX path) and what its ACL files say."""
    documents: dict[str, Access] = {}
    _visit(root, (), Access(), documents)
    return documents


def _visit(root: Path, parts: tuple[str, ...], inherited: Access, out: dict[str, Access]) -> None:
    folder = root.joinpath(*parts)
    label = "/".join(parts) or "."
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    regular = {e.name for e in entries if e.is_file(follow_symlinks=False)}
    subfolders = [e.name for e in entries if e.is_dir(follow_symlinks=False)]
    problems = [
        f"{label}/{e.name} looks like a misnamed sidecar"
        for e in entries
        if not e.is_dir(follow_symlinks=False) and looks_like(e.name, SIDECAR)
    ]
    sidecar: Sidecar | None = None
    if any(e.name == SIDECAR for e in entries):
        if SIDECAR not in regular:
            problems.append(f"{label}/{SIDECAR} is not a regular file")
        else:
            try:
                sidecar = parse_sidecar((folder / SIDECAR).read_bytes())
            except Invalid as exc:
                problems.append(f"{label}/{SIDECAR}: {exc}")
            else:
                problems.extend(
                    f"{label}/{SIDECAR}: rule {name!r} matches no file"
                    for name in sidecar.files
                    if name not in regular
                )
    files: Mapping[str, Rule] = {}
    if problems:
        here = Access(error="; ".join(problems))
    elif sidecar is None:
        here = inherited
    else:
        here = inherited.apply(sidecar.rule)
        files = sidecar.files
    for name in sorted(regular):
        extension = os.path.splitext(name)[1].lower()
        if name.startswith("."):
            continue
        if extension in UNMODELLED_DOC_EXTENSIONS:
            raise Unmodelled(f"{label}/{name}: the oracle does not model {extension} files")
        if extension not in DOC_EXTENSIONS:
            continue
        rule = files.get(name)
        out["/".join((*parts, name))] = here if rule is None else here.apply(rule)
    for name in subfolders:
        if not name.startswith("."):
            _visit(root, (*parts, name), here, out)


# -- visibility --------------------------------------------------------------------------------


def admits(layer: Layer, address: str, membership: Membership) -> bool:
    if f"user:{address}" in layer:
        return True
    if ORG in layer and is_org_member(address):
        return True
    return any(p.startswith("group:") and membership.contains(p, address) for p in layer)


def visible(
    documents: Mapping[str, Access],
    address: str,
    membership: Membership,
    *,
    hide_layered: bool = False,
) -> set[str]:
    """The documents ``address`` may see. ``hide_layered``: the groups file is broken, so a
    document with more than one layer (whose intersection needs group members) is hidden."""
    seen = set()
    for doc, access in documents.items():
        if access.error is not None or not access.layers:
            continue
        if hide_layered and len(access.layers) > 1:
            continue
        if all(admits(layer, address, membership) for layer in access.layers):
            seen.add(doc)
    return seen
