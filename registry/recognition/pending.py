"""Recognition agreements proposed and still open for the parties' signatures: what
each would agree, who has signed it, and who has yet to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from registry.authorities import database_keys
from registry.errors import NotFound, RegistryError
from registry.recognition.agreements import proposal_document
from registry.recognition.coverage import Agreement
from registry.recognition.document import parse_agreement, signers_of
from registry.storage.models import AgreementProposal

__all__ = ["PendingAgreement", "pending_agreement", "pending_agreements"]


@dataclass(frozen=True)
class PendingAgreement:
    """An open proposal: the agreement it states, its proposer, when it was proposed,
    the parties whose proofs verify (in proof order) and those yet to sign (in code
    order). ``problem`` says why the proofs could not be read, if they could not:
    then no one counts as having signed."""

    agreement: Agreement
    proposer: str
    proposed_at: datetime
    signers: tuple[str, ...]
    missing: tuple[str, ...]
    problem: str | None = None

    @property
    def complete(self) -> bool:
        """Whether every party has signed: it can be published."""
        return not self.missing and self.problem is None


def _pending(session: Session, row: AgreementProposal, at: datetime) -> PendingAgreement:
    document = proposal_document(row)
    agreement = parse_agreement(document)
    problem = None
    try:
        signers = tuple(signers_of(document, directory=database_keys(session), at=at))
    except RegistryError as exc:
        signers, problem = (), exc.message
    missing = tuple(sorted(agreement.parties - set(signers)))
    return PendingAgreement(agreement, row.proposer, row.created_at, signers, missing, problem)


def pending_agreements(session: Session, *, at: datetime) -> list[PendingAgreement]:
    """Every proposal open for signatures, oldest first, as it stands at ``at``."""
    rows = session.exec(
        select(AgreementProposal)
        .where(col(AgreementProposal.state) == "open")
        .order_by(col(AgreementProposal.created_at), col(AgreementProposal.id))
    ).all()
    return [_pending(session, row, at) for row in rows]


def pending_agreement(session: Session, agreement_id: str, *, at: datetime) -> PendingAgreement:
    """The open proposal ``agreement_id``; raises ``NotFound`` for any other id (a
    proposal published or withdrawn is no longer pending)."""
    row = session.get(AgreementProposal, agreement_id)
    if row is None or row.state != "open":
        raise NotFound(f"no agreement {agreement_id} is open for signatures")
    return _pending(session, row, at)
