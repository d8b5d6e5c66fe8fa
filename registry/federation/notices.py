"""Notices between member nodes: after an append, the origin tells each peer that its
log has a new checkpoint, so that the peer follows at once instead of at its next poll.

A notice is a small request carrying the log's signed checkpoint, sent with the
``federation`` token the peer granted the origin (``POST /v1/federation/notices``).
The peer checks the checkpoint's signature with the log key the trust list names
and keeps only its size (``PeerNotice``): what it follows is still what it fetches,
checks and proves itself. A forged or replayed notice can at most make a node ask
sooner; a lost one delays a peer until its next poll, and loses nothing.

The checkpoint goes with the cosignatures the other members' witnesses gave it so
far, as ``/checkpoint`` serves it (``cosigning.cosigned_note``); when the newest
gains more, the origin sends it again. The peer keeps those that verify, for a
checkpoint its mirror holds (``cosigning.keep_note_cosignatures``), and so holds the
witnessed checkpoint moments after the origin does, not at its next poll.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from time import monotonic

import httpx
from sqlalchemy import Engine, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from registry.errors import Conflict, NotFound
from registry.federation.cosigning import cosigned_note, keep_note_cosignatures
from registry.storage.db import session_scope
from registry.storage.models import (
    Authority,
    LogCheckpoint,
    LogCosignature,
    LogHead,
    PeerLog,
    PeerNotice,
)
from registry.tlog.checkpoint import open_note, parse_checkpoint
from registry.tlog.note import parse_verifier_key
from registry.trust.store import current_version

__all__ = ["NOTICE_TIMEOUT_SECONDS", "Notifier", "Outgoing", "receive_notice"]

NOTICE_TIMEOUT_SECONDS = 5.0
"""Longest a notice may take to send; a peer slower than that polls instead."""

_RETRY_SECONDS = 5.0
"""After a notice failed, the origin waits this long before trying that peer again."""


def receive_notice(
    session: Session, *, authority: str, note: str, now: datetime | None = None
) -> tuple[int, int]:
    """Check a peer's notice, the signed checkpoint ``note`` of ``authority``'s log,
    and keep its size if it is the largest heard of, and the witnesses' cosignatures
    it carries that verify if this node's mirror holds that checkpoint (a size not new
    may bring more of them). Returns the size and the entries this node has verified
    of that log.

    Raises ``NotFound`` if the current trust list has no such member, ``Conflict``
    if this node hosts it, and what opening the note raises if the log key the trust
    list names did not sign it. The caller commits.
    """
    now = now or datetime.now(UTC)
    trust = current_version(session, at=now)
    member = trust.content.member(authority) if trust is not None else None
    if trust is None or member is None:
        raise NotFound(f"{authority} is not a member of this node's trust list")
    hosted = session.get(Authority, authority)
    if hosted is not None and hosted.hosted:
        raise Conflict(f"{authority} is hosted by this node: it follows no other's log of it")
    checkpoint = parse_checkpoint(
        open_note(note, [parse_verifier_key(member.log.verifier_key)]).text
    )
    if checkpoint.origin != member.log.origin:
        raise Conflict(f"the checkpoint is of {checkpoint.origin}, not {member.log.origin}")
    heard = session.get(PeerNotice, authority, with_for_update=True)
    if heard is None:
        try:
            with session.begin_nested():  # two first notices at once: one inserts
                session.add(
                    PeerNotice(authority_code=authority, tree_size=checkpoint.size, received_at=now)
                )
        except IntegrityError:
            heard = session.get(PeerNotice, authority, with_for_update=True, populate_existing=True)
    if heard is not None and checkpoint.size > heard.tree_size:
        heard.tree_size, heard.received_at = checkpoint.size, now
        session.add(heard)
    keep_note_cosignatures(session, trust.content, authority, note, now=now)
    state = session.get(PeerLog, authority)
    return checkpoint.size, state.tree_size if state is not None else 0


@dataclass(frozen=True)
class Outgoing:
    """A notice to send: to the node of ``peer`` at ``url``, that ``authority``'s log
    has the signed checkpoint ``note`` of ``size`` entries, with ``cosigned`` of the
    witnesses' cosignatures of it."""

    peer: str
    url: str
    authority: str
    size: int
    note: str
    cosigned: int = 0


Send = Callable[[Outgoing, str], None]
"""Sends one notice with the peer's token; raises on failure."""


