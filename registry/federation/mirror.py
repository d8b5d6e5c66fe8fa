"""Keeping a verified batch of a peer's log: stored in the tables and projections the
issuing path writes for this node's own records, so that verification, blacklist
search and the log's own API answer from a mirrored log exactly as from a hosted one,
and the log audit (``registry.verification.log_audit``) finds nothing to report.

``mirror_entries`` takes what ``registry.federation.follow.verify_extension`` returned
and writes, in the caller's transaction (all or nothing, nothing committed here):

1. the credentials, with their canonical bytes, under the keys the trust list gives
   the peer (``registry.federation.peers``);
2. the log: its entries, every subtree they complete, the peer's own signed
   checkpoint (as its log signed it, without the cosignatures served with it) and
   the head, once the stored tree and the entries hash to its root
   (for a chunk proven part of the checkpoint, to the root the chunk was verified to:
   the head stops there, and the checkpoint is kept with the chunk that reaches it);
3. the projections each credential's type has (``registry.verification.log_projections``
   states what each must equal): records and the parties they name, status changes
   and their effect on the records they change (a change dated ahead kept scheduled,
   as the issuing side keeps it), the newest signed version of each status list, and
   recognition agreements with their terminations.

A batch already stored at those indexes with the same leaf hashes is a no-op; one with
others raises ``Inconsistency``, and so does a batch that does not continue the
stored log.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from registry.calendar import china_today
from registry.crypto.jcs import canonical_bytes
from registry.errors import Conflict, Inconsistency, NotFound
from registry.federation._projection import Projection
from registry.federation.follow import Verified
from registry.storage.base import bulk_insert, insert_or_skip, table_of
from registry.storage.credentials import credential_id_of
from registry.storage.models import (
    Authority,
    LogCheckpoint,
    LogEntry,
    LogHead,
    LogNode,
    Record,
    SigningKey,
    StatusChangeRow,
    StoredCredential,
)
from registry.tlog.checkpoint import signed_by_only
from registry.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash
from registry.tlog.sequencer import frontier_of, load_nodes

__all__ = ["mirror_entries"]


def mirror_entries(
    session: Session,
    authority: str,
    verified: Verified,
    *,
    start: int,
    now: datetime | None = None,
    today: date | None = None,
) -> None:
    """Store ``verified`` (entries ``start`` up to its frontier's size, its checkpoint's
    or a chunk's end, of the log of ``authority``, a peer registered by
    ``registry.federation.peers.register_peer``).

    ``today`` (China's day; by default the day of the peer's checkpoint, as the peer
    applied its changes when it signed it) decides which changes are still ahead; a
    change kept scheduled whose day has come is applied first, as the peer's issuing
    applies it before its next append. Raises ``NotFound`` for an authority not
    registered, ``Conflict`` for one this node hosts, and ``Inconsistency`` where the
    batch is not the continuation of the stored log, or disagrees with entries, a
    credential or a checkpoint already stored. The caller commits.
    """
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    today = today or china_today(verified.signed_at)
    checkpoint = verified.checkpoint
    documents = verified.documents
    end, root = verified.frontier.size, verified.frontier.root()
    if start + len(documents) != end:
        raise Inconsistency(f"{len(documents)} entries from {start} do not make a log of {end}")
    peer = session.get(Authority, authority)
    if peer is None:
        raise NotFound(f"no authority {authority}: register the peer first")
    if peer.hosted:
        raise Conflict(f"{authority} is hosted by this node: its log is not a mirror")
    canonicals = list(verified.canonicals) or [canonical_bytes(d) for d in documents]
    leaves = [leaf_hash(canonical) for canonical in canonicals]
    # 1. What of the batch is kept already must be the same; a retry changes nothing.
    head = _head(session, authority, checkpoint.origin)
    kept = _kept(session, authority, start, leaves, head)
    if head.size >= end:
        # A checkpoint older than the head is checked, never kept: the entries are
        # recorded at the time of the first checkpoint kept that covers them.
        if verified.complete:
            _checkpoint(session, authority, verified, head, keep=head.size == end)
        return
    documents, canonicals, leaves = documents[kept:], canonicals[kept:], leaves[kept:]
    start += kept
    # 2. The rest continues the stored log and hashes to the peer's signed root.
    if head.size != start:
        raise Inconsistency(
            f"the mirror of {authority} holds {head.size} entries; a batch from {start} "
            "does not continue it"
        )
    nodes, reached = _tree(session, authority, start, leaves, bytes(head.root))
    if reached != root:
        raise Inconsistency(
            f"the stored log of {authority} and the batch do not hash to the root verified "
            f"at size {end}"
        )
    if not documents:
        if verified.complete:
            _checkpoint(session, authority, verified, head)
        return
    # 3. The changes kept scheduled whose day has come, then the credentials, then
    # what refers to them.
    _apply_due(session, authority, today=today, now=now)
    ids = [credential_id_of(document) for document in documents]
    projection = Projection(session, authority, now=now, today=today, signed=verified.complete)
    credentials = [
        projection.credential(credential_id, document, canonical)
        for credential_id, document, canonical in zip(ids, documents, canonicals, strict=True)
    ]
    try:
        bulk_insert(session, StoredCredential, credentials)
    except IntegrityError as exc:
        raise Inconsistency(
            f"a credential of the batch of {authority} is stored already, or its digest is"
        ) from exc
    projection.write()
    bulk_insert(
        session,
        LogEntry,
        [
            {
                "authority_code": authority,
                "leaf_index": start + offset,
                "leaf_hash": leaf,
                "credential_id": credential_id,
                # The time of the first checkpoint that covers it: the peer's, kept here.
                "recorded_at": verified.signed_at,
            }
            for offset, (credential_id, leaf) in enumerate(zip(ids, leaves, strict=True))
        ],
    )
    bulk_insert(session, LogNode, nodes)
    if verified.complete:
        _checkpoint(session, authority, verified, head)
    session.execute(
        sa.update(LogHead)
        .where(col(LogHead.authority_code) == authority)
        .values(size=end, root=root, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(head)


def _apply_due(session: Session, authority: str, *, today: date, now: datetime) -> None:
    """Apply the mirrored log's scheduled changes whose day is ``today`` or past: the
    records' state (their bits are in the peer's signed lists)."""
    record = table_of(Record)
    change = table_of(StatusChangeRow)
    due = session.execute(
        sa.select(record.c.credential_id, change.c.state_after)
        .join(change, change.c.credential_id == record.c.scheduled_change_id)
        .where(
            record.c.authority_code == authority,
            record.c.scheduled_change_id.is_not(None),
            change.c.effective_on <= today,
        )
    ).all()
    if not due:
        return
    session.execute(
        sa.update(record)
        .where(record.c.credential_id == sa.bindparam("b_id"))
        .values(
            state=sa.bindparam("b_state"),
            scheduled_change_id=None,
            updated_at=sa.bindparam("b_at"),
        ),
        [{"b_id": record_id, "b_state": state, "b_at": now} for record_id, state in due],
    )


# -- the log ---------------------------------------------------------------------------------------


def _head(session: Session, authority: str, origin: str) -> LogHead:
    """The mirror's log head, created empty on first use, write-locked."""
    if session.get(LogHead, authority) is None:
        # Two followers starting one mirror at once: the second yields to the first.
        session.execute(
            insert_or_skip(session, LogHead, ["authority_code"]).values(
                authority_code=authority,
                origin=origin,
                size=0,
                root=EMPTY_ROOT,
                updated_at=datetime.now(UTC),
            )
        )
    locked: LogHead = session.execute(
        sa.update(LogHead)
        .where(col(LogHead.authority_code) == authority)
        .values(size=LogHead.size)
        .returning(LogHead)
        .execution_options(synchronize_session=False, populate_existing=True)
    ).scalar_one()
    if locked.origin != origin:
        raise Inconsistency(f"the log of {authority} is {locked.origin!r}, not {origin!r}")
    return locked


