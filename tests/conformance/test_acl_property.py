"""Property: no search on any backend ever returns a chunk its caller may not see.

Hypothesis draws a corpus of hundreds of documents with random ACLs (empty ones included), random
callers and random ACL replacements. For every caller, keyword, vector and hybrid searches must
return only chunks whose document ACL intersects the caller's principals, never an empty-ACL
document, exactly ``min(k, permitted matches)`` results (the filter runs before top-k), and the
ACLs as they are after the replacements, from the very next search on.

One index is reused across examples (opening a fresh OpenSearch index per example would dominate
the run time); each example writes its own source and deletes it afterwards.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from indexer.backends import IndexBackend, Stores
from indexer.records import AclUpdate, ChunkWrite, DocumentWrite, Hit, SearchFilters
from tests.conformance.builders import T0

UNIVERSE = (
    "user:alice@example.com",
    "user:bob@example.com",
    "user:carol@example.com",
    "group:wiki:eng",
    "group:wiki:sales",
    "org:example",
    "account:slack:U1",
)
OUTSIDER = "user:mallory@example.com"  # on no ACL at all
EMPTY: frozenset[str] = frozenset()
# Every ACL of up to three principals, with the empty ACL weighted up so each corpus has many.
ACL_PATTERNS = [EMPTY] * 8 + [
    frozenset(combo) for size in (1, 2, 3) for combo in itertools.combinations(UNIVERSE, size)
]
VOCABULARY = [
    "budget", "roadmap", "incident", "payroll", "contract", "launch", "hiring", "offsite",
    "security", "pricing", "invoice", "migration", "outage", "review", "salary", "merger",
    "audit", "design", "retro", "vendor", "policy", "travel", "laptop", "benefits",
    "customer", "renewal", "forecast", "backlog", "sprint", "release",
]  # fmt: skip
K = 10
DIMENSION = 8
# Each example indexes a fresh corpus of 150-300 documents; sized to stay near a minute per backend.
EXAMPLES = {"embedded": 40, "opensearch": 30}
_TOKEN = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Scenario:
    acls: list[frozenset[str]]
    callers: list[frozenset[str]]
    replacements: list[tuple[int, frozenset[str]]]
    seed: int


@dataclass
class Corpus:
    source: str
    acls: dict[str, frozenset[str]]  # doc id -> current ACL (the ground truth)
    chunks: dict[str, list[tuple[str, list[float]]]] = field(default_factory=dict)

    def unique_token(self, doc_id: str) -> str:
        return f"zq{doc_id.rsplit(':', 1)[1]}"


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    acls = draw(st.lists(st.sampled_from(ACL_PATTERNS), min_size=150, max_size=300))
    callers = draw(
        st.lists(
            st.frozensets(st.sampled_from((*UNIVERSE, OUTSIDER)), max_size=4),
            min_size=4,
            max_size=8,
        )
    )
    replacements = draw(
        st.lists(
            st.tuples(st.integers(0, len(acls) - 1), st.sampled_from(ACL_PATTERNS)),
            min_size=1,
            max_size=25,
        )
    )
    return Scenario(acls, [EMPTY, *callers], replacements, draw(st.integers(0, 2**32 - 1)))


def _vector(rng: random.Random) -> list[float]:
    raw = [rng.gauss(0.0, 1.0) for _ in range(DIMENSION)]
    norm = sum(x * x for x in raw) ** 0.5 or 1.0
    return [x / norm for x in raw]


def _build(scenario: Scenario, source: str) -> tuple[Corpus, list[DocumentWrite]]:
    rng = random.Random(scenario.seed)
    weights = [1.0 / (rank + 1) for rank in range(len(VOCABULARY))]  # some words rare
    corpus = Corpus(source=source, acls={})
    writes = []
    for i, acl in enumerate(scenario.acls):
        doc_id = f"{source}:{i:04d}"
        corpus.acls[doc_id] = acl
        chunks = []
        for _ in range(rng.randint(1, 3)):
            words = rng.choices(VOCABULARY, weights=weights, k=rng.randint(2, 6))
            chunks.append((" ".join([corpus.unique_token(doc_id), *words]), _vector(rng)))
        corpus.chunks[doc_id] = chunks
        writes.append(
            DocumentWrite(
                doc_id=doc_id,
                source_id=source,
                external_id=f"{i:04d}",
                title=f"Note {i:04d}",
                doc_type="note",
                content_type="text/plain",
                updated_at=T0,
                acl=acl,
                content_fingerprint=f"c{i}",
                acl_fingerprint=f"a{i}",
                chunks=[
                    ChunkWrite(index=n, text=text, vector=vector)
                    for n, (text, vector) in enumerate(chunks)
                ],
            )
        )
    return corpus, writes


def _visible(acl: frozenset[str], caller: frozenset[str]) -> bool:
    return bool(acl & caller)


def _assert_permitted(hits: list[Hit], corpus: Corpus, caller: frozenset[str], leg: str) -> None:
    for hit in hits:
        assert hit.doc_id in corpus.acls, f"{leg}: hit from outside this corpus: {hit.doc_id}"
        truth = corpus.acls[hit.doc_id]
        assert truth, f"{leg}: empty-ACL document {hit.doc_id} returned to {sorted(caller)}"
        assert _visible(truth, caller), (
            f"{leg}: {hit.doc_id} (ACL {sorted(truth)}) returned to {sorted(caller)}"
        )
        assert hit.acl == truth, f"{leg}: {hit.doc_id} reports stale ACL {sorted(hit.acl)}"


def _permitted_chunk_texts(corpus: Corpus, caller: frozenset[str]) -> list[str]:
    return [
        text
        for doc_id, chunks in corpus.chunks.items()
        if _visible(corpus.acls[doc_id], caller)
        for text, _ in chunks
    ]


def _check_all_searches(
    index: IndexBackend, corpus: Corpus, callers: list[frozenset[str]], rng: random.Random
) -> None:
    filters = SearchFilters()
    for caller in callers:
        permitted = _permitted_chunk_texts(corpus, caller)
        for _ in range(2):
            word = rng.choice(VOCABULARY)
            keyword = index.keyword_search(word, caller, filters, K)
            _assert_permitted(keyword, corpus, caller, "keyword")
            matching = sum(1 for text in permitted if word in _TOKEN.findall(text))
            assert len(keyword) == min(K, matching), (word, sorted(caller))

            query_vector = _vector(rng)
            vector = index.vector_search(query_vector, caller, filters, K)
            _assert_permitted(vector, corpus, caller, "vector")
            assert len(vector) == min(K, len(permitted)), sorted(caller)

            both = index.hybrid_candidates(word, query_vector, caller, filters, K)
            _assert_permitted(both[0], corpus, caller, "hybrid/keyword")
            _assert_permitted(both[1], corpus, caller, "hybrid/vector")


def _check_replacements_took_effect(
    index: IndexBackend, corpus: Corpus, before: dict[str, frozenset[str]]
) -> None:
    filters = SearchFilters()
    for doc_id, new_acl in corpus.acls.items():
        old_acl = before[doc_id]
        if old_acl == new_acl:
            continue
        token = corpus.unique_token(doc_id)
        first_vector = corpus.chunks[doc_id][0][1]
        for principal in old_acl | new_acl:
            caller = frozenset({principal})
            should_see = principal in new_acl
            found = {h.doc_id for h in index.keyword_search(token, caller, filters, K)}
            assert (doc_id in found) == should_see, (doc_id, principal, sorted(new_acl))
            near = {h.doc_id for h in index.vector_search(first_vector, caller, filters, 1)}
            assert (doc_id in near) == should_see, (doc_id, principal, "vector")
            chunks = index.get_document_chunks(doc_id, caller)
            assert bool(chunks) == should_see, (doc_id, principal, "get_document_chunks")


def _run_property(stores: Stores, counter: itertools.count[int], scenario: Scenario) -> None:
    index = stores.index
    corpus, writes = _build(scenario, source=f"prop{next(counter)}")
    try:
        result = index.write_documents(writes)
        assert result.failed == []
        index.refresh()
        rng = random.Random(scenario.seed + 1)
        _check_all_searches(index, corpus, scenario.callers, rng)

        before = dict(corpus.acls)
        updates: dict[str, AclUpdate] = {}
        for position, acl in scenario.replacements:
            doc_id = f"{corpus.source}:{position:04d}"
            corpus.acls[doc_id] = acl
            updates[doc_id] = AclUpdate(doc_id=doc_id, acl=acl, acl_fingerprint="replaced")
        assert index.replace_acls(list(updates.values())).failed == []
        index.refresh()
        _check_replacements_took_effect(index, corpus, before)
        _check_all_searches(index, corpus, scenario.callers, rng)
    finally:
        index.delete_documents(list(corpus.acls))
        index.refresh()


def test_no_search_ever_returns_a_chunk_the_caller_may_not_see(
    make_stores, backend_kind: str
) -> None:
    stores = make_stores(DIMENSION)
    stores.index.ensure_schema()
    counter = itertools.count()

    @settings(
        max_examples=EXAMPLES[backend_kind],
        deadline=None,
        database=None,
        # Shrinking a 300-document corpus against a server takes many minutes; the failure
        # message already names the leaking document, its ACL and the caller.
        phases=[Phase.explicit, Phase.generate]
        if backend_kind == "opensearch"
        else [Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(scenario=scenarios())
    def check(scenario: Scenario) -> None:
        _run_property(stores, counter, scenario)

    check()
