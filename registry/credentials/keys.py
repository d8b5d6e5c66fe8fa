"""Which key speaks for which authority, for which records, and when.

Every verifier in the registry asks one question of a signature: was the key behind
this verification method allowed to sign this kind of record for this authority at
the time it signed? ``key_standing`` answers it, from any ``KeyDirectory``: the
database's record of the node's keys, or a trust-list version. ``verify_signed``
checks a proof and then asks that question, so no verifier can forget to.

A key is valid at a signing time ``t`` when ``valid_from <= t < valid_until`` (a
retired key stops at ``valid_until``) and it was not reported compromised at or
before ``t``. What it signed before its retirement stays valid; what it signed
before its compromise stays valid where a checkpoint signed before the compromise
includes it (the signing time alone is the key holder's word).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.crypto.eddsa_jcs_2022 import ASSERTION_METHOD, VerifiedProof, verify_proof
from registry.crypto.multikey import decode_public_multikey
from registry.errors import InvalidInput, KeyResolutionError, ProofConfigurationError

__all__ = [
    "CLOCK_SKEW",
    "KeyDirectory",
    "KeyRecord",
    "KeyStanding",
    "key_standing",
    "verify_signed",
]

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a proof's ``created`` may lie before it is refused."""


@dataclass(frozen=True)
class KeyRecord:
    """What is known of one signing key: whose it is, what it may sign, and when."""

    verification_method: str
    authority: str
    public_key_multibase: str
    allowed_types: frozenset[str]
    valid_from: datetime
    valid_until: datetime | None = None
    compromised_since: datetime | None = None
    revocation_reason: str | None = None

    def __post_init__(self) -> None:
        times = (self.valid_from, self.valid_until, self.compromised_since)
        if any(t is not None and t.tzinfo is None for t in times):
            raise InvalidInput("key validity times must carry a time zone")
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise InvalidInput(f"{self.verification_method}: validUntil must follow validFrom")
        if (self.compromised_since is None) != (self.revocation_reason is None):
            raise InvalidInput(
                f"{self.verification_method}: a revocation needs both a time and a reason"
            )

    def public_key(self) -> Ed25519PublicKey:
        """The Ed25519 public key."""
        return decode_public_multikey(self.public_key_multibase)


KeyDirectory = Callable[[str], KeyRecord | None]
"""Looks a verification method up; ``None`` when the directory does not know it."""


@dataclass(frozen=True)
class KeyStanding:
    """The answer for one verification method at one signing time."""

    verification_method: str
    signed_at: datetime
    record: KeyRecord | None
    problem: str | None

    @property
    def valid(self) -> bool:
        """Whether the key could sign then (and, if one was asked about, that type)."""
        return self.problem is None

    @property
    def authority(self) -> str | None:
        """The authority the key belongs to, if the key is known."""
        return self.record.authority if self.record else None

    @property
    def allowed_types(self) -> frozenset[str]:
        """The credential types the key may sign (empty if unknown)."""
        return self.record.allowed_types if self.record else frozenset()

    def require(self) -> KeyRecord:
        """The key's record; raises ``KeyResolutionError`` with the reason if not valid."""
        if self.record is None or self.problem is not None:
            raise KeyResolutionError(self.problem or f"{self.verification_method} is unknown")
        return self.record


def _problem(
    record: KeyRecord,
    *,
    signed_at: datetime,
    credential_type: str | None,
    authority: str | None,
    logged_at: datetime | None,
    needs_log: bool,
) -> str | None:
    method = record.verification_method
    if authority is not None and record.authority != authority:
        return f"{method} is a key of {record.authority}, not of {authority}"
    if credential_type is not None and credential_type not in record.allowed_types:
        return f"{method} may not sign {credential_type}"
    moment = signed_at.isoformat()
    if signed_at < record.valid_from:
        start = record.valid_from.isoformat()
        return f"{method} was not yet valid at {moment} (valid from {start})"
    if record.valid_until is not None and signed_at >= record.valid_until:
        return f"{method} was retired at {record.valid_until.isoformat()}, before {moment}"
    return _compromise(record, signed_at=signed_at, logged_at=logged_at, needs_log=needs_log)