class _Post:
    """Sends notices over one client, whose connections (and TLS context) are kept."""

    def __init__(self) -> None:
        self._client = httpx.Client(timeout=NOTICE_TIMEOUT_SECONDS)

    def __call__(self, notice: Outgoing, token: str) -> None:
        answer = self._client.post(
            f"{notice.url.rstrip('/')}/v1/federation/notices",
            json={"authority": notice.authority, "checkpoint": notice.note},
            headers={"Authorization": f"Bearer {token}"},
        )
        answer.raise_for_status()


class Notifier:
    """Tells the peers of each log this node hosts when it grows.

    ``tick`` (every fraction of a second, from the serving process) reads the size of
    each hosted log and how many witnesses cosigned it; for every peer that has not
    been told of that size with as many, it sends the newest signed checkpoint with
    its cosignatures, on a thread of its own, at most one notice in flight a
    peer (the next tick sends the newest size, so a burst of appends makes a few
    notices, not one each). A peer that failed is tried again after a few seconds.
    """

    def __init__(
        self,
        engine: Engine,
        tokens: Callable[[], Mapping[str, str]],
        *,
        send: Send | None = None,
        report: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self._engine = engine
        self._tokens = tokens
        self._send = send or _Post()
        self._report = report
        self._told: dict[tuple[str, str], tuple[int, int]] = {}  # size, cosignatures
        self._busy: set[str] = set()
        self._failed: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="notices")

    def close(self) -> None:
        """Wait for the notices in flight, and stop."""
        self._pool.shutdown(wait=True)

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def due(self) -> list[Outgoing]:
        """The notices to send now: per peer, each hosted log grown, or its newest
        checkpoint cosigned by more witnesses, since it was told."""
        with session_scope(self._engine) as session:
            cosigned = (
                select(func.count())
                .select_from(LogCosignature)
                .where(
                    col(LogCosignature.authority_code) == col(LogHead.authority_code),
                    col(LogCosignature.tree_size) == col(LogHead.size),
                )
                .correlate(LogHead)
                .scalar_subquery()
            )
            hosted = list(
                session.exec(
                    select(LogHead.authority_code, LogHead.size, cosigned)
                    .join(Authority, col(Authority.code) == col(LogHead.authority_code))
                    .where(col(Authority.hosted))
                )
            )
            trust = current_version(session)
            if trust is None or not hosted:
                return []
            codes = {code for code, _size, _cosigned in hosted}
            peers = [m for m in trust.content.members if m.code not in codes]
            now = monotonic()
            notices: list[Outgoing] = []
            newest: dict[str, str | None] = {}  # read once a log, not once a peer
            for peer in peers:
                with self._lock:
                    waiting = peer.code in self._busy
                if waiting or self._failed.get(peer.code, 0) > now:
                    continue
                for code, size, count in hosted:
                    if size == 0 or self._told.get((peer.code, code), (0, 0)) >= (size, count):
                        continue
                    if code not in newest:
                        newest[code] = self._note(session, code, size)
                    note = newest[code]
                    if note is not None:
                        notices.append(Outgoing(peer.code, peer.node_url, code, size, note, count))
        return notices

    @staticmethod
    def _note(session: Session, code: str, size: int) -> str | None:
        """The log's checkpoint of ``size`` entries, with its cosignatures."""
        checkpoint = session.get(LogCheckpoint, (code, size))
        return cosigned_note(session, checkpoint) if checkpoint is not None else None

    def tick(self) -> None:
        """Send what is due, without waiting for it."""
        tokens = self._tokens()
        by_peer: dict[str, list[Outgoing]] = {}
        for notice in self.due():
            by_peer.setdefault(notice.peer, []).append(notice)
        for peer, notices in by_peer.items():
            token = tokens.get(peer)
            if token is None:
                continue  # no token from that peer yet: it polls
            with self._lock:
                self._busy.add(peer)
            self._pool.submit(self._deliver, peer, notices, token)

    def _deliver(self, peer: str, notices: list[Outgoing], token: str) -> None:
        try:
            for notice in notices:
                self._send(notice, token)
                with self._lock:
                    self._told[(peer, notice.authority)] = (notice.size, notice.cosigned)
            self._failed.pop(peer, None)
        except Exception as exc:
            self._failed[peer] = monotonic() + _RETRY_SECONDS
            self._report(f"notice to {peer}: {type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self._busy.discard(peer)
