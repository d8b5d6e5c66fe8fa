"""Issuing records, changing their state, reading them, and proving they are logged."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response

from api.auth import require_caller, require_role
from api.batch import batch_body, batch_of
from api.deps import DbSession, Issuing, Singles
from api.errors import problem_responses
from api.examples import batch_examples, record_examples, status_change_examples
from api.limits import ISSUE_BATCH_BODY, JSON_BODY, GatedRoute, body_limit, too_large
from api.openapi import named_body
from api.schemas.common import ProofBundleOut
from api.schemas.records import (
    BatchIn,
    BatchIssuedOut,
    ChangeOut,
    CredentialOut,
    DisclosureOut,
    DisclosuresOut,
    IssuedOut,
    StatusChangedOut,
)
from registry.calendar import china_today
from registry.credentials.lifecycle import StatusChangeIn
from registry.credentials.records import RecordIn
from registry.enforcement.audit import criteria_hash, record_access
from registry.errors import NotFound
from registry.issuing import IssueAnswer, change_once, credential_view, issue_once
from registry.issuing.disclosures import HeldDisclosure, read_disclosures
from registry.issuing.idempotency import Single
from registry.issuing.receipts import Issuer
from registry.storage.credentials import document_of, get_credential
from registry.tokens import Caller
from registry.trust.store import current_version
from registry.verification.qr import QrPayload, qr_image
from registry.verification.witnessed import witnessed_bundle

__all__ = ["router"]

router = APIRouter(prefix="/v1/credentials", tags=["credentials"], route_class=GatedRoute)

_ISSUER = Depends(require_role("issuer:*"))

SINGLE_SCOPE = "POST /v1/credentials"
"""The operation an idempotency key of a single issuance is bound to."""
_IssuerCaller = Annotated[Caller, Depends(require_caller("issuer:*"))]
_PRIVATE = {"Cache-Control": "no-store"}
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
            "the first result instead of issuing again, with `Idempotent-Replayed: true`; "
            "the same key with another body is refused with 422."
        ),
    ),
]
_REPLAYED = {"Idempotent-Replayed": "true"}
_BINARY = {"type": "string", "format": "binary"}
_ERRORS = problem_responses(
    401,
    (403, "Not an issuer of that authority."),
    (409, "The change is not allowed, or a retry races."),
    (422, "Invalid input: every bad field is named."),
    (
        503,
        "The authority's log signs nothing for now (`signing-held`: a peer holds more of "
        "it, or after a restore its peers have not confirmed it yet), or the database is busy.",
    ),
)


def _batch_response(answer: IssueAnswer) -> Response:
    """The batch answer (``BatchIssuedOut``), written around each credential's stored
    canonical JSON instead of parsing and re-serialising ten thousand of them."""
    parts = ",".join(
        f'{{"credential":{item.canonical},"state":{json.dumps(item.state.value)},'
        f'"leaf_index":{item.leaf_index},"status_change":{json.dumps(item.status_change)}}}'
        for item in answer.items
    )
    body = (
        f'{{"tree_size":{answer.tree_size},"checkpoint":{json.dumps(answer.checkpoint)},'
        f'"items":[{parts}],"receipt_id":{json.dumps(answer.receipt_id)}}}'
    )
    headers = _REPLAYED if answer.replayed else None
    return Response(body, status_code=201, media_type="application/json", headers=headers)


@router.post(
    "",
    status_code=201,
    summary="Issue a record",
    openapi_extra=body_limit(JSON_BODY),
    responses={**_ERRORS, **too_large(JSON_BODY)},
)
def issue_one(
    *,
    response: Response,
    singles: Singles,
    item: Annotated[RecordIn, Body(openapi_examples=record_examples(_TODAY))],
    role: Annotated[str, _ISSUER],
    idempotency_key: _IdempotencyKey = None,
) -> IssuedOut:
    """Validate, build, sign (`eddsa-jcs-2022`, the authority's current key for the
    type), append to the authority's log, and return the credential with its leaf
    index and the signed checkpoint that includes it.

    Needs the `issuer:CN-xx` token of the record's `authority`. An ID number is
    signed only as a masked form, a binding whose salt the credential does not carry
    (the person's disclosure: `GET /v1/credentials/{id}/disclosures`) and the
    federation's look-up key; it is never signed or stored in clear.
    A correction names the record it `replaces`; that record is superseded (not
    revoked: a correction is no decision) in the same transaction. A change
    registration names the registration it `changes`, keeps its term and supersedes
    it from its `valid_from`. Registrations follow the registration rules (five years
    after a revocation, one employer at a time, a change keeps the term:
    docs/records.md). Records that can change state carry `credentialStatus` entries in
    the authority's status lists.

    A CE credit the authority already holds in force (the same holder, provider,
    course title and completion date) is refused with 409 naming it, unless the
    request repeats the first one's `Idempotency-Key`.
    """
    answer = singles.issue(
        Single(
            item=item,
            role=role,
            idempotency_key=idempotency_key,
            body_json=item.model_dump(mode="json"),
        )
    )
    if answer.replayed:
        response.headers.update(_REPLAYED)
    (issued,) = answer.items
    return IssuedOut(
        credential=document_of(issued),
        state=issued.state.value,
        leaf_index=issued.leaf_index,
        tree_size=answer.tree_size,
        checkpoint=answer.checkpoint,
        status_change=issued.status_change,
    )


@router.post(
    "/batch",
    status_code=201,
    summary="Issue up to 10,000 records of one authority, all or nothing",
    response_model=BatchIssuedOut,
    openapi_extra={
        **body_limit(ISSUE_BATCH_BODY),
        # Read whole by `batch_of`, which reports every item's problems at once.
        "requestBody": named_body(BatchIn, examples=batch_examples(_TODAY)),
    },
    responses={**_ERRORS, **too_large(ISSUE_BATCH_BODY)},
)
def issue_batch(
    *,
    session: DbSession,
    context: Issuing,
    body: Annotated[Any, Depends(batch_body)],
    caller: _IssuerCaller,
    idempotency_key: _IdempotencyKey = None,
) -> Response:
    """Issue every item, in one transaction and one log append with one checkpoint,
    or none: a rejected batch answers one 422 naming every problem of every item by
    its index, field and reason (`items[3].holder.id_number`), and writes nothing.
    The bad fields come together with what the registry finds wrong with the rest: a
    qualification it does not hold, a record corrected that cannot be, a day in the
    future, and a CE credit the authority already holds in force (the same holder,
    provider, course title and completion date), or that an earlier item repeats, at
    `items[i].course_title`, naming the credential that exists. An item whose fields
    do not all validate is checked on those that do.

    The answer carries the batch's `receipt_id`: the receipt (`GET /v1/imports/{id}`)
    pairs each item's index with the credential it became.
    """
    batch = batch_of(session, context, body, role=caller.role)
    answer = issue_once(
        session,
        context,
        batch.items,
        role=caller.role,
        idempotency_key=idempotency_key,
        scope="POST /v1/credentials/batch",
        body_json=batch.model_dump(mode="json"),
        field_prefix="items",
        receipt_for=Issuer(caller.token_id, caller.name, caller.role),
    )
    return _batch_response(answer)


@router.post(
    "/{credential_id}/status",
    status_code=201,
    summary="Change a record's state (a signed StatusChange)",
    openapi_extra=body_limit(JSON_BODY),
    responses={**_ERRORS, **problem_responses((404, "No such record.")), **too_large(JSON_BODY)},
)
def change(
    *,
    response: Response,
    session: DbSession,
    context: Issuing,
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
    allow is refused with 409 and the reason; `effective_on` is not before the
    record's last change.

    A change may be dated ahead, up to a year: it is signed and logged now, and the
    record keeps its state and status-list bits until that day (China time), when the
    state changes and new status-list versions are signed. Verification on a day
    reads the changes effective by then. A record has one scheduled change at a time
    (another is refused with 409, naming it); `cancel-scheduled` (dated today or
    earlier) cancels it with a signed StatusChange of its own before its day, and is
    refused with 409 from that day on.
    """
    answer = change_once(
        session,
        context,
        credential_id,
        body,
        role=role,
        idempotency_key=idempotency_key,
        scope="POST /v1/credentials/{id}/status",
        body_json={"id": credential_id, **body.model_dump(mode="json")},
    )
    if answer.replayed:
        response.headers.update(_REPLAYED)
    return StatusChangedOut(
        credential=document_of(answer),
        state=answer.state.value,
        leaf_index=answer.leaf_index,
        tree_size=answer.tree_size,
        checkpoint=answer.checkpoint,
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
        scheduled_change=view.scheduled_change,
        replaces=view.replaces,
        replaced_by=view.replaced_by,
        changes=[ChangeOut.of(c) for c in view.changes],
    )


@router.get(
    "/{credential_id}/proof",
    summary="An offline proof that a credential is logged",
    responses=problem_responses((404, "No such credential, or not logged.")),
)
def proof(session: DbSession, credential_id: _CredentialId) -> ProofBundleOut:
    """The signed credential, its `leafIndex` in its authority's log, the `treeSize`, the
    `inclusionProof` (standard base64) and the signed `checkpoint` that commits to them,
    with its witnesses' cosignatures: everything needed to check, without this server,
    that the credential is logged. The leaf is the credential's canonical (RFC 8785)
    bytes. The checkpoint is the log's newest *witnessed* one that includes the
    credential (cosigned by the trust list's witness policy); until one is, the newest
    checkpoint, with `witnessed` false, which `registry verify` refuses: ask again
    once the witnesses have cosigned (normally within a second).
    """
    row = get_credential(session, credential_id)
    current = current_version(session)
    bundle, found = witnessed_bundle(
        session, current.content if current is not None else None, row.id
    )
    return ProofBundleOut(
        credential=document_of(row),
        authority=bundle.authority,
        leaf_index=bundle.leaf_index,
        tree_size=bundle.tree_size,
        inclusion_proof=[base64.b64encode(h).decode("ascii") for h in bundle.hashes],
        checkpoint=bundle.checkpoint,
        witnessed=found is not None and found.witnessed,
        cosignatures=len(found.cosigners) if found is not None else 0,
        cosignatures_required=found.required if found is not None else None,
    )


@router.get(
    "/{credential_id}/qr",
    summary="A QR code naming the credential, its authority and its digest",
    response_class=Response,
    responses={
        200: {
            "description": (
                "The code as SVG or PNG. It carries the address of the credential's page "
                "on this node, `<node>/c/<credential id>#a=<authority>&h=<digest>` (the "
                "digest: SHA-256 of the credential's canonical bytes, base64url, in the "
                "fragment, which browsers never send), which the header `X-QR-Text` "
                "repeats. A phone opens it as a link; the page checks the credential in "
                "the browser. `registry verify FILE --qr TEXT` checks a credential "
                "against it."
            ),
            "content": {"image/svg+xml": {"schema": _BINARY}, "image/png": {"schema": _BINARY}},
        },
        **problem_responses((404, "No such credential."), (422, "An unknown format.")),
    },
)
def qr_code(
    request: Request,
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
    node_url = request.app.state.settings.node_url
    return Response(
        qr_image(payload, image_format, node_url=node_url),
        media_type=media,
        headers={
            "X-QR-Text": payload.url(node_url),
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )


_DISCLOSURE_ERRORS = problem_responses(
    401,
    (403, "Not the issuer of this credential's authority."),
    (404, "No such credential on this node, or no such person in it."),
)


def _disclosures(
    session: DbSession, issuing: Issuing, caller: Caller, credential_id: str
) -> list[tuple[HeldDisclosure, QrPayload]]:
    """Each person's disclosure and the QR code of their certificate, the reading
    recorded in the access audit."""
    held = read_disclosures(session, issuing.seal, credential_id, caller=caller)
    record_access(
        session,
        caller,
        action="disclosure",
        criteria=criteria_hash(
            {"by": "credential", "id": credential_id}, node_secret=issuing.node_secret
        ),
        rows=1,
        results=len(held),
        now=dt.datetime.now(dt.UTC),
    )
    row = get_credential(session, credential_id)
    return [(h, QrPayload(row.issuer_code, row.id, row.digest, h.salt)) for h in held]


@router.get(
    "/{credential_id}/disclosures",
    summary="The disclosures of the people a credential names, for their certificates",
    response_model=DisclosuresOut,
    responses=_DISCLOSURE_ERRORS,
)
def disclosures(
    request: Request,
    session: DbSession,
    issuing: Issuing,
    caller: _IssuerCaller,
    credential_id: _CredentialId,
) -> Response:
    """For the issuing authority only (`issuer:<its authority>`): each person's
    disclosure, the salt of their binding that the credential does not carry, to print
    on their certificate and in its QR code. Without it, nothing in a credential can
    be tested against a guessed ID number. Each call is recorded in the access audit
    (action `disclosure`); the answer is never cached."""
    answer = DisclosuresOut(
        credential_id=credential_id,
        disclosures=[
            DisclosureOut(
                position=h.position,
                role=h.role,
                name=h.name,
                masked=h.masked,
                disclosure=h.text,
                qr_text=code.url(request.app.state.settings.node_url),
            )
            for h, code in _disclosures(session, issuing, caller, credential_id)
        ],
    )
    return Response(answer.model_dump_json(), media_type="application/json", headers=_PRIVATE)


@router.get(
    "/{credential_id}/disclosures/{position}/qr",
    summary="The QR code of a person's own certificate, carrying their disclosure",
    response_class=Response,
    responses={
        200: {
            "description": (
                "The code as SVG or PNG, carrying the address of the credential's page "
                "with the person's disclosure in the fragment, "
                "`<node>/c/<credential id>#a=<authority>&h=<digest>&d=<disclosure>`, "
                "which `X-QR-Text` does not repeat: it is the person's alone."
            ),
            "content": {"image/svg+xml": {"schema": _BINARY}, "image/png": {"schema": _BINARY}},
        },
        **_DISCLOSURE_ERRORS,
        **problem_responses((422, "An unknown format.")),
    },
)
def holder_qr_code(
    request: Request,
    *,
    session: DbSession,
    issuing: Issuing,
    caller: _IssuerCaller,
    credential_id: _CredentialId,
    position: Annotated[int, Path(ge=0, le=1000, description="The person's `position`.")],
    image_format: Annotated[
        Literal["svg", "png"], Query(alias="format", description="`svg` or `png`.")
    ] = "svg",
) -> Response:
    """For the issuing authority only, like `GET /v1/credentials/{id}/disclosures`, and
    recorded in the access audit the same way: the QR code to print on the certificate
    of the person at `position`."""
    held = _disclosures(session, issuing, caller, credential_id)
    payload = next((code for h, code in held if h.position == position), None)
    if payload is None:
        raise NotFound(f"{credential_id} names no person at position {position}")
    media = "image/svg+xml" if image_format == "svg" else "image/png"
    node_url = request.app.state.settings.node_url
    image = qr_image(payload, image_format, node_url=node_url)
    return Response(image, media_type=media, headers=_PRIVATE)
