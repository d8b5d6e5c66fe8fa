"""Appending to an authority's log, in the same transaction as what it logs.

``append`` takes the log head's write lock first (an UPDATE of its row: a row lock
on PostgreSQL, the database write lock on SQLite), so appends to one log are
serialised however many processes run. It then reads the log's *frontier* (the
perfect subtrees that make up the current tree, at most one per level), adds the
new leaves and every subtree they complete, and signs one checkpoint for the new
size. Nothing is read in proportion to the log's size.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, text, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from registry.authorities import get_authority, own_signer
from registry.crypto.keys import KeyStore
from registry.errors import Conflict, InvalidInput, LogProofError, NotFound
from registry.storage.base import bulk_insert, insert_or_skip, locked_row
from registry.storage.db import PREPARED
from registry.storage.models import (
    LogCheckpoint,
    LogEntry,
    LogHead,
    LogNode,
)
from registry.tlog.checkpoint import Checkpoint, sign_note
from registry.tlog.holds import refuse_if_held
from registry.tlog.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    leaf_hash,
    node_hash,
    verify_consistency,
)
from registry.tlog.note import log_origin

__all__ = [
    "MAX_ENTRY_BYTES",
    "AppendResult",
    "append",
    "frontier_of",
    "load_nodes",
    "load_nodes_of",
    "lock_log",
    "newest_checkpoint",
    "open_log",
]


MAX_ENTRY_BYTES = 0xFFFF
"""The longest leaf a log takes: the C2SP ``tlog-tiles`` entry bundles that serve it
(``registry.tlog.tiles``) give each entry a big-endian 16-bit length."""


@dataclass(frozen=True)
class AppendResult:
    """Where the entries went and the checkpoint that now commits to them."""

    authority: str
    first_index: int
    size: int
    root: bytes
    checkpoint: str


def open_log(session: Session, authority: str, *, origin_prefix: str) -> LogHead:
    """The authority's log head, created empty on first use. The caller commits.

    Two processes opening the same new log at once both succeed: the second insert
    yields to the first (``ON CONFLICT DO NOTHING``) instead of failing.
    """
    head = session.get(LogHead, authority)
    if head is not None:
        return head
    code = get_authority(session, authority).code
    session.execute(
        insert_or_skip(session, LogHead, ["authority_code"]).values(
            authority_code=code,
            origin=log_origin(origin_prefix, code),
            size=0,
            root=EMPTY_ROOT,
            updated_at=datetime.now(UTC),
        )
    )
    head = session.get(LogHead, code)
    if head is None:
        raise NotFound(f"the log of {code} could not be opened")
    return head


def lock_log(session: Session, authority: str, *, origin_prefix: str) -> LogHead:
    """Open the authority's log and take its head's write lock for this transaction.

    Whatever must happen in the log's order (allocating status-list entries, say)
    takes this lock first; ``append`` takes it again, which costs nothing then.
    Raises ``Conflict`` for the log of a peer this node keeps as a mirror: nothing of
    it is written here but what the mirror keeps.
    """
    head = _lock_head(session, authority)
    if head is None:  # a log not opened yet, or an authority named by its GB/T 2260 code
        head = _lock_head(
            session, open_log(session, authority, origin_prefix=origin_prefix).authority_code
        )
    if head is None:
        raise NotFound(f"the log of {authority} could not be opened")
    if not get_authority(session, head.authority_code).hosted:
        # Every write of a record goes through here: a mirrored one is its node's.
        raise Conflict(
            f"the records of {head.authority_code} are kept here as a mirror of its own "
            "node's log: issue and change them there"
        )
    return head


def _lock_head(session: Session, code: str) -> LogHead | None:
    return locked_row(session, LogHead, col(LogHead.authority_code) == code, LogHead.size)


def newest_checkpoint(session: Session, authority: str) -> LogCheckpoint | None:
    """The newest checkpoint the log signed, if it signed any."""
    return (
        session.execute(
            select(LogCheckpoint)
            .where(col(LogCheckpoint.authority_code) == authority)
            .order_by(col(LogCheckpoint.tree_size).desc())
            .limit(1)
        )
        .scalars()
        .first()
    )


def frontier_of(size: int) -> list[tuple[int, int]]:
    """The perfect subtrees (level, index) that make up a tree of ``size``, left to right."""
    nodes = []
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


# On PostgreSQL the keys go as three arrays: one short statement whatever their
# number, parsed and planned as cheaply for 150 keys as for one (a row-value IN
# list of 150 is 450 parameters, a statement text of its own for every count).
_NODES_POSTGRESQL = text(
    "SELECT n.authority_code, n.level, n.node_index, n.hash FROM log_node AS n "
    "JOIN unnest(CAST(:authorities AS varchar[]), CAST(:levels AS smallint[]), "
    "CAST(:indexes AS bigint[])) AS k(authority_code, level, node_index) "
    "ON n.authority_code = k.authority_code AND n.level = k.level "
    "AND n.node_index = k.node_index"
).execution_options(**PREPARED)


def load_nodes_of(
    session: Session, keys: Collection[tuple[str, int, int]]
) -> dict[tuple[str, int, int], bytes]:
    """Stored subtree hashes by (authority, level, index), of any logs, in one query.

    Raises ``NotFound`` naming the logs where any lacks.
    """
    keys = set(keys)
    if not keys:
        return {}
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        authorities, levels, indexes = zip(*keys, strict=True)
        rows = connection.execute(
            _NODES_POSTGRESQL,
            {"authorities": list(authorities), "levels": list(levels), "indexes": list(indexes)},
        )
    else:
        rows = connection.execute(
            select(
                col(LogNode.authority_code),
                col(LogNode.level),
                col(LogNode.node_index),
                col(LogNode.hash),
            ).where(
                tuple_(
                    col(LogNode.authority_code), col(LogNode.level), col(LogNode.node_index)
                ).in_(list(keys))
            )
        )
    found = {(a, level, index): bytes(value) for a, level, index, value in rows}
    if len(found) != len(keys):
        missing = sorted({key[0] for key in keys if key not in found})
        raise NotFound(f"the log of {', '.join(missing)} is missing stored subtree hashes")
    return found


def load_nodes(
    session: Session, authority: str, keys: Collection[tuple[int, int]]
) -> dict[tuple[int, int], bytes]:
    """Stored subtree hashes of one log by (level, index), as ``load_nodes_of``."""
    found = load_nodes_of(session, [(authority, level, index) for level, index in keys])
    return {(level, index): value for (_, level, index), value in found.items()}


def append(
    session: Session,
    key_store: KeyStore,
    authority: str,
    entries: Sequence[tuple[str, bytes]],
    *,
    origin_prefix: str,
    now: datetime | None = None,
) -> AppendResult:
    """Append ``(credential id, leaf input)`` entries and sign one checkpoint for them.

    Runs in the caller's transaction: the entries, their subtree hashes and the
    checkpoint commit with whatever else the caller wrote, or not at all; the
    checkpoint in the result must not leave the process before that commit. The
    checkpoint's time is taken once the log is locked, and never precedes the last
    one's (``now`` only sets it for tests). Raises ``InvalidInput`` for an empty
    batch or a credential of another authority, ``Conflict`` for the log of a peer
    this node keeps as a mirror, ``SigningHeld`` while the log is held from
    signing (``registry.federation.standing``), ``KeyStoreError`` without a log
    key, ``LogProofError`` if the stored log no longer matches its last checkpoint.
    """
    if not entries:
        raise InvalidInput("nothing to append")
    for credential_id, leaf in entries:
        if len(leaf) > MAX_ENTRY_BYTES:
            raise InvalidInput(
                f"{credential_id} would take {len(leaf):,} bytes in the log, which holds "
                f"entries of at most {MAX_ENTRY_BYTES:,} (its tiles' entry bundles give "
                "each a 16-bit length): shorten the record's text"
            )
    # Take the head's write lock before reading it: appends queue here.
    head = lock_log(session, authority, origin_prefix=origin_prefix)
    code = head.authority_code
    # Held while a peer holds more of this log than the node does, or after a
    # restore until the peers confirm it (registry.federation.standing).
    refuse_if_held(session, code)
    old_size, old_root = head.size, bytes(head.root)
    last = newest_checkpoint(session, code)
    # Never sign from a state the log has already signed past (a database restored
    # from a backup, or rows removed): that would sign a fork of its own history.
    signed = (last.tree_size, bytes(last.root)) if last else (0, EMPTY_ROOT)
    if signed != (old_size, old_root):
        raise LogProofError(
            f"the log of {code} no longer matches its last signed checkpoint; audit it"
        )
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    if last is not None and now < last.signed_at:
        now = last.signed_at  # a checkpoint never predates the one before it
    frontier_keys = frontier_of(old_size)
    known = load_nodes(session, code, frontier_keys)
    frontier = [(level, index, known[(level, index)]) for level, index in frontier_keys]
    new_nodes: list[dict[str, object]] = []
    new_entries: list[dict[str, object]] = []
    for offset, (credential_id, leaf_input) in enumerate(entries):
        index = old_size + offset
        value = leaf_hash(leaf_input)
        new_entries.append(
            {
                "authority_code": code,
                "leaf_index": index,
                "leaf_hash": value,
                "credential_id": credential_id,
                "recorded_at": now,
            }
        )
        level, node = 0, index
        new_nodes.append({"authority_code": code, "level": 0, "node_index": node, "hash": value})
        known[(0, node)] = value
        # Merge with the frontier while the rightmost subtree is the same height.
        while frontier and frontier[-1][0] == level:
            _, left_index, left = frontier.pop()
            level, node, value = level + 1, left_index >> 1, node_hash(left, value)
            new_nodes.append(
                {"authority_code": code, "level": level, "node_index": node, "hash": value}
            )
            known[(level, node)] = value
        frontier.append((level, node, value))
    size = old_size + len(entries)
    root = frontier[-1][2]
    for _, _, value in reversed(frontier[:-1]):
        root = node_hash(value, root)
    try:
        # The entries' foreign key is (authority, credential): a log holds only its
        # authority's credentials, and only stored ones.
        bulk_insert(session, LogEntry, new_entries)
    except IntegrityError as exc:
        raise InvalidInput(
            f"only credentials stored and issued by {code} go into its log, each once"
        ) from exc
    bulk_insert(session, LogNode, new_nodes)
    # Never sign a checkpoint inconsistent with the last one: prove it first. The
    # proof reads only the old frontier and the new subtrees, both in hand.
    if old_size:
        proof = consistency_proof(lambda lv, ix: known[(lv, ix)], old_size, size)
        verify_consistency(old_size, size, old_root, root, proof)
    held = own_signer(session, key_store, code, purpose="log", credential_type=None, at=now)
    text = Checkpoint(origin=head.origin, size=size, root=root).text()
    # The log key also cosigns with a timestamp: a signed record of when this tree
    # existed, which decides what a key signed before it was compromised.
    note = sign_note(text, head.origin, held.signer, timestamp=int(now.timestamp()))
    session.execute(
        insert(LogCheckpoint),
        [
            {
                "authority_code": code,
                "tree_size": size,
                "root": root,
                "note": note,
                "verification_method": held.verification_method,
                "signed_at": now,
            }
        ],
    )
    session.execute(
        update(LogHead)
        .where(col(LogHead.authority_code) == code)
        .values(size=size, root=root, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(head)
    return AppendResult(authority=code, first_index=old_size, size=size, root=root, checkpoint=note)