def _kept(
    session: Session, authority: str, start: int, leaves: Sequence[bytes], head: LogHead
) -> int:
    """How many of the batch's leaves, from its start, are stored already; raises
    ``Inconsistency`` if any stored there differs, or lacks below the head."""
    end = min(head.size, start + len(leaves))
    if end <= start:
        return 0
    stored = dict(
        session.connection()
        .execute(
            sa.select(col(LogEntry.leaf_index), col(LogEntry.leaf_hash)).where(
                col(LogEntry.authority_code) == authority,
                col(LogEntry.leaf_index) >= start,
                col(LogEntry.leaf_index) < end,
            )
        )
        .all()
    )
    for index in range(start, end):
        found = stored.get(index)
        if found is None:
            raise Inconsistency(
                f"the mirror of {authority} holds {head.size} entries but not entry "
                f"{index}: audit it"
            )
        if bytes(found) != leaves[index - start]:
            raise Inconsistency(
                f"entry {index} of {authority} is stored with another leaf hash: "
                "the peer's log forked, or the mirror was changed"
            )
    return end - start


def _tree(
    session: Session, authority: str, start: int, leaves: Sequence[bytes], stored_root: bytes
) -> tuple[list[dict[str, object]], bytes]:
    """The subtree rows the leaves complete, and the new root, from the stored frontier
    (as the sequencer appends)."""
    keys = frontier_of(start)
    known = load_nodes(session, authority, keys) if keys else {}
    frontier = [(level, index, known[(level, index)]) for level, index in keys]
    if _root([value for _, _, value in frontier]) != stored_root:
        raise Inconsistency(f"the stored log of {authority} does not hash to its head: audit it")
    nodes: list[dict[str, object]] = []
    for offset, leaf in enumerate(leaves):
        level, node, value = 0, start + offset, leaf
        nodes.append({"authority_code": authority, "level": 0, "node_index": node, "hash": value})
        while frontier and frontier[-1][0] == level:
            _, left_index, left = frontier.pop()
            level, node, value = level + 1, left_index >> 1, node_hash(left, value)
            nodes.append(
                {"authority_code": authority, "level": level, "node_index": node, "hash": value}
            )
        frontier.append((level, node, value))
    return nodes, _root([value for _, _, value in frontier])


