"""Issuing records, changing their state, reading them, and proving they are logged."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from sqlmodel import Session, col, select

from api.auth import require_role
from api.deps import DbSession
from api.errors import problem_responses
from api.examples import batch_examples, record_examples, status_change_examples
from api.schemas.common import ProofBundleOut
from api.schemas.records import (
    BatchIn,
    BatchIssuedOut,
    ChangeOut,
    CredentialOut,
    IssuedOut,
    StatusChangedOut,
)
from registry.calendar import china_today
from registry.credentials.lifecycle import StatusChangeIn, initial_state
from registry.credentials.records import RecordIn
from registry.errors import Forbidden
from registry.issuing import (
    IssuingContext,
    change_status,
    credential_view,
    get_record,
    issue_records,
)
from registry.issuing.idempotency import recall, remember, request_digest, settle
from registry.storage.credentials import document_of, get_credential
from registry.storage.models import (
    IdempotencyKey,
    LogEntry,
    Record,
    StatusChangeRow,
    StoredCredential,
)
from registry.tlog.reader import entry_of, first_covering, proof_bundle
from registry.verification.qr import QrPayload, qr_image

__all__ = ["router"]

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])

_ISSUER = Depends(require_role("issuer:*"))
# Examples are dated when the app is first imported: later, no date is in the future.
_TODAY = china_today()
_CredentialId = Annotated[
    str, Path(max_length=128, description="The credential's id.", examples=["urn:uuid:..."])
]
_IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            "Any unique string (a UUID, say). A retry with the same key and body returns "
            "the first result instead of issuing again; the same key with another body is "
            "refused with 422."
        ),
    ),
]
_ERRORS = problem_responses(
    401,
    (403, "Not an issuer of that authority."),
    (409, "The change is not allowed, or a retry races."),
    (422, "Invalid input: every bad field is named."),
)


def _context(request: Request) -> IssuingContext:
    context = request.app.state.issuing
    if not isinstance(context, IssuingContext):
        raise TypeError("app.state.issuing is not set: build the app with create_app")
    return context


def _own(role: str, authority: str) -> None:
    if role != f"issuer:{authority}":
        raise Forbidden(f"role {role} may not act for {authority}")


def _checkpoint_for(session: Session, authority: str, leaf_index: int) -> tuple[int, str]:
    covering = first_covering(session, authority, leaf_index)
    if covering is None:
        raise LookupError(f"no checkpoint of {authority} covers leaf {leaf_index}")
    return covering.tree_size, covering.note


@dataclass
class _Idempotency:
    """A request's ``Idempotency-Key``: what its first use produced, or the claim on it."""

    replay: list[str] | None = None
    claim: IdempotencyKey | None = None

    @classmethod
    def of(
        cls,
        session: Session,
        context: IssuingContext,
        *,
        role: str,
        key: str | None,
        body: Any,
        scope: str,
    ) -> _Idempotency:
        if key is None:
            return cls()
        digest = request_digest(body, node_secret=context.node_secret, scope=scope)
        ids = recall(session, role=role, key=key, digest=digest)
        if ids:
            return cls(replay=ids)
        return cls(claim=remember(session, role=role, key=key, digest=digest))

    def settle(self, session: Session, credential_ids: list[str]) -> None:
        if self.claim is not None:
            settle(session, self.claim, credential_ids)


def _replayed(response: Response) -> None:
    response.headers["Idempotent-Replayed"] = "true"


@dataclass(frozen=True)
class _Issued:
    canonical: str
    state: str
    leaf_index: int
    status_change: str | None


def _items_of(session: Session, ids: list[str]) -> tuple[list[_Issued], str, int]:
    """Rebuild, from the ids it issued, exactly what a request returned the first time."""
    rows = {
        row.id: row
        for row in session.exec(select(StoredCredential).where(col(StoredCredential.id).in_(ids)))
    }
    entries = {
        entry.credential_id: entry
        for entry in session.exec(select(LogEntry).where(col(LogEntry.credential_id).in_(ids)))
    }
    replaced = {
        record.replaces: record.credential_id
        for record in session.exec(select(Record).where(col(Record.credential_id).in_(ids)))
        if record.replaces
    }
    changes = {
        replaced[change.target_id]: change.credential_id
        for change in session.exec(
            select(StatusChangeRow).where(
                col(StatusChangeRow.target_id).in_(list(replaced)),
                col(StatusChangeRow.action) == "revoke",
            )
        )
    }
    items = [
        _Issued(
            canonical=rows[credential_id].canonical,
            state=initial_state(rows[credential_id].type).value,
            leaf_index=entries[credential_id].leaf_index,
            status_change=changes.get(credential_id),
        )
        for credential_id in ids
    ]
    last = entries[ids[-1]]
    size, note = _checkpoint_for(session, last.authority_code, last.leaf_index)
    return items, note, size


