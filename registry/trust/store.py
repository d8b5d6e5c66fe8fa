"""The node's store of trust-list versions, and the entries of the members it hosts.

What is stored is only ever what a verifier outside would accept: every change
re-verifies the stored chain from its genesis and the new version on top of it, so
an older version can never replace a newer one here either.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.authorities import get_authority, keys_of, record_of, usable_log_key
from registry.crypto.eddsa_jcs_2022 import proofs_of, with_proofs
from registry.crypto.jcs import canonical_bytes
from registry.crypto.multikey import decode_public_multikey
from registry.errors import BrokenChain, Conflict, InvalidInput, NotFound
from registry.settings import Settings
from registry.storage.models import TrustListRecord
from registry.tlog.note import log_origin, verifier_key, witness_key, witness_name
from registry.trust.chain import TrustChain, TrustListVersion
from registry.trust.document import LogEntry, Member, WitnessEntry

__all__ = [
    "NodeProfile",
    "accept_version",
    "current_version",
    "get_version",
    "member_from_node",
    "store_version",
    "stored_versions",
]


@dataclass(frozen=True)
class NodeProfile:
    """How this node names the members it hosts in a trust list."""

    log_origin_prefix: str
    node_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> NodeProfile:
        """The profile the node's settings describe."""
        return cls(log_origin_prefix=settings.log_origin_prefix, node_url=settings.node_url)


def member_from_node(session: Session, code: str, profile: NodeProfile) -> Member:
    """The trust-list entry of an authority this node hosts, from its records."""
    authority = get_authority(session, code)
    keys = keys_of(session, authority.code)
    # Its node keys (verification reports) are listed with its issuing keys: the
    # allowed types tell them apart.
    issuing = tuple(record_of(k) for k in keys if k.purpose in ("issuing", "node"))
    log = usable_log_key(session, authority.code)
    if log is None:
        raise InvalidInput(f"{authority.code} has no usable log key")
    origin = log_origin(profile.log_origin_prefix, authority.code)
    log_key = decode_public_multikey(log.public_key_multibase)
    witness = None
    held = [k for k in keys if k.purpose == "witness" and k.valid_until is None]
    if held:  # the newest; an authority made before witnessing has none until it makes one
        name = witness_name(profile.log_origin_prefix, authority.code)
        public = decode_public_multikey(held[-1].public_key_multibase)
        witness = WitnessEntry(name=name, verifier_key=witness_key(name, public))
    return Member(
        code=authority.code,
        gb_code=authority.gb_code,
        name_zh=authority.name_zh,
        name_en=authority.name_en,
        keys=issuing,
        log=LogEntry(origin=origin, verifier_key=verifier_key(origin, log_key)),
        node_url=profile.node_url,
        witness=witness,
    )


def stored_versions(session: Session) -> list[TrustListRecord]:
    """Every published version, oldest first."""
    return list(session.exec(select(TrustListRecord).order_by(col(TrustListRecord.version))))


def get_version(session: Session, version: int | None = None) -> TrustListRecord:
    """A published version (default: the newest); raises ``NotFound``."""
    if version is None:
        query = select(TrustListRecord).order_by(col(TrustListRecord.version).desc()).limit(1)
        row = session.exec(query).first()
        if row is None:
            raise NotFound("no trust list has been published yet")
        return row
    row = session.get(TrustListRecord, version)
    if row is None:
        raise NotFound(f"no trust-list version {version}")
    return row


def _stored_chain(
    session: Session, *, at: datetime, genesis_digest: str | None = None
) -> TrustChain | None:
    # Re-verified from the stored genesis on every change: what is stored is only
    # ever what a verifier outside would accept.
    rows = stored_versions(session)
    pin = rows[0].digest if rows else genesis_digest
    if pin is None:
        return None
    chain = TrustChain(genesis_digest=pin, at=at)
    for row in rows:
        chain.accept(json.loads(row.canonical))
    return chain


_VERIFIED: dict[tuple[str, ...], tuple[datetime, TrustListVersion]] = {}
"""Stored chains (their versions' digests) verified whole, each with its newest
version and the time it was verified at."""
_VERIFIED_LOCK = threading.Lock()


def current_version(session: Session, *, at: datetime | None = None) -> TrustListVersion | None:
    """The newest published version, verified from the genesis; ``None`` before genesis.

    A chain of the same stored versions (by digest) that was verified whole, its
    newest version in force, is not verified again for a later time: the signatures
    that held then still hold, and no version of it can lose force. One query reads
    the digests; a new version, or an earlier time, verifies the chain again."""
    at = at or datetime.now(UTC)
    digests = tuple(
        session.exec(select(TrustListRecord.digest).order_by(col(TrustListRecord.version)))
    )
    if not digests:
        return None
    with _VERIFIED_LOCK:
        held = _VERIFIED.get(digests)
    if held is not None and held[0] <= at:
        return held[1]
    chain = _stored_chain(session, at=at)
    current = chain.current if chain else None
    if current is not None and current.digest == digests[-1]:
        with _VERIFIED_LOCK:
            if len(_VERIFIED) > 64:
                _VERIFIED.clear()
            _VERIFIED[digests] = (at, current)
    return current


def store_version(session: Session, version: TrustListVersion, *, now: datetime) -> TrustListRecord:
    """Store a verified version as signed; raises ``Conflict`` if its number is taken."""
    row = TrustListRecord(
        version=version.version,
        digest=version.digest,
        previous=version.content.previous,
        valid_from=version.content.valid_from,
        canonical=canonical_bytes(version.document).decode("utf-8"),
        published_at=now,
    )
    session.add(row)
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict(f"trust-list version {version.version} was published meanwhile") from exc
    return row


def accept_version(
    session: Session,
    document: Mapping[str, Any],
    *,
    genesis_digest: str | None = None,
    now: datetime | None = None,
) -> TrustListVersion:
    """Verify a version published elsewhere as the next one here, and store it.

    Before any version is stored, ``genesis_digest`` pins the genesis; afterwards it
    must be the stored genesis, if given. Proofs that do not count are dropped
    before storing, so a stored version carries only proofs that count. Raises
    ``StaleTrustList`` for a version no newer than the current one, and whatever
    the chain's verification raises. The caller commits.
    """
    now = now or datetime.now(UTC)
    chain = _stored_chain(session, at=now, genesis_digest=genesis_digest)
    if chain is None:
        raise InvalidInput("pin the genesis digest to import the first version")
    if genesis_digest is not None and genesis_digest.strip().lower() != chain.genesis_digest:
        raise BrokenChain(f"this node's chain starts at genesis {chain.genesis_digest}")
    version = chain.accept(document)
    proofs = proofs_of(version.document)
    kept = [proofs[p.index - 1] for p in version.report.proofs if p.counted]
    if len(kept) < len(proofs):
        version = dataclasses.replace(version, document=with_proofs(version.document, kept))
    store_version(session, version, now=now)
    return version