def _compromise(
    record: KeyRecord, *, signed_at: datetime, logged_at: datetime | None, needs_log: bool
) -> str | None:
    since = record.compromised_since
    if since is None:
        return None
    method = record.verification_method
    if signed_at >= since:
        return (
            f"{method} was reported compromised from {since.isoformat()}"
            f" ({record.revocation_reason}), before {signed_at.isoformat()}"
        )
    if needs_log and (logged_at is None or logged_at >= since):
        # The signing time is the key holder's claim; only a checkpoint signed before
        # the compromise proves the record existed then.
        return (
            f"{method} was reported compromised from {since.isoformat()}, and no "
            "checkpoint shown to predate it includes this record"
        )
    return None


def key_standing(
    directory: KeyDirectory,
    verification_method: str,
    *,
    signed_at: datetime,
    credential_type: str | None = None,
    authority: str | None = None,
    logged_at: datetime | None = None,
    needs_log: bool = False,
) -> KeyStanding:
    """Which authority a key belongs to, what it may sign, and whether it could sign then.

    With ``credential_type`` or ``authority`` given, the key must also be allowed
    that type and belong to that authority. With ``needs_log`` (records that go into
    a transparency log), a key since reported compromised counts only for what a
    checkpoint signed before the compromise includes: ``logged_at`` is when the
    first checkpoint including the record was signed (``None``: not logged yet).
    Never raises for an invalid key: the answer says why
    (``KeyStanding.problem``); ``KeyStanding.require()`` raises.
    """
    if signed_at.tzinfo is None:
        raise InvalidInput("a signing time must carry a time zone")
    record = directory(verification_method)
    if record is None:
        problem: str | None = f"{verification_method} is not a known signing key"
    else:
        problem = _problem(
            record,
            signed_at=signed_at,
            credential_type=credential_type,
            authority=authority,
            logged_at=logged_at,
            needs_log=needs_log,
        )
    return KeyStanding(
        verification_method=verification_method,
        signed_at=signed_at,
        record=record,
        problem=problem,
    )


def verify_signed(
    document: Mapping[str, Any],
    proof: Mapping[str, Any] | None = None,
    *,
    directory: KeyDirectory,
    credential_type: str,
    authority: str | None = None,
    at: datetime,
    expected_purpose: str = ASSERTION_METHOD,
    logged_at: datetime | None = None,
    needs_log: bool = False,
    members: Mapping[str, bytes] | None = None,
) -> tuple[VerifiedProof, KeyRecord]:
    """Verify a proof with a key from ``directory`` that could sign this type then
    (``members``: as for ``verify_proof``).

    The key is judged at the proof's ``created`` time, which is therefore required
    and may not lie more than ``CLOCK_SKEW`` after ``at``; ``logged_at`` and
    ``needs_log`` are as for ``key_standing``. Returns the verified proof and the
    key's record; raises a ``VerificationError`` subclass naming what failed.
    """

    def resolve(method: str) -> Ed25519PublicKey:
        # The directory's record decides the key, never the URL.
        record = directory(method)
        if record is None:
            raise KeyResolutionError(f"{method} is not a known signing key")
        return record.public_key()

    verified = verify_proof(
        document,
        proof,
        resolve_key=resolve,
        expected_purpose=expected_purpose,
        at=at,
        members=members,
    )
    if verified.created is None:
        raise ProofConfigurationError("the proof has no created time, so its key cannot be judged")
    if verified.created > at + CLOCK_SKEW:
        claimed = verified.created.isoformat()
        raise ProofConfigurationError(f"the proof claims to be created in the future ({claimed})")
    record = key_standing(
        directory,
        verified.verification_method,
        signed_at=verified.created,
        credential_type=credential_type,
        authority=authority,
        logged_at=logged_at,
        needs_log=needs_log,
    ).require()
    return verified, record
