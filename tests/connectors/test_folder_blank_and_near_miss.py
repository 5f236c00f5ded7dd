"""Sidecars that look harmless but used to widen access: blank ``allow``, near-miss names,
per-file rules that match no file, duplicate keys (issue 7, items 2 and 3)."""

import pytest

from connectors.errors import ConnectorError
from connectors.events import DocumentFailed
from connectors.folder.names import near_miss
from connectors.folder.yaml_files import FolderFileError, parse_yaml
from tests.connectors.folder_helpers import Replica, connector, upserted, write


def run(root):
    """(ACL of every upserted document, reason of every failed one) of a first run."""
    events = list(connector(root).changes(None))
    acls = {doc_id: event.document.acl for doc_id, event in upserted(events).items()}
    failed = {e.external_id: e.reason for e in events if isinstance(e, DocumentFailed)}
    return acls, failed


def org_root_with_hr(root, sidecar_name, sidecar):
    write(root, ".permindex-acl.yaml", "allow: [org]\n")
    write(root, ".permindex-groups.yaml", "groups:\n  hr: [dave@acme.com]\n")
    write(root, f"hr/{sidecar_name}", sidecar)
    write(root, "hr/pay.md", "# Pay")
    write(root, "hr/sub/deep.md", "# Deep")
    write(root, "hr/shared/.permindex-acl.yaml", "allow: [erin@acme.com]\ninherit: false\n")
    write(root, "hr/shared/ok.md", "# OK")
    write(root, "public/news.md", "# News")


# -- item 2: a present but blank allow means nobody ------------------------------------------


@pytest.mark.parametrize(
    "sidecar",
    [
        "allow:\n#  - group:hr\n",  # every entry commented out: YAML null
        "allow: ~\n",
        "allow: null\n",
        "allow: []\n",
        "allow:\n#  - group:hr\ndoc_type: page\n",
    ],
)
def test_blank_allow_hides_the_folder_instead_of_inheriting_the_parent(tmp_path, sidecar):
    org_root_with_hr(tmp_path, ".permindex-acl.yaml", sidecar)
    acls, failed = run(tmp_path)
    assert failed == {}
    assert acls["hr/pay.md"] == frozenset()
    assert acls["hr/sub/deep.md"] == frozenset()
    assert acls["hr/shared/ok.md"] == {"user:erin@acme.com"}
    assert acls["public/news.md"] == {"org:acme"}


@pytest.mark.parametrize("allow", ["allow:\n", "allow: ~\n", "allow: []\n"])
def test_blank_allow_with_inherit_false_replaces_the_parent_with_nobody(tmp_path, allow):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "vault/.permindex-acl.yaml", f"{allow}inherit: false\n")
    write(tmp_path, "vault/x.md", "# X")
    acls, failed = run(tmp_path)
    assert failed == {}
    assert acls["vault/x.md"] == frozenset()


def test_blank_per_file_allow_hides_that_file(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(
        tmp_path,
        "hr/.permindex-acl.yaml",
        """
files:
  salaries.md:
    allow:
    #  - group:hr
  bonus.md: {allow: ~, inherit: false}
  reviews.md: {allow: [], doc_type: file}
""",
    )
    for name in ("salaries.md", "bonus.md", "reviews.md", "normal.md"):
        write(tmp_path, f"hr/{name}", f"# {name}")
    acls, failed = run(tmp_path)
    assert failed == {}
    assert acls["hr/salaries.md"] == frozenset()
    assert acls["hr/bonus.md"] == frozenset()
    assert acls["hr/reviews.md"] == frozenset()
    assert acls["hr/normal.md"] == {"org:acme"}


@pytest.mark.parametrize(
    "sidecar",
    [
        "# allow: [group:hr]\n",  # the whole sidecar commented out
        "",
        "{}\n",
        "files:\n#  pay.md: {allow: [group:hr]}\n",  # files: null
        "files:\n  pay.md:\n#    allow: [group:hr]\n",  # a per-file rule that is null
    ],
)
def test_a_sidecar_that_says_nothing_fails_the_folder_closed(tmp_path, sidecar):
    org_root_with_hr(tmp_path, ".permindex-acl.yaml", sidecar)
    acls, failed = run(tmp_path)
    assert set(failed) == {"hr/pay.md", "hr/sub/deep.md"}
    assert "hr/.permindex-acl.yaml" in failed["hr/pay.md"]
    assert acls["hr/shared/ok.md"] == {"user:erin@acme.com"}
    assert acls["public/news.md"] == {"org:acme"}


# -- item 3: near-miss sidecar names ---------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        ".permindex-acl.yml",
        "permindex-acl.yaml",
        ".Permindex-acl.yaml",
        ".PERMINDEX-ACL.YAML",
        ".permindex_acl.yaml",
        ".permindex-acl.yaml.bak",
        ".permindex-acl.yaml~",
        ".permindex-acl.yaml.txt",
        ".permindex-acls.yaml",
        ".permindx-acl.yaml",
        ".permindex-alc.yaml",
        "permindex acl.yaml",
    ],
)
def test_a_misnamed_sidecar_fails_its_folder_closed_and_is_named(tmp_path, name):
    org_root_with_hr(tmp_path, name, "allow: [group:hr]\n")
    acls, failed = run(tmp_path)
    assert set(failed) == {"hr/pay.md", "hr/sub/deep.md"}
    assert f"hr/{name}" in failed["hr/pay.md"]
    assert ".permindex-acl.yaml" in failed["hr/pay.md"]
    assert "hr/pay.md" not in acls
    # a folder below that replaces the ACL outright does not depend on the misnamed file
    assert acls["hr/shared/ok.md"] == {"user:erin@acme.com"}
    assert acls["public/news.md"] == {"org:acme"}


