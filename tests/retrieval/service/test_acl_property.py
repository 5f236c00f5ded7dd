"""Property: through the HTTP API, nobody ever receives a document their principals do not reach.

Hypothesis draws ACLs (empty ones included), nested and cyclic group memberships, account
mappings, users, asserted groups and queries; an independent oracle computes each user's
principals. Every search result and every document fetch is checked against the oracle, in both
directions for the document endpoint and for keyword/vector searches that ask for everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.directory import GroupMembership, IdentityMapping
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.records import ChunkWrite, DocumentWrite
from retrieval.client import PermindexClient
from retrieval.identity import IdentityResolver
from retrieval.searcher import Searcher
from retrieval.service.app import create_app
from retrieval.service.keys import ApiKeyStore
from retrieval.service.settings import ServiceSettings
from retrieval.settings import RetrievalSettings
from tests.conftest import MakeStores

from .conftest import running_server

TENANT = "acme"
ORG = OrgPolicy(tenant=TENANT, domains=frozenset({"acme.com"}))
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")
USERS = tuple(f"u{i}@acme.com" for i in range(5))
GROUPS = tuple(f"group:wiki:g{i}" for i in range(4))
ACCOUNTS = tuple(f"account:slack:A{i}" for i in range(2))
# org:other belongs to a different tenant: nobody here holds it.
PRINCIPALS = (*(f"user:{u}" for u in USERS), *GROUPS, *ACCOUNTS, f"org:{TENANT}", "org:other")
N_DOCS = 24


def _text(i: int) -> str:
    # Each document holds three of the words, so every word matches a different subset.
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in (0, i % 3 + 1, i % 5 + 2)) + f" item{i}"


@dataclass(frozen=True)
class Corpus:
    texts: tuple[str, ...]
    vectors: tuple[tuple[float, ...], ...]


@pytest.fixture(scope="module")
def corpus(embedder: Embedder) -> Corpus:
    texts = tuple(_text(i) for i in range(N_DOCS))
    vectors = tuple(tuple(v) for v in embedder.embed_documents(list(texts)))
    return Corpus(texts, vectors)


@dataclass
class Service:
    stores: Stores
    client: PermindexClient
    trusted: PermindexClient


@pytest.fixture
def service(
    make_stores: MakeStores, embedder: Embedder, keys_path: Path, api_keys: dict[str, str]
) -> Iterator[Service]:
    stores = make_stores(embedder.dimension)
    stores.index.ensure_schema()
    searcher = Searcher(stores.index, embedder, RetrievalSettings(org=ORG))
    resolver = IdentityResolver(stores.directory, ORG)
    app = create_app(
        searcher, resolver, ApiKeyStore.from_file(keys_path), ServiceSettings(keys_file=keys_path)
    )
    with (
        running_server(app) as url,
        PermindexClient(url, api_keys["search"]) as client,
        PermindexClient(url, api_keys["trusted"]) as trusted,
    ):
        yield Service(stores, client, trusted)


def oracle_principals(
    user: str,
    asserted: frozenset[str],
    memberships: dict[str, frozenset[str]],
    accounts: dict[str, str],
) -> set[str]:
    seeds = {f"user:{user}", *asserted, *(a for a, owner in accounts.items() if owner == user)}
    reached = set(seeds)
    changed = True
    while changed:
        changed = False
        for group, members in memberships.items():
            if group not in reached and members & reached:
                reached.add(group)
                changed = True
    return reached | {f"org:{TENANT}"}


Query = tuple[str, frozenset[str], str, str]  # user, asserted groups, word, mode

acls = st.lists(
    st.frozensets(st.sampled_from(PRINCIPALS), max_size=3), min_size=N_DOCS, max_size=N_DOCS
)
memberships = st.fixed_dictionaries(
    {
        g: st.frozensets(st.sampled_from((*(f"user:{u}" for u in USERS), *GROUPS)), max_size=3)
        for g in GROUPS
    }
)
account_owners = st.fixed_dictionaries({a: st.sampled_from(USERS) for a in ACCOUNTS})
queries = st.lists(
    st.tuples(
        st.sampled_from(USERS),
        st.one_of(st.just(frozenset()), st.frozensets(st.sampled_from(GROUPS), max_size=2)),
        st.sampled_from(WORDS),
        st.sampled_from(("keyword", "vector", "hybrid")),
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(acl_list=acls, groups=memberships, owners=account_owners, asked=queries)
def test_no_search_or_fetch_leaks_through_the_http_api(
    service: Service,
    corpus: Corpus,
    acl_list: list[frozenset[str]],
    groups: dict[str, frozenset[str]],
    owners: dict[str, str],
    asked: list[Query],
) -> None:
    stores = service.stores
    writes = [
        DocumentWrite(
            doc_id=f"prop:d{i}",
            source_id="prop",
            external_id=f"d{i}",
            title=f"Document {i}",
            doc_type="page",
            content_type="text/plain",
            updated_at=datetime(2025, 1, 1, tzinfo=UTC),
            acl=acl,
            content_fingerprint=f"c{i}",
            acl_fingerprint=str(sorted(acl)),
            chunks=[ChunkWrite(index=0, text=corpus.texts[i], vector=list(corpus.vectors[i]))],
        )
        for i, acl in enumerate(acl_list)
    ]
    assert not stores.index.write_documents(writes).failed
    stores.index.refresh()
    stores.directory.replace_groups(
        "wiki", [GroupMembership(group=g, members=m) for g, m in groups.items()]
    )
    stores.directory.replace_identities(
        "slack", [IdentityMapping(account=a, email=u) for a, u in owners.items()]
    )

    for user, asserted, word, mode in asked:
        principals = oracle_principals(user, asserted, groups, owners)
        visible = {f"prop:d{i}" for i, acl in enumerate(acl_list) if acl & principals}
        client = service.trusted if asserted else service.client
        response = client.search(user, word, groups=sorted(asserted), mode=mode, top_k=N_DOCS)
        returned = [r.doc_id for r in response.results]
        leaked = set(returned) - visible
        assert not leaked, f"{user} {sorted(principals)} received {sorted(leaked)}"
        assert len(returned) == len(set(returned))
        if mode == "keyword":
            matching = {f"prop:d{i}" for i in range(N_DOCS) if word in corpus.texts[i].split()}
            assert set(returned) == visible & matching
        elif mode == "vector":
            assert set(returned) == visible

        # The document endpoint answers exactly for the visible documents.
        for i in range(0, N_DOCS, 5):
            doc_id = f"prop:d{i}"
            document = client.get_document(user, doc_id, groups=sorted(asserted))
            assert (document is not None) == (doc_id in visible), (user, doc_id)
