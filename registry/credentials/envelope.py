"""The W3C VC 2.0 envelope shared by every record the registry signs."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from registry.crypto.eddsa_jcs_2022 import format_datetime
from registry.errors import InvalidInput
from registry.ids import PROVINCES, province

__all__ = [
    "CREDENTIAL_TYPES",
    "VC_CONTEXT",
    "CredentialType",
    "authority_id",
    "authority_of",
    "credential_type",
    "new_credential",
    "new_credential_id",
]

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"


class CredentialType(StrEnum):
    """Every kind of credential the registry signs, by its specific VC ``type``."""

    QUALIFICATION = "SafetyEngineerQualification"
    REGISTRATION = "SafetyEngineerRegistration"
    CE_CREDIT = "ContinuingEducationCredit"
    LISTING = "UntrustworthinessListing"
    STATUS_CHANGE = "StatusChange"
    STATUS_LIST = "BitstringStatusListCredential"
    RECOGNITION_AGREEMENT = "RecognitionAgreement"
    TRUST_LIST = "TrustList"
    VERIFICATION_REPORT = "VerificationReport"


CREDENTIAL_TYPES: tuple[CredentialType, ...] = tuple(CredentialType)
"""Every credential type the registry signs; a key's allowed types come from here."""

_AUTHORITY_PREFIX = "urn:yrd-registry:authority:"
_ISO_CODES = frozenset(p.iso for p in PROVINCES)


def authority_id(code: str) -> str:
    """The issuer identifier of an authority (``urn:yrd-registry:authority:CN-SH``)."""
    return _AUTHORITY_PREFIX + province(code).iso


def authority_of(issuer: object) -> str:
    """The authority code named by a credential's ``issuer`` (a string or ``{"id": ...}``).

    Raises ``InvalidInput`` if the issuer is not a registry authority.
    """
    issuer_id = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    if isinstance(issuer_id, str) and issuer_id.startswith(_AUTHORITY_PREFIX):
        code = issuer_id[len(_AUTHORITY_PREFIX) :]
        # Only the canonical spelling: one authority, one issuer id.
        if code.startswith("CN-") and code in _ISO_CODES:
            return code
    raise InvalidInput(f"issuer {issuer_id!r} is not a registry authority")


def credential_type(document: Mapping[str, Any]) -> CredentialType:
    """The registry type of a credential: its one type besides ``VerifiableCredential``.

    Raises ``InvalidInput`` for a document that is not one of the registry's types.
    """
    types = document.get("type")
    if not isinstance(types, list) or "VerifiableCredential" not in types:
        raise InvalidInput("type must be a list containing VerifiableCredential")
    specific = [t for t in types if t != "VerifiableCredential"]
    if len(specific) != 1 or specific[0] not in CREDENTIAL_TYPES:
        raise InvalidInput(f"unknown credential type {specific!r}")
    return CredentialType(specific[0])


def new_credential_id() -> str:
    """A fresh credential id: ``urn:uuid:`` and a UUID of version 7 (RFC 9562 §5.7),
    the Unix time in milliseconds followed by 74 random bits.

    Time-ordered, so that each table and index keyed by credential id (the
    credentials, log entries, records and their parties, on the issuing node and on
    every node mirroring its log) grows at its end as records are issued, instead of
    writing a random page of an ever larger index for each one; the random bits keep
    an id from being guessed. The time it carries is the record's issuing, which the
    credential states anyway."""
    value = (time.time_ns() // 1_000_000 & (1 << 48) - 1) << 80
    value |= int.from_bytes(secrets.token_bytes(10)) & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76  # version 7
    value = value & ~(0x3 << 62) | 0x2 << 62  # variant 10 (RFC 9562)
    return f"urn:uuid:{uuid.UUID(int=value)}"


def new_credential(
    *,
    type_: str,
    issuer_code: str,
    subject: Mapping[str, Any],
    valid_from: datetime,
    valid_until: datetime | None = None,
    credential_id: str | None = None,
) -> dict[str, Any]:
    """An unsigned VC 2.0 credential of a registry type, with a fresh ``urn:uuid`` id
    (``new_credential_id``)."""
    if type_ not in CREDENTIAL_TYPES:
        raise InvalidInput(f"unknown credential type {type_!r}")
    document: dict[str, Any] = {
        "@context": [VC_CONTEXT],
        "id": credential_id or new_credential_id(),
        # A plain str: the canonical form's fast path takes exact strings only.
        "type": ["VerifiableCredential", str(type_)],
        "issuer": authority_id(issuer_code),
        "validFrom": format_datetime(valid_from),
        "credentialSubject": dict(subject),
    }
    if valid_until is not None:
        document["validUntil"] = format_datetime(valid_until)
    return document