def test_a_misnamed_sidecar_next_to_a_valid_one_still_fails_closed(tmp_path):
    org_root_with_hr(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "hr/.permindex-acl.yml", "allow: [group:hr]\n")  # meant as the narrowing
    _, failed = run(tmp_path)
    assert set(failed) == {"hr/pay.md", "hr/sub/deep.md"}
    assert "hr/.permindex-acl.yml" in failed["hr/pay.md"]


def test_a_misnamed_sidecar_at_the_root_fails_the_whole_tree(tmp_path):
    write(tmp_path, ".permindex-acl.yml", "allow: [org]\n")
    write(tmp_path, "a.md", "# A")
    write(tmp_path, "sub/b.md", "# B")
    acls, failed = run(tmp_path)
    assert acls == {}
    assert set(failed) == {"a.md", "sub/b.md"}
    assert ".permindex-acl.yml" in failed["a.md"]


def test_a_misnamed_sidecar_hides_documents_indexed_before_until_renamed(tmp_path):
    org_root_with_hr(tmp_path, "notes.txt", "nothing to see\n")
    replica = Replica()
    replica.sync(connector(tmp_path))
    assert replica.docs["hr/pay.md"][2] == {"org:acme"}
    write(tmp_path, "hr/.Permindex-acl.yaml", "allow: [dave@acme.com]\n")
    replica.sync(connector(tmp_path))
    assert replica.docs["hr/pay.md"][2] == frozenset()
    assert replica.docs["hr/sub/deep.md"][2] == frozenset()
    assert {"hr/pay.md", "hr/sub/deep.md"} <= replica.failed
    (tmp_path / "hr/.Permindex-acl.yaml").rename(tmp_path / "hr/.permindex-acl.yaml")
    replica.sync(connector(tmp_path))
    assert replica.docs["hr/pay.md"][2] == {"user:dave@acme.com"}
    assert "hr/pay.md" not in replica.failed


def test_folders_with_sidecar_like_names_are_not_near_misses(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "permindex-acl/howto.md", "# How to write sidecars")
    acls, failed = run(tmp_path)
    assert failed == {}
    assert acls["permindex-acl/howto.md"] == {"org:acme"}


@pytest.mark.parametrize(
    ("name", "canonical", "expected"),
    [
        (".permindex-acl.yaml", ".permindex-acl.yaml", False),
        (".permindex-acl.yml", ".permindex-acl.yaml", True),
        ("PERMINDEX_ACL.YAML", ".permindex-acl.yaml", True),
        (".permindex-acl.yaml.orig", ".permindex-acl.yaml", True),
        (".permindex-ac1.yaml", ".permindex-acl.yaml", True),
        (".permindex-acl.yaml", ".permindex-groups.yaml", False),
        (".permindex-groups.yaml", ".permindex-acl.yaml", False),
        (".permindex-group.yaml", ".permindex-groups.yaml", True),
        (".Permindex-Groups.yml", ".permindex-groups.yaml", True),
        ("permindex-identities.yaml", ".permindex-identities.yaml", True),
        ("\uff0epermindex\u2010acl.yaml", ".permindex-acl.yaml", True),  # full stop, hyphen
        (".permin\u200bdex-acl.yaml", ".permindex-acl.yaml", True),  # zero-width space
        ("permindex.yaml", ".permindex-acl.yaml", False),
        ("permissions.md", ".permindex-acl.yaml", False),
        ("readme.md", ".permindex-acl.yaml", False),
        ("permindex-architecture.md", ".permindex-acl.yaml", False),
    ],
)
def test_near_miss_rule(name, canonical, expected):
    assert near_miss(name, canonical) is expected


