"""Why can (or can't) this person see this document? Answered from what the index holds.

Public API (used by ``permindex access``, the admin API and the operator console)::

    explain_access(stores, resolver, user_email, doc_id) -> AccessExplanation
    who_can_see(stores, resolver, doc_id, *, offset=0, limit=50) -> AccessAudience
                                                      (in ``retrieval.access.audience``)

``stores`` is the deployment's ``indexer.backends.Stores``; ``resolver`` the
``retrieval.identity.IdentityResolver`` the search path uses. Both return pydantic models
(``retrieval.access.models``) that serialise with ``model_dump(mode="json")``.

The verdict is the search path's own: the resolver turns the email into principals and the
document is visible exactly when the backend returns its chunks under those principals and
every chunk passes ``retrieval.acl_check`` (the steps of ``Searcher.get_document``). The rest
explains the verdict: the effective ACL the index holds; the layers the source gave
(``SourceDocument.acl_layers``, recorded by the write pipeline in ``indexer.provenance``) with
the principal of the user that each layer matched or the note that it admitted nobody of
theirs; how the user holds each principal (group path with the groups run that last synced
it); org membership and why; and when the ACL was last written and checked. A document whose
source gives no layers is explained from its effective ACL alone, and the answer says so.

An explanation names document titles and ACL principals (admins may read them) and never
returns content.
"""

from __future__ import annotations

import uuid

from indexer import principals as p
from indexer.backend import IndexBackend
from indexer.backends import Stores
from indexer.provenance import AclLayer, AclProvenance, IndexedAcl, provenance_store_for
from retrieval.access.chains import RunLookup, held_principals, org_membership, seeds_of
from retrieval.access.models import AccessExplanation, HeldPrincipal, LayerExplanation
from retrieval.acl_guard import AclGuard
from retrieval.identity import IdentityError, IdentityResolver

__all__ = ["IdentityError", "explain_access", "search_visible"]


def search_visible(index: IndexBackend, principals: frozenset[str], doc_id: str) -> bool:
    """Whether ``Searcher.get_document`` would return the document to these principals: the
    backend's ACL filter, then the re-check of every chunk; a mismatch hides the document."""
    if not principals:
        return False
    fetched = index.get_document_chunks(doc_id, principals)
    guard = AclGuard(
        principals=principals,
        query_id=uuid.uuid4().hex,
        caller="access-explain",
        service="access-explain",
        backend=index.name,
    )
    kept = guard.hits(fetched, stage="document")
    return bool(kept) and len(kept) == len(fetched) and all(h.doc_id == doc_id for h in kept)


def indexed_acl(stores: Stores, doc_id: str) -> IndexedAcl | None:
    store = provenance_store_for(stores.index)
    return store.indexed_acl(doc_id) if store is not None else None


def recorded_layers(stores: Stores, doc_id: str) -> AclProvenance | None:
    store = provenance_store_for(stores.index)
    return store.get(doc_id) if store is not None else None


