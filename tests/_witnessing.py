"""Cosigning a one-node federation's checkpoints in a test, with the witness keys the
node holds, at a chosen time and by chosen members: what the other members' witnesses
would send, made here so that a test decides who cosigns and when."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from registry.authorities import own_signer
from registry.crypto.keys import KeyStore
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Authority, LogCosignature, LogHead
from registry.tlog.checkpoint import cosign, open_note
from registry.tlog.note import parse_verifier_key
from registry.tlog.sequencer import newest_checkpoint
from registry.trust.store import current_version

__all__ = ["cosign_logs", "cosign_node"]


def cosign_logs(
    session: Session,
    key_store: KeyStore,
    *,
    by: Iterable[str] | None = None,
    logs: Iterable[str] | None = None,
    at: datetime | None = None,
) -> int:
    """Cosign each hosted log's newest checkpoint (or those of ``logs``) with the
    witness key of every other member (or of those ``by`` names) whose key this node
    holds, at ``at``; keeps the lines as the origin keeps its witnesses'. Returns how
    many lines it kept. The caller commits."""
    at = (at or datetime.now(UTC)).replace(microsecond=0)
    trust = current_version(session)
    assert trust is not None, "the node has no trust list"
    hosted = session.exec(
        select(LogHead.authority_code)
        .join(Authority, col(Authority.code) == col(LogHead.authority_code))
        .where(col(Authority.hosted), col(LogHead.size) > 0)
    ).all()
    wanted = set(logs) if logs is not None else set(hosted)
    kept = 0
    for code in sorted(wanted):
        checkpoint = newest_checkpoint(session, code)
        member = trust.content.member(code)
        assert checkpoint is not None
        assert member is not None
        text = open_note(checkpoint.note, [parse_verifier_key(member.log.verifier_key)]).text
        for other in trust.content.members:
            if other.code == code or other.witness is None:
                continue
            if by is not None and other.code not in set(by):
                continue
            signer = own_signer(
                session, key_store, other.code, purpose="witness", credential_type=None, at=at
            ).signer
            line = cosign(text, other.witness.name, signer, timestamp=int(at.timestamp()))
            held = session.get(LogCosignature, (code, checkpoint.tree_size, other.witness.name))
            if held is not None:
                session.delete(held)
                session.flush()
            session.add(
                LogCosignature(
                    authority_code=code,
                    tree_size=checkpoint.tree_size,
                    witness=other.witness.name,
                    cosigned_at=at,
                    line=line,
                    received_at=at,
                )
            )
            kept += 1
    return kept


def cosign_node(
    settings: Settings,
    *,
    by: Iterable[str] | None = None,
    logs: Iterable[str] | None = None,
    at: datetime | None = None,
) -> int:
    """``cosign_logs`` in the database of ``settings``' node, committed."""
    key_store = IssuingContext.for_node(settings).key_store
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        kept = cosign_logs(session, key_store, by=by, logs=logs, at=at)
        session.commit()
    return kept
