"""The ``RecognitionAgreement`` credential: how an agreement is written, read and verified.

An agreement is a W3C VC 2.0 credential issued by the party that proposed it and
carrying a proof set: one ``eddsa-jcs-2022`` proof by each party, with a key the
trust list allows to sign ``RecognitionAgreement``. It takes effect only when every
party has signed. Its subject::

    {
      "parties": ["CN-JS", "CN-SH"],          sorted, two or more
      "direction": "mutual" | "one-way",
      "source": "CN-JS", "target": "CN-SH",   one-way only
      "scope": {"kinds": [...], "levels": ["junior"], "categories": [...]},
      "effectiveFrom": "2021-01-01",
      "effectiveUntil": "2030-12-31",         optional: its last day in force
      "legalBasis": {"documentNumber": "...", "title": "..."},
      "demonstration": true                   the demo's only (absent otherwise)
    }

``categories`` absent means every category. A termination is a separate signed
``StatusChange`` (see ``registry.recognition.agreements``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from registry.credentials import CredentialType, authority_of, credential_type, new_credential
from registry.credentials.keys import KeyDirectory, verify_signed
from registry.crypto.eddsa_jcs_2022 import proofs_of
from registry.errors import AgreementError, InvalidInput, RegistryError, VerificationError
from registry.ids import parse_category, province
from registry.recognition.coverage import Agreement, Direction, RecordKind
from registry.text import check_text

__all__ = [
    "LEVELS",
    "agreement_document",
    "parse_agreement",
    "signers_of",
    "verify_agreement",
]


_SUBJECT = frozenset(
    {
        "parties",
        "direction",
        "source",
        "target",
        "scope",
        "effectiveFrom",
        "effectiveUntil",
        "legalBasis",
        "demonstration",
    }
)
_SCOPE = frozenset({"kinds", "levels", "categories"})
_BASIS = frozenset({"documentNumber", "title"})
LEVELS = frozenset({"junior"})


def agreement_document(agreement: Agreement, *, proposer: str, created: datetime) -> dict[str, Any]:
    """The unsigned credential stating ``agreement``, issued by ``proposer`` (a party).

    The credential's id is the agreement's id. Raises ``InvalidInput`` if the
    proposer is not a party, or the legal basis is missing or holds a character
    text cannot (``registry.text``).
    """
    proposer = province(proposer).iso
    if proposer not in agreement.parties:
        raise InvalidInput(f"{proposer} proposes only agreements it is a party to")
    if not agreement.basis_number.strip() or not agreement.basis_title.strip():
        raise InvalidInput("an agreement states its legal basis: document number and title")
    basis_number = check_text(agreement.basis_number.strip(), "text", field="basis_number")
    basis_title = check_text(agreement.basis_title.strip(), "text", field="basis_title")
    scope: dict[str, Any] = {
        "kinds": sorted(k.value for k in agreement.kinds),
        "levels": sorted(agreement.levels),
    }
    if agreement.categories is not None:
        scope["categories"] = sorted(c.value for c in agreement.categories)
    subject: dict[str, Any] = {
        "parties": sorted(agreement.parties),
        "direction": agreement.direction.value,
        "scope": scope,
        "effectiveFrom": agreement.valid_from.isoformat(),
        "legalBasis": {
            "documentNumber": basis_number,
            "title": basis_title,
        },
    }
    if agreement.direction is Direction.ONE_WAY:
        subject["source"] = agreement.source
        subject["target"] = agreement.target
    if agreement.valid_until is not None:
        subject["effectiveUntil"] = agreement.valid_until.isoformat()
    if agreement.demonstration:
        # Said only when true: a real agreement's form is as it always was.
        subject["demonstration"] = True
    return new_credential(
        type_=CredentialType.RECOGNITION_AGREEMENT,
        issuer_code=proposer,
        subject=subject,
        valid_from=created,
        credential_id=agreement.id,
    )


def parse_agreement(document: Mapping[str, Any], *, terminated_on: date | None = None) -> Agreement:
    """What an agreement credential states (proofs aside); raises ``AgreementError``
    for anything missing, unknown or inconsistent."""
    try:
        return _parse(document, terminated_on)
    except VerificationError:
        raise
    except (RegistryError, ValueError, TypeError, KeyError) as exc:
        message = exc.message if isinstance(exc, RegistryError) else str(exc)
        raise AgreementError(f"not a valid recognition agreement: {message}") from exc


def _parse(document: Mapping[str, Any], terminated_on: date | None) -> Agreement:
    if credential_type(document) != CredentialType.RECOGNITION_AGREEMENT:
        raise AgreementError("the credential is not a RecognitionAgreement")
    identifier = document.get("id")
    if not isinstance(identifier, str) or not identifier:
        raise AgreementError("the agreement has no id")
    issuer = authority_of(document.get("issuer"))
    subject = document.get("credentialSubject")
    if not isinstance(subject, Mapping):
        raise AgreementError("credentialSubject must be an object")
    _only(subject, _SUBJECT, "credentialSubject")
    parties = subject["parties"]
    if not isinstance(parties, list) or parties != sorted(set(parties)):
        raise AgreementError("parties must be a sorted list of distinct authority codes")
    codes = [province(p).iso for p in parties]
    if codes != parties:
        raise AgreementError("parties are named by their ISO 3166-2 codes")
    if issuer not in parties:
        raise AgreementError(f"the issuer {issuer} is not a party")
    scope = subject["scope"]
    if not isinstance(scope, Mapping):
        raise AgreementError("scope must be an object")
    _only(scope, _SCOPE, "scope")
    kinds = frozenset(RecordKind(k) for k in _strings(scope["kinds"], "scope.kinds"))
    levels = frozenset(_strings(scope["levels"], "scope.levels"))
    if not levels <= LEVELS:
        raise AgreementError(f"unknown levels {sorted(levels - LEVELS)}")
    categories = None
    if "categories" in scope:
        categories = frozenset(
            parse_category(c) for c in _strings(scope["categories"], "scope.categories")
        )
    basis = subject["legalBasis"]
    if not isinstance(basis, Mapping):
        raise AgreementError("legalBasis must be an object")
    _only(basis, _BASIS, "legalBasis")
    until = subject.get("effectiveUntil")
    demonstration = subject.get("demonstration", False)
    if demonstration is not True and "demonstration" in subject:
        raise AgreementError("demonstration is true where present")
    return Agreement(
        id=identifier,
        parties=frozenset(parties),
        direction=Direction(subject["direction"]),
        kinds=kinds,
        levels=levels,
        valid_from=date.fromisoformat(_string(subject["effectiveFrom"], "effectiveFrom")),
        valid_until=date.fromisoformat(_string(until, "effectiveUntil")) if until else None,
        categories=categories,
        source=subject.get("source"),
        target=subject.get("target"),
        terminated_on=terminated_on,
        basis_number=_string(basis["documentNumber"], "legalBasis.documentNumber"),
        basis_title=_string(basis["title"], "legalBasis.title"),
        demonstration=demonstration,
    )


def _only(value: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise AgreementError(f"{where} has unknown fields {unknown}")


def _string(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AgreementError(f"{name} must be a non-empty string")
    return value


def _strings(value: object, name: str) -> list[str]:
    if not isinstance(value, list) or not value:
        raise AgreementError(f"{name} must be a non-empty list")
    if len(set(map(str, value))) != len(value):
        raise AgreementError(f"{name} repeats a value")
    return [_string(item, name) for item in value]


def signers_of(
    document: Mapping[str, Any],
    *,
    directory: KeyDirectory,
    at: datetime,
    logged_at: datetime | None = None,
    needs_log: bool = False,
) -> list[str]:
    """The parties whose proofs on ``document`` verify so far, in proof order.

    ``logged_at`` and ``needs_log`` are as for ``registry.credentials.keys.key_standing``
    (a published agreement is in its proposer's log). Raises a ``VerificationError``
    for a proof that does not verify, a proof by a key that may not sign agreements,
    by a non-party, or a party signing twice.
    """
    agreement = parse_agreement(document)
    signers: list[str] = []
    for index, proof in enumerate(proofs_of(document), start=1):
        try:
            _, key = verify_signed(
                document,
                proof,
                directory=directory,
                credential_type=CredentialType.RECOGNITION_AGREEMENT,
                at=at,
                logged_at=logged_at,
                needs_log=needs_log,
            )
        except VerificationError as exc:
            raise type(exc)(f"proof {index}: {exc.reason}") from exc
        if key.authority not in agreement.parties:
            raise AgreementError(f"proof {index} is by {key.authority}, not a party")
        if key.authority in signers:
            raise AgreementError(f"{key.authority} signed the agreement twice")
        signers.append(key.authority)
    return signers


def verify_agreement(
    document: Mapping[str, Any],
    *,
    directory: KeyDirectory,
    at: datetime,
    terminated_on: date | None = None,
    logged_at: datetime | None = None,
    needs_log: bool = False,
) -> Agreement:
    """Verify a fully signed agreement and return what it states.

    Steps: 1. the document states a valid agreement; 2. every proof verifies with a
    key ``directory`` lists as allowed to sign agreements at the proof's time (for a
    logged agreement, ``logged_at`` and ``needs_log`` as ``signers_of`` takes them);
    3. every party, and nobody else, signed. Raises ``AgreementError`` naming the
    parties whose proof is missing, or the failing proof's ``VerificationError``.
    """
    # 1.-2. The statement and each proof.
    signers = (
        signers_of(document, directory=directory, at=at, logged_at=logged_at, needs_log=needs_log)
        if proofs_of(document)
        else []
    )
    agreement = parse_agreement(document, terminated_on=terminated_on)
    # 3. Every party.
    missing = sorted(agreement.parties - set(signers))
    if missing:
        raise AgreementError(
            f"the agreement takes effect only when every party signs: missing {', '.join(missing)}"
        )
    return agreement