def _batch_response(
    items: list[_Issued], *, tree_size: int, checkpoint: str, replayed: bool = False
) -> Response:
    """The batch answer (``BatchIssuedOut``), written around each credential's stored
    canonical JSON instead of parsing and re-serialising ten thousand of them."""
    parts = ",".join(
        f'{{"credential":{item.canonical},"state":{json.dumps(item.state)},'
        f'"leaf_index":{item.leaf_index},"status_change":{json.dumps(item.status_change)}}}'
        for item in items
    )
    body = f'{{"tree_size":{tree_size},"checkpoint":{json.dumps(checkpoint)},"items":[{parts}]}}'
    headers = {"Idempotent-Replayed": "true"} if replayed else None
    return Response(body, status_code=201, media_type="application/json", headers=headers)


@router.post(
    "",
    status_code=201,
    summary="Issue a record",
    responses=_ERRORS,
)
def issue_one(
    *,
    request: Request,
    response: Response,
    session: DbSession,
    item: Annotated[RecordIn, Body(openapi_examples=record_examples(_TODAY))],
    role: Annotated[str, _ISSUER],
    idempotency_key: _IdempotencyKey = None,
) -> IssuedOut:
    """Validate, build, sign (`eddsa-jcs-2022`, the authority's current key for the
    type), append to the authority's log, and return the credential with its leaf
    index and the signed checkpoint that includes it.

    Needs the `issuer:CN-xx` token of the record's `authority`. ID numbers are
    committed (masked form, salt, salted SHA-256), never signed or stored in clear.
    A correction names the record it `replaces`; that record is revoked in the same
    transaction. Records that can change state carry `credentialStatus` entries in
    the authority's status lists.
    """
    _own(role, item.authority)
    context = _context(request)
    idempotency = _Idempotency.of(
        session,
        context,
        role=role,
        key=idempotency_key,
        body=item.model_dump(mode="json"),
        scope="POST /v1/credentials",
    )
    if idempotency.replay:
        _replayed(response)
        (found,), note, size = _items_of(session, idempotency.replay)
        return IssuedOut(
            credential=json.loads(found.canonical),
            state=found.state,
            leaf_index=found.leaf_index,
            tree_size=size,
            checkpoint=note,
            status_change=found.status_change,
        )
    issued = issue_records(session, context, [item])
    (record,) = issued.records
    idempotency.settle(session, [record.credential.id])
    return IssuedOut(
        credential=document_of(record.credential),
        state=record.state.value,
        leaf_index=record.leaf_index,
        tree_size=issued.log.size,
        checkpoint=issued.log.checkpoint,
        status_change=record.status_change,
    )


@router.post(
    "/batch",
    status_code=201,
    summary="Issue up to 10,000 records of one authority, all or nothing",
    response_model=BatchIssuedOut,
    responses=_ERRORS,
)
def issue_batch(
    *,
    request: Request,
    session: DbSession,
    batch: Annotated[BatchIn, Body(openapi_examples=batch_examples(_TODAY))],
    role: Annotated[str, _ISSUER],
    idempotency_key: _IdempotencyKey = None,
) -> Response:
    """Issue every item, in one transaction and one log append with one checkpoint,
    or none: a rejected batch answers 422 naming each bad item's index, field and
    reason (`items[3].holder.id_number`), and writes nothing.
    """
    for item in batch.items:
        _own(role, item.authority)
    context = _context(request)
    idempotency = _Idempotency.of(
        session,
        context,
        role=role,
        key=idempotency_key,
        body=batch.model_dump(mode="json"),
        scope="POST /v1/credentials/batch",
    )
    if idempotency.replay:
        items, note, size = _items_of(session, idempotency.replay)
        return _batch_response(items, tree_size=size, checkpoint=note, replayed=True)
    issued = issue_records(session, context, batch.items, field_prefix="items")
    idempotency.settle(session, [r.credential.id for r in issued.records])
    return _batch_response(
        [
            _Issued(r.credential.canonical, r.state.value, r.leaf_index, r.status_change)
            for r in issued.records
        ],
        tree_size=issued.log.size,
        checkpoint=issued.log.checkpoint,
    )


