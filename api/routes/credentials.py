"""Signed credentials and the proofs that they are logged (public)."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Path

from api.deps import DbSession
from api.schemas import Problem, ProofBundleOut
from registry.storage.credentials import document_of, get_credential
from registry.tlog.reader import proof_bundle

__all__ = ["router"]

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])


@router.get(
    "/{credential_id}/proof",
    summary="An offline proof that a credential is logged",
    responses={404: {"model": Problem, "description": "No such credential, or not logged."}},
)
def proof(
    session: DbSession,
    credential_id: Annotated[
        str, Path(max_length=128, description="The credential's id.", examples=["urn:uuid:..."])
    ],
) -> ProofBundleOut:
    """The signed credential, its leaf index in its authority's log, the tree size, the
    inclusion hashes (standard base64) and the signed checkpoint that commits to them:
    everything needed to check, without this server, that the credential is logged.
    The leaf is the credential's canonical (RFC 8785) bytes.
    """
    row = get_credential(session, credential_id)
    bundle = proof_bundle(session, row.id)
    return ProofBundleOut(
        credential=document_of(row),
        authority=bundle.authority,
        leaf_index=bundle.leaf_index,
        tree_size=bundle.tree_size,
        hashes=[base64.b64encode(h).decode("ascii") for h in bundle.hashes],
        checkpoint=bundle.checkpoint,
    )