def _root(frontier: Sequence[bytes]) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    root = frontier[-1]
    for value in reversed(frontier[:-1]):
        root = node_hash(value, root)
    return root


def _checkpoint(
    session: Session, authority: str, verified: Verified, head: LogHead, *, keep: bool = True
) -> None:
    """Keep the peer's signed note for its size, once (unless ``keep`` is false), as
    its log signed it: the witnesses' cosignatures served with it are kept apart
    (``cosigning.keep_note_cosignatures``). Another root stored there is a fork."""
    checkpoint = verified.checkpoint
    stored = session.get(LogCheckpoint, (authority, checkpoint.size))
    if stored is not None:
        if bytes(stored.root) != checkpoint.root:
            raise Inconsistency(
                f"a checkpoint of {authority} at size {checkpoint.size} with another root "
                "is stored: the peer's log forked"
            )
        return
    if not keep:
        return
    method = _log_key(session, authority)
    session.add(
        LogCheckpoint(
            authority_code=head.authority_code,
            tree_size=checkpoint.size,
            root=checkpoint.root,
            note=signed_by_only(verified.note, checkpoint.origin),
            verification_method=method,
            signed_at=verified.signed_at,
        )
    )
    session.flush()


def _log_key(session: Session, authority: str) -> str:
    method = session.execute(
        sa.select(col(SigningKey.verification_method))
        .where(col(SigningKey.authority_code) == authority, col(SigningKey.purpose) == "log")
        .order_by(col(SigningKey.valid_from).desc())
        .limit(1)
    ).scalar_one_or_none()
    if method is None:
        raise NotFound(f"no log key of {authority} is recorded: register the peer first")
    return str(method)
