"""The explainer's verdict is the search path's: on random documents, groups, mappings and
callers, ``explain_access`` says visible exactly when ``Searcher.get_document`` returns the
document and a keyword search for its unique word finds it (both backends)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.directory import GroupMembership, IdentityMapping
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import HashingEmbedder
from indexer.fingerprints import acl_fingerprint
from indexer.records import ChunkWrite, DocumentWrite
from retrieval.access.audience import who_can_see
from retrieval.access.explain import explain_access
from retrieval.acl_check import is_visible
from retrieval.identity import IdentityResolver
from retrieval.models import SearchQuery
from retrieval.searcher import Searcher
from retrieval.settings import RetrievalSettings

ORG = OrgPolicy(
    tenant="acme",
    domains=frozenset({"acme.com"}),
    members=frozenset({"pat@contractor.io"}),
    guests=frozenset({"visitor@acme.com"}),
)
USERS = ["alice@acme.com", "bob@acme.com", "visitor@acme.com", "pat@contractor.io", "zed@gmail.com"]
GROUPS = [f"group:s:g{i}" for i in range(4)]
ACCOUNT = "account:s:u1"
POOL = [*(f"user:{u}" for u in USERS), *GROUPS, "org:acme", "org:other", ACCOUNT]
NOW = datetime(2026, 1, 1, tzinfo=UTC)
_example = itertools.count()

worlds = st.fixed_dictionaries(
    {
        "groups": st.dictionaries(
            st.sampled_from(GROUPS), st.frozensets(st.sampled_from(POOL), max_size=3), max_size=4
        ),
        "account_of": st.none() | st.sampled_from(USERS),
        "acls": st.lists(st.frozensets(st.sampled_from(POOL), max_size=3), min_size=1, max_size=4),
    }
)


def _write(
    stores: Stores, embedder: HashingEmbedder, doc_id: str, token: str, acl: frozenset[str]
) -> None:
    text = f"{token} handbook"
    write = DocumentWrite(
        doc_id=doc_id,
        source_id="s",
        external_id=doc_id.split(":", 1)[1],
        title=f"title {token}",
        doc_type="page",
        content_type="text/plain",
        updated_at=NOW,
        acl=acl,
        content_fingerprint=token,
        acl_fingerprint=acl_fingerprint(acl),
        chunks=[ChunkWrite(index=0, text=text, vector=embedder.embed_documents([text])[0])],
    )
    result = stores.index.write_documents([write])
    assert not result.failed


def test_explain_verdict_equals_search_visibility(
    stores: Stores, dimension: int, backend_kind: str
) -> None:
    # Fewer worlds on OpenSearch: each costs a few hundred requests to the shared node.
    @settings(
        max_examples=15 if backend_kind == "embedded" else 3,
        derandomize=True,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(world=worlds)
    def check(world: dict[str, Any]) -> None:
        _check_world(stores, HashingEmbedder(dimension), world)

    check()


def _check_world(stores: Stores, embedder: HashingEmbedder, world: dict[str, Any]) -> None:
    n = next(_example)
    stores.directory.replace_groups(
        "s", [GroupMembership(group=g, members=m) for g, m in world["groups"].items()]
    )
    mapped = world["account_of"]
    stores.directory.replace_identities(
        "s", [IdentityMapping(account=ACCOUNT, email=mapped)] if mapped else []
    )
    docs = {}
    for i, acl in enumerate(world["acls"]):
        token = f"zq{n}x{i}"
        doc_id = f"s:e{n}/d{i}"
        _write(stores, embedder, doc_id, token, acl)
        docs[doc_id] = (token, acl)
    stores.index.refresh()
    # The service's resolver, cache included: explain and search share it as they do there.
    resolver = IdentityResolver(stores.directory, ORG)
    searcher = Searcher(stores.index, embedder, RetrievalSettings(org=ORG))
    for user in USERS:
        principals = resolver.resolve(user)
        for doc_id, (token, acl) in docs.items():
            answer = explain_access(stores, resolver, user, doc_id)
            by_document = searcher.get_document(principals, doc_id, caller=user) is not None
            found = searcher.search(
                principals, SearchQuery(query=token, mode="keyword", top_k=5), caller=user
            )
            by_search = doc_id in {r.doc_id for r in found.results}
            assert answer.visible == by_document == by_search, (user, doc_id, answer)
            assert answer.visible == is_visible(acl, principals)
            assert answer.effective_acl == sorted(acl)
    for doc_id in docs:
        audience = who_can_see(stores, resolver, doc_id, limit=50)
        for member in audience.members:
            if member.principal.startswith("user:"):
                principals = resolver.resolve(member.principal[len("user:") :])
                assert searcher.get_document(principals, doc_id) is not None
