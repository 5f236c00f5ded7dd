"""Explanations of folder ACLs: nested sidecars with file and line, nested groups, an org-only
layer with a guest, and a document without recorded layers."""

from __future__ import annotations

from pathlib import Path

from indexer.backends import Stores
from indexer.backends.embedded import open_embedded
from indexer.settings import EmbeddedSettings
from retrieval.access.explain import explain_access
from tests.access.helpers import DIMENSION, folder, resolver, sync, write


def _stores(tmp_path: Path) -> Stores:
    stores = open_embedded(EmbeddedSettings(path=tmp_path / "index.sqlite"), DIMENSION)
    stores.index.ensure_schema()
    return stores


def _tree(root: Path) -> None:
    write(root, ".permindex-acl.yaml", "# everyone at acme\nallow: [org]\n")
    write(
        root,
        ".permindex-groups.yaml",
        "groups:\n  hr: [group:people-ops, dana@acme.com]\n  people-ops: [erin@acme.com]\n",
    )
    write(
        root,
        "hr/.permindex-acl.yaml",
        "doc_type: page\n"
        "allow: [group:hr, visitor@acme.com, frank@gmail.com]\n"
        "files:\n"
        "  salaries.md:\n"
        "    allow: [erin@acme.com]\n",
    )
    write(root, "hr/salaries.md", "# Salaries\nthe salary sheet\n")
    write(root, "hr/handbook.md", "# Handbook\nhow we work\n")
    write(root, "public/runbook.md", "# Runbook\nrestart the service\n")


def test_nested_sidecars_name_the_file_and_line_of_each_layer(tmp_path: Path) -> None:
    root = tmp_path / "src"
    _tree(root)
    stores = _stores(tmp_path)
    sync(stores, folder(root), "groups", "incremental")
    r = resolver(stores)

    erin = explain_access(stores, r, "Erin@acme.com", "docs:hr/salaries.md")
    assert erin.visible and erin.verdict == "visible"
    assert erin.layers_status == "recorded"
    assert [(layer.origin, layer.line) for layer in erin.layers] == [
        (".permindex-acl.yaml", 2),
        ("hr/.permindex-acl.yaml", 2),
        ("hr/.permindex-acl.yaml", 5),
    ]
    assert [layer.matched for layer in erin.layers] == [
        ["org:acme"],
        ["group:docs:hr"],
        ["user:erin@acme.com"],
    ]
    # The nested group path: erin -> people-ops -> hr, each step with the run that synced it.
    hr = next(h for h in erin.principals if h.principal == "group:docs:hr")
    assert [(s.member, s.group) for s in hr.path] == [
        ("user:erin@acme.com", "group:docs:people-ops"),
        ("group:docs:people-ops", "group:docs:hr"),
    ]
    assert all(s.synced_by is not None and s.synced_by.run_type == "groups" for s in hr.path)
    assert erin.org is not None and erin.org.member
    assert "verified domain acme.com" in erin.org.reason
    assert erin.acl_checked_by is not None and erin.acl_written_at is not None

    dana = explain_access(stores, r, "dana@acme.com", "docs:hr/salaries.md")
    assert not dana.visible and dana.verdict == "not_visible"
    assert [layer.admits for layer in dana.layers] == [True, True, False]
    assert dana.layers[2].matched == []
    assert "layer 3 (hr/.permindex-acl.yaml: files: salaries.md: allow line 5)" in dana.summary
    assert "admitted nobody of theirs" in dana.summary


def test_guest_named_below_an_org_only_layer_does_not_pass_it(tmp_path: Path) -> None:
    root = tmp_path / "src"
    _tree(root)
    stores = _stores(tmp_path)
    sync(stores, folder(root), "groups", "incremental")
    r = resolver(stores)

    for guest in ("visitor@acme.com", "frank@gmail.com"):
        answer = explain_access(stores, r, guest, "docs:hr/handbook.md")
        assert not answer.visible
        assert answer.org is not None and not answer.org.member
        assert [layer.admits for layer in answer.layers] == [False, True]
        assert "layer 1 (.permindex-acl.yaml: allow line 2)" in answer.summary
    visitor = explain_access(stores, r, "visitor@acme.com", "docs:hr/handbook.md")
    assert visitor.org is not None and "guest" in visitor.org.reason
    frank = explain_access(stores, r, "frank@gmail.com", "docs:hr/handbook.md")
    assert frank.org is not None and "gmail.com is not a verified domain" in frank.org.reason

    dana = explain_access(stores, r, "dana@acme.com", "docs:hr/handbook.md")
    assert dana.visible and dana.matched_acl == ["user:dana@acme.com"]


def test_unknown_document_and_missing_layers(tmp_path: Path) -> None:
    root = tmp_path / "src"
    _tree(root)
    stores = _stores(tmp_path)
    sync(stores, folder(root), "groups", "incremental")
    r = resolver(stores)
    absent = explain_access(stores, r, "erin@acme.com", "docs:nope.md")
    assert absent.verdict == "not_indexed" and not absent.visible
    # Layers recorded by an older writer (none here): the effective ACL still explains it.
    from indexer.provenance import provenance_store_for

    store = provenance_store_for(stores.index)
    assert store is not None
    store.delete(["docs:public/runbook.md"])
    runbook = explain_access(stores, r, "erin@acme.com", "docs:public/runbook.md")
    assert runbook.visible and runbook.layers_status == "not_recorded"
    assert runbook.effective_acl == ["org:acme"]
    assert any("explained from its effective ACL" in note for note in runbook.notes)