@router.post(
    "/{credential_id}/status",
    status_code=201,
    summary="Change a record's state (a signed StatusChange)",
    responses={**_ERRORS, **problem_responses((404, "No such record."))},
)
def change(
    *,
    request: Request,
    response: Response,
    session: DbSession,
    credential_id: _CredentialId,
    body: Annotated[StatusChangeIn, Body(openapi_examples=status_change_examples(_TODAY))],
    role: Annotated[str, _ISSUER],
    idempotency_key: _IdempotencyKey = None,
) -> StatusChangedOut:
    """Sign and log a `StatusChange`, flip the record's bits in its authority's status
    lists and sign their new versions, all in one transaction.

    Registrations: `suspend`, `reinstate`, `revoke`, `cancel` (注销). Listings:
    `lift` (credit repair, not before `earliestRemovalOn`), `reverse-lift` (the
    repair was obtained by fraud), `withdraw` (the penalty was overturned),
    `revoke`. Qualifications and CE credits: `revoke`. A transition the rules do not
    allow is refused with 409 and the reason; `effective_on` is today or earlier,
    and not before the record's last change.
    """
    record = get_record(session, credential_id)
    _own(role, record.authority_code)
    context = _context(request)
    idempotency = _Idempotency.of(
        session,
        context,
        role=role,
        key=idempotency_key,
        body={"id": credential_id, **body.model_dump(mode="json")},
        scope="POST /v1/credentials/{id}/status",
    )
    if idempotency.replay:
        _replayed(response)
        return _change_out(session, idempotency.replay[0])
    changed = change_status(session, context, credential_id, body)
    idempotency.settle(session, [changed.credential.id])
    return StatusChangedOut(
        credential=document_of(changed.credential),
        state=changed.state.value,
        leaf_index=changed.leaf_index,
        tree_size=changed.log.size,
        checkpoint=changed.log.checkpoint,
    )


def _change_out(session: Session, change_id: str) -> StatusChangedOut:
    row = get_credential(session, change_id)
    stored = session.get(StatusChangeRow, change_id)
    entry = entry_of(session, change_id)
    if entry is None:
        raise LookupError(f"status change {change_id} is in no log")
    index = entry.leaf_index
    size, note = _checkpoint_for(session, row.issuer_code, index)
    return StatusChangedOut(
        credential=document_of(row),
        state=stored.state_after if stored else "",
        leaf_index=index,
        tree_size=size,
        checkpoint=note,
    )


@router.get(
    "/{credential_id}",
    summary="A credential and its current state",
    responses=problem_responses((404, "No such credential.")),
)
def read(session: DbSession, credential_id: _CredentialId) -> CredentialOut:
    """The signed credential as issued, its index in its authority's log, and, for a
    record, its current state, the record it corrects or that corrects it, and its
    status changes, oldest first. Public: records carry no ID number in clear.
    """
    view = credential_view(session, credential_id)
    return CredentialOut(
        credential=view.credential,
        type=view.type,
        authority=view.authority,
        leaf_index=view.leaf_index,
        state=view.state,
        replaces=view.replaces,
        replaced_by=view.replaced_by,
        changes=[
            ChangeOut(
                id=c.id,
                action=c.action,
                state_before=c.state_before,
                state_after=c.state_after,
                effective_on=c.effective_on,
            )
            for c in view.changes
        ],
    )


@router.get(
    "/{credential_id}/proof",
    summary="An offline proof that a credential is logged",
    responses=problem_responses((404, "No such credential, or not logged.")),
)
def proof(session: DbSession, credential_id: _CredentialId) -> ProofBundleOut:
    """The signed credential, its `leafIndex` in its authority's log, the `treeSize`, the
    `inclusionProof` (standard base64) and the signed `checkpoint` that commits to them:
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
        inclusion_proof=[base64.b64encode(h).decode("ascii") for h in bundle.hashes],
        checkpoint=bundle.checkpoint,
    )


@router.get(
    "/{credential_id}/qr",
    summary="A QR code naming the credential, its authority and its digest",
    response_class=Response,
    responses={
        200: {
            "description": (
                "The code as SVG or PNG. It carries 100 bytes of text, "
                "`YRD1 <authority> <credential id> <digest>` (the digest: SHA-256 of the "
                "credential's canonical bytes, base64url), which the text header "
                "`X-QR-Text` repeats. `registry verify FILE --qr TEXT` checks a "
                "credential against it."
            ),
            "content": {"image/svg+xml": {}, "image/png": {}},
        },
        **problem_responses((404, "No such credential."), (422, "An unknown format.")),
    },
)
def qr_code(
    session: DbSession,
    credential_id: _CredentialId,
    image_format: Annotated[
        Literal["svg", "png"], Query(alias="format", description="`svg` or `png`.")
    ] = "svg",
) -> Response:
    """A QR code to print on a certificate: whoever scans it can fetch the credential
    from any node and check it is the very one the code names. Public."""
    row = get_credential(session, credential_id)
    payload = QrPayload(row.issuer_code, row.id, row.digest)
    media = "image/svg+xml" if image_format == "svg" else "image/png"
    return Response(
        qr_image(payload, image_format),
        media_type=media,
        headers={
            "X-QR-Text": payload.text(),
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )
