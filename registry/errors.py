"""The registry's one exception tree.

Every error the domain raises is a ``RegistryError``. The web layer maps each
branch to an HTTP status once (``api/errors.py``); the CLI prints the message and
exits non-zero. Nothing outside this module defines an exception class.

::

    RegistryError
    ├── InvalidInput                 bad input: nothing was written
    │   ├── InvalidIdentifier
    │   │   ├── InvalidResidentId
    │   │   ├── InvalidCreditCode
    │   │   ├── InvalidProvinceCode
    │   │   └── InvalidCategory
    │   ├── InvalidKeyEncoding
    │   └── OutOfRange               a size, index or range outside the log
    ├── NotFound                     no such record
    ├── Conflict                     the record exists, or the change clashes
    ├── VerificationError            a signed thing does not hold; names the step
    │   ├── ProofMissing                 step 1
    │   ├── ProofConfigurationError      steps 2 to 5
    │   ├── MalformedProofValue          step 6
    │   ├── KeyResolutionError           step 7
    │   ├── TransformationError          step 8
    │   ├── SignatureMismatch            step 9
    │   ├── TrustListError           a trust-list version or chain does not hold
    │   │   ├── QuorumNotMet             too few members signed it
    │   │   ├── BrokenChain              wrong genesis, version or ``previous``
    │   │   └── StaleTrustList           an older version offered after a newer one
    │   ├── LogProofError            an inclusion or consistency proof does not hold
    │   ├── FollowError              a peer's checkpoint or entries do not hold
    │   ├── AgreementError           a recognition agreement is malformed or under-signed
    │   └── ReportError              a verification report's evidence does not hold
    ├── AccessDenied                 the caller may not do this
    │   ├── Unauthenticated              no valid token
    │   └── Forbidden                    the token's role does not allow it
    ├── KeyStoreError                a private key cannot be created or loaded
    ├── DatabaseNotReady             unreachable, or not migrated to head
    ├── SigningHeld                  a log signs nothing until its peers confirm its size
    ├── BackupError                  a backup cannot be written, read or restored
    └── Inconsistency                what is stored contradicts itself: the node's fault
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

__all__ = [
    "AccessDenied",
    "AgreementError",
    "BackupError",
    "BrokenChain",
    "Conflict",
    "DatabaseNotReady",
    "FieldError",
    "FollowError",
    "Forbidden",
    "Inconsistency",
    "InvalidCategory",
    "InvalidCreditCode",
    "InvalidIdentifier",
    "InvalidInput",
    "InvalidKeyEncoding",
    "InvalidProvinceCode",
    "InvalidResidentId",
    "KeyResolutionError",
    "KeyStoreError",
    "LogProofError",
    "MalformedProofValue",
    "NotFound",
    "OutOfRange",
    "ProofConfigurationError",
    "ProofMissing",
    "QuorumNotMet",
    "RegistryError",
    "ReportError",
    "SignatureMismatch",
    "SigningHeld",
    "StaleTrustList",
    "TransformationError",
    "TrustListError",
    "Unauthenticated",
    "VerificationError",
]


@dataclass(frozen=True)
class FieldError:
    """One invalid field: where it is (dotted path) and what is wrong with it."""

    field: str
    message: str


class RegistryError(Exception):
    """Root of every error the registry raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(RegistryError):
    """The input is wrong; ``errors`` names every invalid field."""

    def __init__(self, message: str, *, errors: tuple[FieldError, ...] = ()) -> None:
        super().__init__(message)
        self.errors = errors


class InvalidIdentifier(InvalidInput):
    """An identifier (ID number, credit code, region, category) does not parse."""


class InvalidResidentId(InvalidIdentifier):
    """A resident ID number (GB 11643) is malformed."""


class InvalidCreditCode(InvalidIdentifier):
    """A unified social credit code (GB 32100) is malformed beyond a check character."""


class InvalidProvinceCode(InvalidIdentifier):
    """Neither an ISO 3166-2 ``CN-xx`` code nor a GB/T 2260 province code."""


class InvalidCategory(InvalidIdentifier):
    """Not one of the seven safety-engineer categories."""


class InvalidKeyEncoding(InvalidInput):
    """A Multikey, did:key URL or multibase string does not decode to an Ed25519 key."""


class OutOfRange(InvalidInput):
    """A tree size, leaf index or entry range lies outside what the log holds."""


class NotFound(RegistryError):
    """The requested record does not exist."""


class Conflict(RegistryError):
    """The record already exists, or the change clashes with what is stored."""


class VerificationError(RegistryError):
    """A signed document does not verify. ``step`` names the check that failed."""

    step: ClassVar[str] = "verification"

    def __init__(self, message: str) -> None:
        super().__init__(f"{self.step}: {message}")
        self.reason = message


class ProofMissing(VerificationError):
    """The document carries no proof."""

    step = "step 1 (find the proof)"


class ProofConfigurationError(VerificationError):
    """The proof's type, cryptosuite, purpose, created time or @context is unacceptable."""

    step = "steps 2-5 (check the proof configuration)"


class MalformedProofValue(VerificationError):
    """``proofValue`` is missing or is not a base58btc multibase Ed25519 signature."""

    step = "step 6 (decode proofValue)"


class KeyResolutionError(VerificationError):
    """The verification method cannot be resolved to an Ed25519 public key."""

    step = "step 7 (resolve the verification method)"


class TransformationError(VerificationError):
    """The document or proof options have no canonical JSON form, so nothing can be hashed."""

    step = "step 8 (canonicalise and hash)"


class SignatureMismatch(VerificationError):
    """The signature does not match the document, the proof options and the key."""

    step = "step 9 (check the signature)"


class TrustListError(VerificationError):
    """A trust-list version is malformed, under-signed, or does not extend the chain."""

    step = "trust list"


class QuorumNotMet(TrustListError):
    """Fewer members than the quorum rule requires signed the version with a valid key."""

    step = "trust list quorum"


class BrokenChain(TrustListError):
    """The genesis digest, the version number or ``previous`` does not match the chain."""

    step = "trust list chain"


class StaleTrustList(TrustListError):
    """A version no newer than the one already accepted was offered: it never replaces it."""

    step = "trust list replay"


class LogProofError(VerificationError):
    """A Merkle inclusion or consistency proof does not lead to the expected root."""

    step = "log proof"


class FollowError(VerificationError):
    """A peer's checkpoint or the entries up to it do not hold: nothing of them is kept."""

    step = "peer log"


class AgreementError(VerificationError):
    """A recognition agreement is malformed, or a party's proof is missing or invalid."""

    step = "recognition agreement"


class ReportError(VerificationError):
    """A verification report does not match the evidence it carries."""

    step = "verification report"


class AccessDenied(RegistryError):
    """The caller may not do this."""


class Unauthenticated(AccessDenied):
    """No token was given, or it is unknown or revoked."""


class Forbidden(AccessDenied):
    """The token is valid, but its role does not allow this."""


class KeyStoreError(RegistryError):
    """A private key cannot be generated, written or decrypted."""


class DatabaseNotReady(RegistryError):
    """The database cannot be reached or is not migrated to the latest revision."""


class SigningHeld(RegistryError):
    """A log this node hosts signs nothing now: a peer holds a newer (or another)
    checkpoint of it than the node, or, after a restore, no peer has yet confirmed
    the node's newest one. Signing would fork the log (``registry.federation.standing``)."""


class BackupError(RegistryError):
    """A backup cannot be written, decrypted, verified or restored; nothing was restored."""


class Inconsistency(RegistryError):
    """What is stored contradicts itself (a logged credential that no checkpoint covers,
    an idempotency key naming a credential that is not stored): the node is at fault,
    not the request."""
