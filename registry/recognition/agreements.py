"""Proposing, signing, publishing and terminating recognition agreements.

A proposal is the unsigned agreement credential kept while the parties add their
proofs (``sign``). Publishing verifies it as any verifier would
(``verify_agreement``: every party signed with a key allowed for agreements),
stores it and appends it to the proposer's log. Any party may terminate it: a
signed ``StatusChange`` in that party's log, effective from a day not yet past, from
which the agreement no longer counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from registry.authorities import database_keys, get_authority, own_signer
from registry.calendar import china_today
from registry.credentials import CredentialType, authority_of, new_credential
from registry.crypto.eddsa_jcs_2022 import add_proof, proofs_of, with_proofs
from registry.crypto.jcs import canonical_bytes
from registry.crypto.keys import KeyStore
from registry.errors import Conflict, FieldError, InvalidInput, NotFound
from registry.issuing.context import IssuingContext
from registry.issuing.signing import sign_and_log
from registry.recognition.coverage import Agreement
from registry.recognition.document import (
    agreement_document,
    parse_agreement,
    signers_of,
    verify_agreement,
)
from registry.storage.credentials import insert_signed
from registry.storage.models import (
    AgreementProposal,
    LogEntry,
    RecognitionAgreementRow,
    StoredCredential,
)
from registry.text import check_text
from registry.tlog.sequencer import append

__all__ = [
    "PublishedAgreement",
    "get_agreement",
    "get_proposal",
    "in_force",
    "load_agreements",
    "merge",
    "proposal_document",
    "propose",
    "publish",
    "sign",
    "sign_document",
    "terminate",
]


@dataclass(frozen=True)
class PublishedAgreement:
    """A published agreement: what it states (with any termination), and its credential
    (shared and read-only: copy it before changing anything)."""

    agreement: Agreement
    credential: dict[str, Any]
    issuer: str
    termination_id: str | None
    canonical: str
    leaf_index: int | None = None


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)


def propose(
    session: Session, agreement: Agreement, *, proposer: str, now: datetime | None = None
) -> AgreementProposal:
    """Draft ``agreement`` as a credential issued by ``proposer`` and open it for proofs.

    Raises ``InvalidInput`` (the proposer is not a party, a party is not an authority
    this node knows, the basis is missing) or ``Conflict`` (the id is taken). The
    caller commits.
    """
    now = _now(now)
    for party in sorted(agreement.parties):
        get_authority(session, party)
    document = agreement_document(agreement, proposer=proposer, created=now)
    if session.get(AgreementProposal, agreement.id) or session.get(StoredCredential, agreement.id):
        raise Conflict(f"an agreement {agreement.id} exists already")
    row = AgreementProposal(
        id=agreement.id,
        proposer=authority_of(document["issuer"]),
        state="open",
        document=canonical_bytes(document).decode("utf-8"),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_proposal(
    session: Session, agreement_id: str, *, for_update: bool = False
) -> AgreementProposal:
    """The proposal with that id; raises ``NotFound``."""
    query = select(AgreementProposal).where(col(AgreementProposal.id) == agreement_id)
    if for_update:
        query = query.with_for_update()
    row = session.exec(query).first()
    if row is None:
        raise NotFound(f"no proposed agreement {agreement_id}")
    return row


def proposal_document(row: AgreementProposal) -> dict[str, Any]:
    """The proposal's credential with the proofs gathered so far."""
    value = json.loads(row.document)
    if not isinstance(value, dict):
        raise InvalidInput("a stored proposal is not a JSON object")
    return value


def _open(session: Session, agreement_id: str) -> AgreementProposal:
    row = get_proposal(session, agreement_id, for_update=True)
    if row.state != "open":
        raise Conflict(f"the agreement {agreement_id} is {row.state}, not open for signatures")
    return row


