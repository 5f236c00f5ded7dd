"""Sidecar ACLs: inheritance, narrowing, replacement, per-file overrides, and failing closed."""

import pytest
from pydantic import ValidationError

from connectors.errors import ConnectorConfigError
from connectors.events import DocumentFailed, PermissionsChanged
from connectors.folder import FolderConnector
from connectors.org import OrgPolicy
from tests.connectors.folder_helpers import FIXED_NOW, ORG, Replica, connector, upserted, write

GROUPS = """
groups:
  eng: [alice@acme.com, bob@acme.com, group:platform]
  platform: [carol@acme.com]
  hr: [dave@acme.com]
"""


def acls(root):
    return {
        doc_id: event.document.acl
        for doc_id, event in upserted(connector(root).changes(None)).items()
    }


def test_no_sidecar_on_the_path_means_nobody(tmp_path):
    write(tmp_path, "wiki/page.md", "# Page")
    write(tmp_path, "other/.permindex-acl.yaml", "allow: [org]\n")
    assert acls(tmp_path)["wiki/page.md"] == frozenset()


def test_subfolders_inherit_and_short_forms_expand(tmp_path):
    write(tmp_path, ".permindex-groups.yaml", GROUPS)
    write(tmp_path, ".permindex-acl.yaml", "allow: [org, Boss@Acme.com]\n")
    write(tmp_path, "a/b/deep.md", "# Deep")
    write(tmp_path, "eng/.permindex-acl.yaml", "allow: [group:eng]\n")
    write(tmp_path, "eng/design.md", "# Design")
    result = acls(tmp_path)
    assert result["a/b/deep.md"] == {"org:acme", "user:boss@acme.com"}
    # under the org-wide parent, eng's members who are inside the organisation pass both
    assert result["eng/design.md"] == {
        "user:alice@acme.com",
        "user:bob@acme.com",
        "user:carol@acme.com",
    }


def test_inheriting_subfolder_narrows_to_principals_allowed_by_both(tmp_path):
    write(tmp_path, ".permindex-groups.yaml", GROUPS)
    write(tmp_path, "eng/.permindex-acl.yaml", "allow: [group:eng]\n")
    # dave is not in eng: the parent layer shuts him out even though the subfolder names him
    write(tmp_path, "eng/secret/.permindex-acl.yaml", "allow: [alice@acme.com, dave@acme.com]\n")
    write(tmp_path, "eng/secret/plan.md", "# Plan")
    write(tmp_path, "eng/platform/.permindex-acl.yaml", "allow: [group:platform, group:hr]\n")
    write(tmp_path, "eng/platform/infra.md", "# Infra")
    result = acls(tmp_path)
    assert result["eng/secret/plan.md"] == {"user:alice@acme.com"}
    assert result["eng/platform/infra.md"] == {"group:docs:platform", "user:carol@acme.com"}


def test_inherit_false_replaces_the_parent_acl(tmp_path):
    write(tmp_path, ".permindex-groups.yaml", GROUPS)
    write(tmp_path, "eng/.permindex-acl.yaml", "allow: [group:eng]\n")
    write(tmp_path, "eng/hr-shared/.permindex-acl.yaml", "allow: [group:hr]\ninherit: false\n")
    write(tmp_path, "eng/hr-shared/review.md", "# Review")
    assert acls(tmp_path)["eng/hr-shared/review.md"] == {"group:docs:hr"}


def test_per_file_rules_override_narrow_and_set_doc_type(tmp_path):
    write(tmp_path, ".permindex-groups.yaml", GROUPS)
    write(
        tmp_path,
        "eng/.permindex-acl.yaml",
        """
allow: [group:eng]
doc_type: page
files:
  salaries.md: {allow: [group:hr], inherit: false, doc_type: file}
  alice-only.md: {allow: [alice@acme.com, dave@acme.com]}
""",
    )
    for name in ("salaries.md", "alice-only.md", "normal.md"):
        write(tmp_path, f"eng/{name}", f"# {name}")
    docs = {k: v.document for k, v in upserted(connector(tmp_path).changes(None)).items()}
    assert docs["eng/salaries.md"].acl == {"group:docs:hr"}
    assert docs["eng/salaries.md"].doc_type == "file"
    assert docs["eng/alice-only.md"].acl == {"user:alice@acme.com"}
    assert docs["eng/normal.md"].acl == {"group:docs:eng"}
    assert docs["eng/normal.md"].doc_type == "page"


def test_explicit_empty_allow_hides_everything_below(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "vault/.permindex-acl.yaml", "allow: []\n")
    write(tmp_path, "vault/x.md", "# X")
    assert acls(tmp_path)["vault/x.md"] == frozenset()


