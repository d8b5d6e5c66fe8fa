"""A listing's file, as an inspector opens it: the decision, its measures, its history
of signed changes, its status on the day, and its proof (where its authority's log
holds it, at that log's newest checkpoint); and the check an inspector exports for the
inspection file.

The check is verifiable without this node: it carries the signed listing credential
(verified with the trust list), its inclusion proof and the signed checkpoint it is
proven against (verified with the log's key), and says who checked it, when, and
what the listing's status was that day.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col

from registry.enforcement.measures import measure_codes
from registry.enforcement.search import Found, read_listings
from registry.enforcement.timeline import status_on
from registry.errors import InvalidInput, NotFound
from registry.storage.models import StoredCredential
from registry.tlog.cache import SubtreeCache
from registry.tlog.checkpoint import Checkpoint, parse_checkpoint
from registry.tlog.proofs import log_heads, prove

__all__ = ["CHECK_TYPE", "ListingFile", "ListingProof", "check_document", "listing_file"]

CHECK_TYPE = "UntrustworthinessListingCheck"
"""What an exported check calls itself."""


@dataclass(frozen=True)
class ListingProof:
    """Where the listing's log holds it: its leaf, the tree size and checkpoint it is
    proven at, and the inclusion proof's hashes."""

    leaf_index: int
    tree_size: int
    hashes: list[bytes]
    checkpoint: str

    @property
    def head(self) -> Checkpoint:
        """The checkpoint's body: the log's origin, size and root hash."""
        body, _, _ = self.checkpoint.partition("\n\n")
        return parse_checkpoint(body + "\n")


@dataclass(frozen=True)
class ListingFile:
    """A listing with its status on ``on`` and its proof (``None`` while its log has
    signed no checkpoint holding it)."""

    found: Found
    on: date
    proof: ListingProof | None

    @property
    def subject(self) -> dict[str, Any]:
        """What the listing decided: its ``credentialSubject``."""
        subject: dict[str, Any] = self.found.document["credentialSubject"]
        return subject


def listing_file(
    session: Session,
    credential_id: str,
    *,
    on: date,
    subtrees: SubtreeCache | None = None,
) -> ListingFile:
    """The listing ``credential_id`` (any authority's, mirrored ones too), its history,
    its status on ``on`` and its proof. Raises ``NotFound`` for anything that is not a
    listing this node holds. Read it in one snapshot (``begin_snapshot``)."""
    found = read_listings(session, col(StoredCredential.id) == credential_id, None)
    if not found:
        raise NotFound(f"no listing {credential_id}")
    listing = min(found, key=lambda f: f.position)  # the listed party comes first
    changes = [(c.effective_on, c.state_after) for c in listing.changes]
    listing.status = status_on(listing.document["credentialSubject"], changes, on)
    heads = log_heads(session)
    try:
        evidence = prove(
            session, [(listing.canonical, listing.authority, listing.leaf_index)], heads, subtrees
        )
    except InvalidInput:
        return ListingFile(listing, on, None)  # logged, but in no checkpoint yet
    [logged] = evidence.credentials
    proof = ListingProof(
        logged.leaf_index,
        logged.tree_size,
        logged.hashes,
        evidence.by_authority()[listing.authority],
    )
    return ListingFile(listing, on, proof)


def check_document(
    file: ListingFile, *, checked_by: str, username: str, node: str, at: datetime
) -> dict[str, Any]:
    """The check of a listing for the inspection file: who checked it (their name and
    account), on which node and when, its status that day, its history, the signed
    listing, its inclusion proof and checkpoint."""
    found = file.found
    status = found.status
    document: dict[str, Any] = {
        "type": CHECK_TYPE,
        "checkedAt": at.isoformat(),
        "checkedBy": {"name": checked_by, "account": username},
        "node": node,
        "date": file.on.isoformat(),
        "listingId": found.credential_id,
        "decidedBy": found.authority,
        "status": {"status": status.status, "since": status.since.isoformat()} if status else None,
        "measureCodes": measure_codes(file.subject),
        "history": [
            {
                "id": change.credential_id,
                "action": change.action,
                "from": change.state_before,
                "to": change.state_after,
                "effectiveOn": change.effective_on.isoformat(),
                "recordedAt": change.recorded_at.isoformat(),
                "reason": change.reason,
                "decisionNumber": change.decision_number,
            }
            for change in found.changes
        ],
        "credential": found.document,
        "proof": None,
    }
    if file.proof is not None:
        document["proof"] = {
            "authority": found.authority,
            "leafIndex": file.proof.leaf_index,
            "treeSize": file.proof.tree_size,
            "inclusionProof": [base64.b64encode(h).decode("ascii") for h in file.proof.hashes],
            "checkpoint": file.proof.checkpoint,
        }
    return document