# -- item 3: per-file rules that match no file -----------------------------------------------


def test_a_per_file_rule_matching_no_file_fails_the_folder_closed(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(
        tmp_path,
        "hr/.permindex-acl.yaml",
        "files:\n  Salaries.md: {allow: [dave@acme.com], inherit: false}\n",
    )
    write(tmp_path, "hr/salaries.md", "# Salaries")
    write(tmp_path, "hr/other.md", "# Other")
    write(tmp_path, "hr/sub/deep.md", "# Deep")
    write(tmp_path, "hr/own/.permindex-acl.yaml", "allow: [erin@acme.com]\ninherit: false\n")
    write(tmp_path, "hr/own/ok.md", "# OK")
    acls, failed = run(tmp_path)
    assert set(failed) == {"hr/salaries.md", "hr/other.md", "hr/sub/deep.md"}
    reason = failed["hr/salaries.md"]
    assert "hr/.permindex-acl.yaml" in reason and "'Salaries.md'" in reason
    assert "'salaries.md'" in reason  # the likely intended file is suggested
    assert acls["hr/own/ok.md"] == {"user:erin@acme.com"}


@pytest.mark.parametrize(
    ("setup", "rule"),
    [
        ("subfolder", "secret"),  # a folder: per-file rules do not reach inside it
        ("link", "link.md"),  # a symbolic link is never a document
        ("none", "gone.md"),  # the file was deleted or renamed
    ],
)
def test_a_per_file_rule_must_name_a_regular_file_in_the_folder(tmp_path, setup, rule):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "hr/.permindex-acl.yaml", f"files:\n  {rule}: {{allow: [dave@acme.com]}}\n")
    write(tmp_path, "hr/pay.md", "# Pay")
    if setup == "subfolder":
        write(tmp_path, "hr/secret/plan.md", "# Plan")
    elif setup == "link":
        (tmp_path / "hr/link.md").symlink_to(tmp_path / "hr/pay.md")
    acls, failed = run(tmp_path)
    assert "hr/pay.md" in failed and f"'{rule}'" in failed["hr/pay.md"]
    assert not any(doc_id.startswith("hr/") for doc_id in acls)


# -- item 3: duplicate keys ------------------------------------------------------------------


@pytest.mark.parametrize(
    "sidecar",
    [
        "allow: [group:hr]\nallow: [org]\n",
        "allow: [group:hr]\nfiles:\n  pay.md: {allow: [dave@acme.com]}\n  pay.md: {allow: [org]}\n",
        "files:\n  pay.md:\n    allow: [dave@acme.com]\n    inherit: false\n    inherit: true\n",
        "allow: [group:hr]\nfiles: {}\nfiles:\n  pay.md: {allow: [org], inherit: false}\n",
    ],
)
def test_duplicate_keys_in_a_sidecar_fail_closed(tmp_path, sidecar):
    org_root_with_hr(tmp_path, ".permindex-acl.yaml", sidecar)
    acls, failed = run(tmp_path)
    assert set(failed) == {"hr/pay.md", "hr/sub/deep.md"}
    assert "hr/.permindex-acl.yaml" in failed["hr/pay.md"]
    assert "duplicate key" in failed["hr/pay.md"]
    assert acls["hr/shared/ok.md"] == {"user:erin@acme.com"}


def test_duplicate_group_in_the_groups_file_is_a_config_error(tmp_path):
    write(
        tmp_path,
        ".permindex-groups.yaml",
        "groups:\n  hr: [dave@acme.com]\n  eng: [bob@acme.com]\n  hr: [bob@acme.com]\n",
    )
    # hr's second definition must not silently replace the first: the groups file is unreadable
    with pytest.raises(ConnectorError, match=r"(?s)\.permindex-groups\.yaml.*duplicate key 'hr'"):
        list(connector(tmp_path).groups())


def test_yaml_merge_keys_may_still_be_overridden():
    data = parse_yaml("base: &b {allow: [org], doc_type: page}\nother: {<<: *b, allow: []}\n", "x")
    assert data["other"] == {"allow": [], "doc_type": "page"}
    with pytest.raises(FolderFileError, match=r"(?s)x: invalid YAML: .*duplicate key 'a'"):
        parse_yaml("m:\n  a: 1\n  b: 2\n  a: 3\n", "x")
