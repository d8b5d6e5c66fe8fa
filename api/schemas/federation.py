"""What goes over the wire about the federation: authorities and their keys, the trust
list, the logs and their proofs, and the node's readiness."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ProvinceCode

__all__ = [
    "AuthorityOut",
    "ConsistencyProofOut",
    "ForkEvidenceOut",
    "InclusionProofOut",
    "KeyOut",
    "Liveness",
    "LogEntriesOut",
    "LogEntryOut",
    "LogOut",
    "NoticeIn",
    "NoticeOut",
    "Readiness",
    "TrustListHistory",
    "TrustListVersionOut",
]


class KeyOut(BaseModel):
    """A public key an authority signs with."""

    model_config = ConfigDict(from_attributes=True)

    verification_method: str = Field(
        description="did:key verification-method URL that proofs name.",
        examples=["did:key:z6Mk...#z6Mk..."],
    )
    purpose: str = Field(
        description=(
            "`issuing` (credentials), `log` (checkpoints), `node` (this node's reports) "
            "or `witness` (cosignatures of other members' checkpoints)."
        )
    )
    public_key_multibase: str = Field(description="Ed25519 public key as a Multikey (`z6Mk...`).")
    allowed_types: list[str] = Field(description="Credential types the key may sign.")
    valid_from: datetime
    valid_until: datetime | None
    compromised_since: datetime | None


class AuthorityOut(BaseModel):
    """A member authority and its public keys."""

    code: str = Field(description="ISO 3166-2 code.", examples=["CN-SH"])
    gb_code: str = Field(description="GB/T 2260 code.", examples=["310000"])
    name_zh: str = Field(examples=["上海市应急管理局"])
    name_en: str = Field(examples=["Shanghai Municipal Emergency Management Bureau"])
    hosted: bool = Field(
        description=(
            "Whether this node hosts the authority (holds its keys, writes its log); "
            "otherwise its log is a peer's, kept here as a read-only mirror."
        ),
        examples=[True],
    )
    keys: list[KeyOut]


class Liveness(BaseModel):
    """The process serves requests."""

    status: str = Field(examples=["ok"])


class Readiness(BaseModel):
    """Whether the node can serve: the database answers and is migrated to head."""

    status: str = Field(examples=["ready"])
    database: str = Field(description="SQL dialect in use.", examples=["postgresql"])
    revision: list[str] = Field(description="Current migration revision(s).")
    head: list[str] = Field(description="Latest migration revision(s).")


class TrustListVersionOut(BaseModel):
    """One published trust-list version, by its digest."""

    version: int = Field(examples=[1])
    digest: str = Field(description="SHA-256 (hex) of the version's canonical bytes.")
    previous: str | None = Field(description="The previous version's digest (none for 1).")
    valid_from: datetime
    published_at: datetime = Field(description="When this node stored the version.")
    href: str = Field(examples=["/v1/trust-list/1"])


class TrustListHistory(BaseModel):
    """The trust-list chain as this node holds it."""

    genesis: str | None = Field(description="Digest of version 1, the one to pin.")
    current: int | None = Field(description="The newest version number.")
    versions: list[TrustListVersionOut]


class LogOut(BaseModel):
    """One transparency log."""

    authority: str = Field(examples=["CN-SH"])
    origin: str = Field(examples=["registry.yrd.example/CN-SH"])
    size: int = Field(description="Entries in the log now.")
    witnessed_size: int = Field(
        description=(
            "The size of its newest checkpoint cosigned by the trust list's witness "
            "policy, as this node holds the cosignatures (0: none yet)."
        )
    )
    verifier_key: str | None = Field(
        description="C2SP signed-note verifier key of its checkpoints (none while it has no "
        "usable log key)."
    )


class InclusionProofOut(BaseModel):
    """An RFC 9162 inclusion proof; hashes are standard base64."""

    leaf_index: int
    tree_size: int
    hashes: list[str]


class ConsistencyProofOut(BaseModel):
    """An RFC 9162 consistency proof; hashes are standard base64."""

    first: int
    second: int
    hashes: list[str]


class LogEntryOut(BaseModel):
    """One log entry: its index and the signed credential that is its leaf."""

    index: int
    leaf: dict[str, Any]


class LogEntriesOut(BaseModel):
    """A page of log entries, in index order."""

    entries: list[LogEntryOut]


class PeerLogOut(BaseModel):
    """How this node follows one member's log it does not host."""

    authority: str = Field(examples=["CN-JS"])
    origin: str
    state: str = Field(
        description=(
            "`current` (the origin confirmed the newest checkpoint verified), `behind` "
            "(entries or time behind, or a batch refused: see `last_error`), "
            "`unreachable` (the origin did not answer) or `forked` (two checkpoints of "
            "the log cannot both be true: following stopped, evidence kept)."
        ),
        examples=["current"],
    )
    verified_size: int = Field(description="Entries verified and kept.")
    peer_size: int | None = Field(description="Entries in the origin's newest checkpoint seen.")
    behind_entries: int | None = Field(description="`peer_size` less `verified_size`.")
    confirmed_at: datetime | None = Field(
        description="When the origin last confirmed the newest checkpoint verified."
    )
    behind_seconds: int | None = Field(description="Seconds since `confirmed_at`.")
    last_error: str | None = None


class FederationStatusOut(BaseModel):
    """Every member's log this node follows."""

    peers: list[PeerLogOut]


class NoticeIn(BaseModel):
    """A member's node saying its log has a new checkpoint."""

    model_config = ConfigDict(extra="forbid")

    authority: ProvinceCode = Field(description="Whose log grew.", examples=["CN-JS"])
    checkpoint: str = Field(
        max_length=8192,
        description=(
            "The log's signed checkpoint (a C2SP signed note, as "
            "`GET /v1/logs/{authority}/checkpoint` serves it)."
        ),
    )


class NoticeOut(BaseModel):
    """What this node made of a notice: it follows the log at once."""

    authority: str = Field(examples=["CN-JS"])
    size: int = Field(description="Entries in the checkpoint noticed.")
    verified_size: int = Field(description="Entries of the log this node has verified so far.")


class ForkEvidenceOut(BaseModel):
    """Every evidence file this node keeps that a member's log forked, oldest first."""

    authority: str = Field(examples=["CN-JS"])
    evidence: list[dict[str, Any]] = Field(
        description=(
            "Each a self-contained evidence file (`type` `ForkEvidence`): the member's "
            "log key, two checkpoints it signed that cannot both be true, and what "
            "proves it."
        )
    )