def test_bad_sidecar_fails_the_documents_under_it_naming_the_file(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "hr/.permindex-acl.yaml", "alow: [group:hr]\n")  # typo: unknown key
    write(tmp_path, "hr/pay.md", "# Pay")
    write(tmp_path, "hr/sub/deeper.md", "# Deeper")
    write(tmp_path, "hr/fixed/.permindex-acl.yaml", "allow: [dave@acme.com]\ninherit: false\n")
    write(tmp_path, "hr/fixed/ok.md", "# OK")
    write(tmp_path, "bad-principal/.permindex-acl.yaml", "allow: [everyone]\n")
    write(tmp_path, "bad-principal/x.md", "# X")
    write(tmp_path, "bad-yaml/.permindex-acl.yaml", "allow: [org\n")
    write(tmp_path, "bad-yaml/y.md", "# Y")
    events = list(connector(tmp_path).changes(None))
    failed = {e.external_id: e.reason for e in events if isinstance(e, DocumentFailed)}
    assert set(failed) == {"hr/pay.md", "hr/sub/deeper.md", "bad-principal/x.md", "bad-yaml/y.md"}
    assert "hr/.permindex-acl.yaml" in failed["hr/pay.md"] and "alow" in failed["hr/pay.md"]
    assert "everyone" in failed["bad-principal/x.md"]
    assert "bad-yaml/.permindex-acl.yaml" in failed["bad-yaml/y.md"]
    # a folder that replaces the broken ACL outright does not depend on it
    assert upserted(events)["hr/fixed/ok.md"].document.acl == {"user:dave@acme.com"}


def test_breaking_a_sidecar_hides_documents_indexed_before(tmp_path):
    write(tmp_path, ".permindex-groups.yaml", GROUPS)
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "hr/pay.md", "# Pay")
    replica = Replica()
    replica.sync(connector(tmp_path))
    assert replica.docs["hr/pay.md"][2] == {"org:acme"}
    write(tmp_path, "hr/.permindex-acl.yaml", "allow: [group:hr\n")  # meant to narrow, broken
    events = replica.sync(connector(tmp_path))
    assert isinstance(events[0], PermissionsChanged)
    assert isinstance(events[1], DocumentFailed)
    assert replica.docs["hr/pay.md"][2] == frozenset()
    # fixed: the file is retried and comes back with the real ACL
    write(tmp_path, "hr/.permindex-acl.yaml", "allow: [group:hr]\n")
    events = replica.sync(connector(tmp_path))
    assert replica.docs["hr/pay.md"][2] == {"user:dave@acme.com"}
    assert "hr/pay.md" not in replica.failed


def test_bad_source_id_tenant_or_root_is_a_config_error(tmp_path):
    with pytest.raises(ConnectorConfigError):
        FolderConnector(source_id="Bad Id", root=tmp_path, org=ORG, clock=lambda: FIXED_NOW)
    with pytest.raises(ValidationError):
        OrgPolicy(tenant="a b")
    with pytest.raises(ConnectorConfigError):
        connector(tmp_path / "missing").validate()


def test_full_run_without_checkpoint_also_hides_documents_under_a_broken_sidecar(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "hr/pay.md", "# Pay")
    replica = Replica()
    replica.sync(connector(tmp_path))
    write(tmp_path, "hr/.permindex-acl.yaml", "allow: [group:hr\n")
    replica.apply(connector(tmp_path).changes(None))  # a full run starts from no checkpoint
    assert replica.docs["hr/pay.md"][2] == frozenset()
    assert "hr/pay.md" in replica.failed


def test_a_foreign_org_layer_is_not_the_tenant_and_admits_no_one(tmp_path):
    # Issue 7 item 7: `org:partnerco` was taken for the tenant's org-wide layer and skipped,
    # so a narrower child granted bob access under a parent that admits only partnerco.
    write(tmp_path, ".permindex-acl.yaml", "allow: [org:partnerco]\n")
    write(tmp_path, "deal/.permindex-acl.yaml", "allow: [bob@acme.com]\n")
    write(tmp_path, "deal/terms.md", "# Terms")
    assert acls(tmp_path)["deal/terms.md"] == frozenset()


def test_a_guest_named_under_an_org_only_parent_does_not_pass_the_parent(tmp_path):
    write(tmp_path, ".permindex-acl.yaml", "allow: [org]\n")
    write(tmp_path, "p/.permindex-acl.yaml", "allow: [guest@partner.com, bob@acme.com]\n")
    write(tmp_path, "p/plan.md", "# Plan")
    assert acls(tmp_path)["p/plan.md"] == {"user:bob@acme.com"}
