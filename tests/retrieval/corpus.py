"""A small organisation for retrieval tests: documents with ACLs and the directory granting them.

Identities:
- alice@acme.com: in group:wiki:eng (nested in group:wiki:tech), Slack account U1 mapped to her;
- bob@acme.com: in group:wiki:sales;
- carol@acme.com: in group:wiki:hr.
Everyone at acme.com gets org:acme.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.directory import GroupMembership, IdentityMapping
from connectors.org import OrgPolicy
from indexer.backends import Stores
from indexer.embedding import Embedder
from indexer.records import ChunkWrite, DocumentWrite
from retrieval.audit import AuditRecord
from retrieval.searcher import Searcher

TENANT = "acme"
# Everyone at acme.com is inside the organisation (and gets org:acme); nobody else is.
ORG = OrgPolicy(tenant=TENANT, domains=frozenset({"acme.com"}))
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Doc:
    source: str
    external_id: str
    title: str
    chunks: tuple[str, ...]
    acl: frozenset[str]
    doc_type: str
    updated_at: datetime = datetime(2025, 1, 1, tzinfo=UTC)

    @property
    def doc_id(self) -> str:
        return f"{self.source}:{self.external_id}"


def _d(year: int, month: int = 1) -> datetime:
    return datetime(year, month, 1, tzinfo=UTC)


EVERYONE = frozenset({f"org:{TENANT}"})

DOCS: tuple[Doc, ...] = (
    Doc(
        "wiki",
        "vpn",
        "Configuring the VPN client",
        (
            "To work from home, install the WireGuard VPN client and import the profile "
            "from the IT portal. The VPN connects laptops to the office network remotely.",
        ),
        EVERYONE,
        "page",
    ),
    Doc(
        "wiki",
        "payroll",
        "Payroll calendar and salary bands",
        (
            "Salaries are paid on the 25th. Salary bands for every level are listed here; "
            "payroll questions go to the HR team.",
        ),
        frozenset({"group:wiki:hr"}),
        "page",
    ),
    Doc(
        "wiki",
        "deploy",
        "Deploying the billing service",
        (
            "The billing service is deployed to the Kubernetes cluster with Helm. Run the "
            "release pipeline, then watch the rollout dashboards for error rates.",
        ),
        frozenset({"group:wiki:eng"}),
        "page",
    ),
    Doc(
        "jira",
        "INC-7",
        "Billing service outage postmortem",
        (
            "On Tuesday the billing service returned errors for forty minutes after a bad "
            "database migration. Root cause, timeline and follow-up actions.",
        ),
        frozenset({"group:wiki:tech"}),
        "ticket",
    ),
    Doc(
        "slack",
        "C1-1700000000",
        "#lunch",
        ("Who is up for tacos on Friday? The food truck parks outside the office at noon.",),
        frozenset({"account:slack:U1"}),
        "message",
    ),
    Doc(
        "drive",
        "deck-q3",
        "Q3 sales deck and pricing",
        (
            "Pricing for enterprise customers: discounts above twenty percent need approval "
            "from the sales director. Slides for the Q3 customer pitch.",
        ),
        frozenset({"group:wiki:sales"}),
        "file",
    ),
    Doc(
        "wiki",
        "orphan",
        "Secret merger plans",
        ("Acquisition target shortlist and merger timeline, strictly confidential.",),
        frozenset(),
        "page",
    ),
    Doc(
        "wiki",
        "k8s-handbook",
        "Kubernetes handbook",
        (
            "Kubernetes pods are the smallest deployable units; a pod groups containers.",
            "Kubernetes deployments roll out pods gradually and roll back on failure.",
            "Kubernetes services give pods a stable network address inside the cluster.",
        ),
        EVERYONE,
        "page",
    ),
    Doc(
        "wiki",
        "expenses-2019",
        "Travel expense policy",
        (
            "Travel expense policy: book economy flights, keep receipts, submit expense "
            "reports within thirty days.",
        ),
        EVERYONE,
        "page",
        _d(2019),
    ),
    Doc(
        "wiki",
        "expenses-2025",
        "Travel expense policy (updated)",
        (
            "Updated travel expense policy: economy flights, receipts in the expense app, "
            "reports within thirty days.",
        ),
        EVERYONE,
        "page",
        _d(2025, 5),
    ),
)

DOCS_BY_ID = {d.doc_id: d for d in DOCS}


def document_writes(embedder: Embedder) -> list[DocumentWrite]:
    writes = []
    for doc in DOCS:
        vectors = embedder.embed_documents([f"{doc.title}\n{text}" for text in doc.chunks])
        writes.append(
            DocumentWrite(
                doc_id=doc.doc_id,
                source_id=doc.source,
                external_id=doc.external_id,
                title=doc.title,
                url=f"https://{doc.source}.acme.test/{doc.external_id}",
                doc_type=doc.doc_type,
                content_type="text/plain",
                updated_at=doc.updated_at,
                acl=doc.acl,
                content_fingerprint=f"c-{doc.doc_id}",
                acl_fingerprint=f"a-{doc.doc_id}",
                chunks=[
                    ChunkWrite(index=i, text=text, vector=vector)
                    for i, (text, vector) in enumerate(zip(doc.chunks, vectors, strict=True))
                ],
            )
        )
    return writes


def sync_directory(stores: Stores) -> None:
    stores.directory.replace_groups(
        "wiki",
        [
            GroupMembership(group="group:wiki:eng", members=frozenset({"user:alice@acme.com"})),
            GroupMembership(group="group:wiki:tech", members=frozenset({"group:wiki:eng"})),
            GroupMembership(group="group:wiki:sales", members=frozenset({"user:bob@acme.com"})),
            GroupMembership(group="group:wiki:hr", members=frozenset({"user:carol@acme.com"})),
        ],
    )
    stores.directory.replace_identities(
        "slack", [IdentityMapping(account="account:slack:U1", email="alice@acme.com")]
    )


class ListAuditSink:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def record(self, record: AuditRecord) -> None:
        self.records.append(record)


MakeSearcher = Callable[..., Searcher]