def explain_access(
    stores: Stores, resolver: IdentityResolver, user_email: str, doc_id: str
) -> AccessExplanation:
    """Raises ``IdentityError`` for an address the resolver refuses (as search does)."""
    principals = resolver.resolve(user_email)  # raises IdentityError like the search path
    address = p.normalise_email(user_email)
    visible = search_visible(stores.index, principals, doc_id)
    stored = indexed_acl(stores, doc_id)
    runs = RunLookup(stores.state)
    org = org_membership(resolver, address, principals)
    seeds = set(seeds_of(resolver, address, principals))
    notes: list[str] = []
    if stored is None:
        held = held_principals(resolver, address, principals, seeds, runs)
        summary = (
            f"{doc_id} is not in the index: nobody can find it"
            if not visible
            else f"visible to {address}, but the index's ACL record could not be read"
        )
        return AccessExplanation(
            doc_id=doc_id,
            user=address,
            verdict="visible" if visible else "not_indexed",
            visible=visible,
            summary=summary,
            principals=held,
            principal_names=sorted(principals),
            org=org,
        )
    matched_acl = sorted(stored.acl & principals)
    provenance = recorded_layers(stores, doc_id)
    status = "not_recorded"
    layers: list[LayerExplanation] = []
    if provenance is not None and provenance.acl_fingerprint == stored.acl_fingerprint:
        status = "recorded"
        layers = [_layer(i, layer, principals) for i, layer in enumerate(provenance.layers, 1)]
    elif provenance is not None:
        status = "stale"
        notes.append(
            "the recorded layers describe an earlier ACL than the index holds; "
            "explained from the effective ACL only"
        )
    else:
        notes.append(
            "the source gave no layers for this document (or it was indexed before layers "
            "were recorded): explained from its effective ACL"
        )
    # Paths are traced for what explains the verdict: the ACL's and each layer's matches.
    wanted = seeds | set(matched_acl) | {m for layer in layers for m in layer.matched}
    held = held_principals(resolver, address, principals, wanted, runs)
    if not stored.acl:
        notes.append("the effective ACL is empty: nobody can see this document (fail closed)")
    if visible != bool(matched_acl):
        # Only a backend or index bug can make the filter disagree with the stored ACL.
        notes.append("the index's filter and its stored ACL disagree: report this as a bug")
    summary = _summary(address, visible, matched_acl, layers, stored, held)
    if not visible and layers and _layers_admit(layers) and stored.acl:
        notes.append(
            "every layer admits a principal of theirs now, but the effective ACL was computed "
            f"when the ACL was last written ({stored.indexed_at.isoformat()}), before that "
            "membership: the next permissions or groups run recomputes it"
        )
    return AccessExplanation(
        doc_id=doc_id,
        user=address,
        verdict="visible" if visible else "not_visible",
        visible=visible,
        summary=summary,
        title=stored.title,
        source_id=stored.source_id,
        effective_acl=sorted(stored.acl),
        matched_acl=matched_acl,
        acl_written_at=stored.indexed_at,
        acl_checked_by=runs.last_acl_run(stored.source_id),
        layers_status=status,
        layers_recorded_at=provenance.recorded_at if provenance is not None else None,
        layers=layers,
        principals=held,
        principal_names=sorted(principals),
        org=org,
        notes=notes,
    )


def _layer(position: int, layer: AclLayer, principals: frozenset[str]) -> LayerExplanation:
    matched = sorted(layer.principals & principals)
    return LayerExplanation(
        position=position,
        kind=layer.kind,
        label=layer.label,
        origin=layer.origin,
        line=layer.line,
        principals=sorted(layer.principals),
        admits=bool(matched),
        alternative=layer.alternative,
        matched=matched,
    )


def _layers_admit(layers: list[LayerExplanation]) -> bool:
    """Every required layer admits, and one of the alternatives if there are any."""
    alternatives = [layer for layer in layers if layer.alternative]
    required = [layer for layer in layers if not layer.alternative]
    return all(layer.admits for layer in required) and (
        not alternatives or any(layer.admits for layer in alternatives)
    )


def _summary(
    address: str,
    visible: bool,
    matched_acl: list[str],
    layers: list[LayerExplanation],
    stored: IndexedAcl,
    held: list[HeldPrincipal],
) -> str:
    if visible:
        how = {h.principal: h for h in held}
        first = matched_acl[0] if matched_acl else "?"
        chain = how.get(first)
        via = ""
        if chain is not None and chain.path:
            via = " (" + " -> ".join([chain.path[0].member, *(s.group for s in chain.path)]) + ")"
        return f"visible: {address} holds {first}{via}, which the effective ACL admits"
    if not stored.acl:
        return "not visible: the effective ACL is empty, so nobody can see it"
    stopped = [layer for layer in layers if not layer.admits and not layer.alternative]
    alternatives = [layer for layer in layers if layer.alternative]
    if not stopped and alternatives and not any(layer.admits for layer in alternatives):
        lead = alternatives[0]
        if len(alternatives) == 1:
            return (
                f"not visible: layer {lead.position} ({lead.label}{_where(lead)}) "
                "admitted nobody of theirs"
            )
        return (
            f"not visible: none of its {len(alternatives)} alternative layers admitted anyone "
            f"of theirs (any one would have been enough; the first: layer {lead.position}, "
            f"{lead.label}{_where(lead)})"
        )
    if stopped:
        first_stop = stopped[0]
        where = _where(first_stop)
        return (
            f"not visible: layer {first_stop.position} ({first_stop.label}{where}) "
            f"admitted nobody of theirs"
        )
    return f"not visible: {address} holds none of the {len(stored.acl)} principal(s) of the ACL"


def _where(layer: LayerExplanation) -> str:
    line = f" line {layer.line}" if layer.line is not None else ""
    if layer.origin is None or layer.origin in layer.label:
        return line  # the label already says where
    return f", {layer.origin}{line}"