def sign_document(
    session: Session,
    key_store: KeyStore,
    document: dict[str, Any],
    party: str,
    *,
    now: datetime | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Add ``party``'s proof to a proposed agreement (this node's proposal, or a copy
    received from the proposing node), with its newest key this node holds that may
    sign agreements now. Returns the signed document and the parties that have signed
    it so far. Writes nothing.

    Raises ``InvalidInput`` (not a party), ``Conflict`` (signed already) or
    ``KeyStoreError`` (no usable key).
    """
    now = _now(now)
    code = get_authority(session, party).code
    agreement = parse_agreement(document)
    if code not in agreement.parties:
        raise InvalidInput(f"{code} is not a party to the agreement")
    directory = database_keys(session)
    if code in signers_of(document, directory=directory, at=now):
        raise Conflict(f"{code} has signed the agreement already")
    signer = own_signer(
        session,
        key_store,
        code,
        purpose="issuing",
        credential_type=CredentialType.RECOGNITION_AGREEMENT,
        at=now,
    ).signer
    signed = add_proof(document, signer, created=now)
    return signed, signers_of(signed, directory=directory, at=now)


def sign(
    session: Session,
    key_store: KeyStore,
    agreement_id: str,
    party: str,
    *,
    now: datetime | None = None,
) -> list[str]:
    """Add ``party``'s proof to the open proposal (``sign_document``). Returns the
    parties that have signed so far.

    Raises ``NotFound``, what ``sign_document`` raises, or ``Conflict`` (not open, or
    changed meanwhile). The caller commits.
    """
    now = _now(now)
    row = _open(session, agreement_id)
    signed, signers = sign_document(session, key_store, proposal_document(row), party, now=now)
    _save(session, row, signed, now=now)
    return signers


def merge(
    session: Session, agreement_id: str, document: dict[str, Any], *, now: datetime | None = None
) -> list[str]:
    """Add to the open proposal the parties' proofs on a copy signed on their nodes.
    Returns the parties that have signed so far.

    Raises ``NotFound``, ``InvalidInput`` for a copy of another agreement, a
    ``VerificationError`` for a proof that does not verify, and ``Conflict`` as
    ``sign`` does. The caller commits.
    """
    now = _now(now)
    row = _open(session, agreement_id)
    mine = proposal_document(row)
    if canonical_bytes(with_proofs(document, [])) != canonical_bytes(with_proofs(mine, [])):
        raise InvalidInput("the file proposes something else than the open proposal")
    proofs = list(proofs_of(mine))
    combined = with_proofs(mine, proofs + [p for p in proofs_of(document) if p not in proofs])
    signers = signers_of(combined, directory=database_keys(session), at=now)
    _save(session, row, combined, now=now)
    return signers


def _save(
    session: Session, row: AgreementProposal, document: dict[str, Any], *, now: datetime
) -> None:
    # Written only if nobody changed the proposal since it was read: a concurrent
    # signature would otherwise be overwritten and lost.
    before = row.document
    result = session.execute(
        update(AgreementProposal)
        .where(col(AgreementProposal.id) == row.id, col(AgreementProposal.document) == before)
        .values(document=canonical_bytes(document).decode("utf-8"), updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 1) != 1:
        raise Conflict("the agreement changed while it was being signed: sign again")
    session.expire(row)


def publish(
    session: Session, context: IssuingContext, agreement_id: str, *, now: datetime | None = None
) -> PublishedAgreement:
    """Verify the fully signed proposal, store it, and log it in its proposer's log.

    Raises ``AgreementError`` naming the parties yet to sign, ``Conflict`` for a
    demonstration agreement on a node not running the demo (``IssuingContext.demo``),
    and ``NotFound`` or ``Conflict`` as ``sign`` does. The caller commits.
    """
    now = _now(now)
    row = _open(session, agreement_id)
    document = proposal_document(row)
    directory = database_keys(session)
    agreement = verify_agreement(document, directory=directory, at=now)
    if agreement.demonstration and not context.demo:
        raise Conflict(
            f"the agreement {agreement_id} is a demonstration (it cites a synthetic "
            "document): only a node running the demo (REGISTRY_DEMO, registry serve "
            "--demo) publishes one"
        )
    canonical = canonical_bytes(document)
    signers = signers_of(document, directory=directory, at=now)
    method = str(proofs_of(document)[signers.index(row.proposer)]["verificationMethod"])
    insert_signed(
        session,
        [document],
        canonicals=[canonical],
        kinds=[CredentialType.RECOGNITION_AGREEMENT],
        authority=row.proposer,
        verification_methods=[method],
        subject_lookups=[None],
        now=now,
    )
    append(
        session,
        context.key_store,
        row.proposer,
        [(agreement.id, canonical)],
        origin_prefix=context.origin_prefix,
        now=now,
    )
    session.add(
        RecognitionAgreementRow(
            credential_id=agreement.id,
            issuer_code=row.proposer,
            effective_from=agreement.valid_from,
            effective_until=agreement.valid_until,
            published_at=now,
        )
    )
    row.state = "published"
    row.updated_at = now
    session.add(row)
    session.flush()
    return PublishedAgreement(agreement, document, row.proposer, None, canonical.decode("utf-8"))


def terminate(
    session: Session,
    context: IssuingContext,
    agreement_id: str,
    *,
    by: str,
    effective_on: date,
    reason: str,
    decision_number: str,
    now: datetime | None = None,
) -> PublishedAgreement:
    """End a published agreement from ``effective_on`` by a ``StatusChange`` that the
    terminating party signs and logs.

    The day may not be past (what was verified under the agreement stays verified)
    nor before the agreement's first day. Raises ``NotFound``, ``InvalidInput`` or
    ``Conflict`` (terminated already). The caller commits.
    """
    now = _now(now)
    code = get_authority(session, by).code
    row = session.exec(
        select(RecognitionAgreementRow)
        .where(col(RecognitionAgreementRow.credential_id) == agreement_id)
        .with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no published agreement {agreement_id}")
    published = _published(session, row)
    if code not in published.agreement.parties:
        raise InvalidInput(f"only a party terminates an agreement; {code} is not one")
    if row.terminated_on is not None:
        raise Conflict(f"the agreement was terminated already, from {row.terminated_on}")
    problems = []
    if effective_on < china_today(now):
        problems.append(FieldError("effective_on", f"{effective_on} is past"))
    if effective_on < row.effective_from:
        problems.append(FieldError("effective_on", "precedes the agreement's first day"))
    if not reason.strip() or not decision_number.strip():
        problems.append(FieldError("reason", "a termination states its reason and decision"))
    checked: dict[str, str] = {}
    for field, value in (("reason", reason), ("decision_number", decision_number)):
        try:
            checked[field] = check_text(value.strip(), "text", field=field)
        except InvalidInput as exc:
            problems.extend(exc.errors)
    if problems:
        raise InvalidInput("the termination cannot take effect as asked", errors=tuple(problems))
    document = new_credential(
        type_=CredentialType.STATUS_CHANGE,
        issuer_code=code,
        subject={
            "id": agreement_id,
            "credentialType": CredentialType.RECOGNITION_AGREEMENT,
            "action": "terminate",
            "previousState": "in-force",
            "state": "terminated",
            "reason": checked["reason"],
            "decisionNumber": checked["decision_number"],
            "effectiveOn": effective_on.isoformat(),
        },
        valid_from=now,
    )
    issued = sign_and_log(
        session, context.key_store, [document], origin_prefix=context.origin_prefix, now=now
    )
    row.terminated_on = effective_on
    row.termination_id = issued.credentials[0].id
    session.add(row)
    session.flush()
    return _published(session, row)


@lru_cache(maxsize=1024)
def _parsed(canonical: str, terminated_on: date | None) -> tuple[Agreement, dict[str, Any]]:
    # Cached: an agreement's credential never changes. The document is shared
    # between callers, who only read it.
    document = json.loads(canonical)
    return parse_agreement(document, terminated_on=terminated_on), document


def _published(session: Session, row: RecognitionAgreementRow) -> PublishedAgreement:
    stored = session.get(StoredCredential, row.credential_id)
    if stored is None:
        raise NotFound(f"the credential of agreement {row.credential_id} is missing")
    agreement, document = _parsed(stored.canonical, row.terminated_on)
    return PublishedAgreement(
        agreement, document, row.issuer_code, row.termination_id, stored.canonical
    )


def load_agreements(session: Session) -> list[PublishedAgreement]:
    """Every published agreement with its termination, if any, oldest first."""
    rows = session.exec(
        select(RecognitionAgreementRow, StoredCredential.canonical, LogEntry.leaf_index)
        .join(
            StoredCredential,
            col(StoredCredential.id) == col(RecognitionAgreementRow.credential_id),
        )
        .outerjoin(
            LogEntry, col(LogEntry.credential_id) == col(RecognitionAgreementRow.credential_id)
        )
        .order_by(col(RecognitionAgreementRow.effective_from), col(StoredCredential.id))
    ).all()
    found = []
    for row, canonical, leaf_index in rows:
        agreement, document = _parsed(canonical, row.terminated_on)
        found.append(
            PublishedAgreement(
                agreement, document, row.issuer_code, row.termination_id, canonical, leaf_index
            )
        )
    return found


def get_agreement(session: Session, agreement_id: str) -> PublishedAgreement:
    """A published agreement; raises ``NotFound``."""
    row = session.get(RecognitionAgreementRow, agreement_id)
    if row is None:
        raise NotFound(f"no published agreement {agreement_id}")
    return _published(session, row)


def in_force(agreements: Iterable[PublishedAgreement], on: date) -> list[PublishedAgreement]:
    """Those in force on ``on``: begun, not past their last day, not terminated."""
    return [a for a in agreements if a.agreement.not_in_force(on) is None]
