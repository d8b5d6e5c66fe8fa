"""The no-fork rule: a node never signs a checkpoint of its own log smaller than, or
inconsistent with, one it has already published.

A node that lost part of its history (restored from a backup, its database rolled
back) would otherwise carry on from where its copy ends and sign a second, different
tree for sizes it already published: a fork, which every follower and witness then
holds against it. Its peers know better: each mirrors its log (and serves the newest
checkpoint it verified, signed by the log's own key, with the witnesses'
cosignatures), and each peer's witness remembers the size it last cosigned.

``check_standing`` asks them, for every log this node hosts:

1. each peer's mirror, ``GET <nodeUrl>/v1/logs/<own code>/checkpoint``: the note must
   verify with the log's own key (the trust list's); its size and root are compared
   with the node's own tree at that size;
2. each peer's witness, ``POST <nodeUrl>/v1/witness/add-checkpoint`` with the node's
   newest checkpoint and ``old`` its size (c2sp.org/tlog-witness): a witness that
   cosigned more answers 409 with that size; one that cosigned another root for it
   answers 409 in plain text.

Then it decides, and records the decision in ``log_signing_hold``, which ``append``
reads in every signing transaction (``registry.tlog.sequencer``):

- a peer holds a larger checkpoint: ``behind``; another root for a size the node
  signed: ``diverged``. The log signs nothing; the operator recovers (see
  docs/operations.md, "Restore");
- a log held (``restored`` after a restore, or ``behind`` once recovered) whose
  checkpoint as many peers confirm as its witness policy needs, none holding more:
  the hold is lifted;
- no peer answers: a held log stays held (``registry log release --accept-unconfirmed``
  is the operator's explicit override); a log not held goes on signing, as it has
  lost nothing that it knows of, and the answer says that nobody confirmed it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from registry.authorities import hosted_codes
from registry.errors import Conflict, NotFound, RegistryError
from registry.federation.witness import SIZE_TYPE
from registry.storage.db import session_scope
from registry.storage.models import LogCheckpoint, LogSigningHold
from registry.tlog.checkpoint import open_note, parse_checkpoint
from registry.tlog.merkle import EMPTY_ROOT
from registry.tlog.note import parse_verifier_key
from registry.tlog.reader import root_at
from registry.tlog.sequencer import newest_checkpoint
from registry.trust.document import Member, TrustListContent
from registry.trust.store import current_version
from registry.trust.witnesses import required_cosignatures

__all__ = [
    "ASK_TIMEOUT_SECONDS",
    "PeerAnswer",
    "Standing",
    "check_standing",
    "holds",
    "release",
]

ASK_TIMEOUT_SECONDS = 5.0
"""Longest a peer may take to answer one question about this node's log."""


@dataclass(frozen=True)
class PeerAnswer:
    """What one peer said of the node's log: through its ``mirror`` or its
    ``witness``, the size it holds (with the mirror's note), or why it said nothing
    usable (``problem``); ``conflict`` when it holds another root for a size signed."""

    peer: str
    source: str
    size: int | None = None
    note: str | None = None
    problem: str | None = None
    conflict: bool = False


@dataclass(frozen=True)
class Standing:
    """A hosted log's standing after a check: its newest signed size, what each peer
    said, how many confirmations a held log needs, and the hold now in force."""

    authority: str
    size: int
    answers: tuple[PeerAnswer, ...]
    needed: int
    hold: LogSigningHold | None

    @property
    def confirmed_by(self) -> tuple[str, ...]:
        """The peers that hold the node's newest checkpoint (in their mirror, or as
        their witness's last cosigned), and nothing beyond or beside it."""
        good = {a.peer for a in self.answers if a.problem is None and a.size == self.size}
        bad = {a.peer for a in self.answers if a.conflict or (a.size or 0) > self.size}
        return tuple(sorted(good - bad))


Ask = Callable[[str, str, bytes | None], httpx.Response]
"""Sends a request (method, URL, body or ``None``) to a peer; its answer."""


def holds(session: Session) -> list[LogSigningHold]:
    """The holds in force, by authority."""
    return list(session.exec(select(LogSigningHold).order_by(col(LogSigningHold.authority_code))))


def release(session: Session, authority: str) -> LogSigningHold:
    """Lift a ``restored`` hold although no peer confirmed the log (the operator's
    explicit override). Raises ``NotFound`` if the log is not held, ``Conflict`` if a
    peer holds more of it or another root (that hold lifts only once recovered)."""
    hold = session.get(LogSigningHold, authority)
    if hold is None:
        raise NotFound(f"the log of {authority} is not held")
    if hold.reason != "restored":
        raise Conflict(
            f"{hold.peer} holds more of the log of {authority} than this node, or another "
            "root: signing would fork it, and no override lifts that"
        )
    session.delete(hold)
    return hold


def check_standing(
    engine: Engine,
    *,
    ask: Ask | None = None,
    now: datetime | None = None,
) -> list[Standing]:
    """Ask the peers about every log this node hosts and record the decision (see the
    module); the standing of each. Peers are asked at once, each question bounded by
    ``ASK_TIMEOUT_SECONDS``."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    with session_scope(engine) as session:
        trust = current_version(session)
        codes = hosted_codes(session)
        newest = {code: newest_checkpoint(session, code) for code in codes}
    content = trust.content if trust is not None else None
    questions = [
        (code, peer, source)
        for code in codes
        for peer in _peers(content, code, codes)
        for source in ("mirror", "witness")
    ]
    with httpx.Client(timeout=ASK_TIMEOUT_SECONDS) as client:
        send = ask or _sender(client)
        with ThreadPoolExecutor(max_workers=max(1, min(8, len(questions)))) as pool:
            answers = list(
                pool.map(
                    lambda q: _question(
                        send, content, q[0], q[1], source=q[2], newest=newest[q[0]]
                    ),
                    questions,
                )
            )
    standings = []
    with session_scope(engine) as session:
        for code in codes:
            mine = tuple(a for (c, _, _), a in zip(questions, answers, strict=True) if c == code)
            needed = required_cosignatures(content, code) if content and content.member(code) else 1
            standings.append(_decide(session, code, mine, needed, now))
    return standings


def _peers(content: TrustListContent | None, code: str, hosted: Sequence[str]) -> list[Member]:
    if content is None or content.member(code) is None:
        return []
    return [m for m in content.members if m.code != code and m.code not in hosted]


def _sender(client: httpx.Client) -> Ask:
    def send(method: str, url: str, body: bytes | None) -> httpx.Response:
        headers = {"Content-Type": "text/plain"} if body is not None else None
        return client.request(method, url, content=body, headers=headers)

    return send


def _question(
    send: Ask,
    content: TrustListContent | None,
    code: str,
    peer: Member,
    *,
    source: str,
    newest: LogCheckpoint | None,
) -> PeerAnswer:
    member = content.member(code) if content is not None else None
    if member is None:
        return PeerAnswer(peer.code, source, problem="not a member")
    base = peer.node_url.rstrip("/")
    try:
        if source == "mirror":
            return _mirror(send, base, member, peer.code)
        if peer.witness is None:
            return PeerAnswer(peer.code, source, problem="names no witness")
        if newest is None:
            return PeerAnswer(peer.code, source, problem="nothing signed to ask about")
        return _witness(send, base, code, peer.code, newest)
    except httpx.HTTPError as exc:
        return PeerAnswer(peer.code, source, problem=f"unreachable ({type(exc).__name__})")


def _mirror(send: Ask, base: str, member: Member, peer: str) -> PeerAnswer:
    answer = send("GET", f"{base}/v1/logs/{member.code}/checkpoint", None)
    if answer.status_code == 404:
        return PeerAnswer(peer, "mirror", size=0)  # it mirrors nothing of the log yet
    if answer.status_code != 200:
        return PeerAnswer(peer, "mirror", problem=f"answered {answer.status_code}")
    note = answer.text
    try:
        # 1. The log's own key signed it: a peer cannot make the node think it is behind.
        opened = open_note(note, [parse_verifier_key(member.log.verifier_key)])
        checkpoint = parse_checkpoint(opened.text)
    except RegistryError as exc:
        return PeerAnswer(peer, "mirror", problem=f"its checkpoint does not hold: {exc.message}")
    if checkpoint.origin != member.log.origin:
        return PeerAnswer(peer, "mirror", problem="its checkpoint is of another origin")
    return PeerAnswer(peer, "mirror", size=checkpoint.size, note=note)


def _witness(send: Ask, base: str, code: str, peer: str, newest: LogCheckpoint) -> PeerAnswer:
    # 2. Asked to cosign the node's newest checkpoint "from" its own size: a witness
    # at that size cosigns it (again); one that cosigned another size names it.
    body = f"old {newest.tree_size}\n\n{newest.note}".encode()
    answer = send("POST", f"{base}/v1/witness/add-checkpoint", body)
    kind = answer.headers.get("content-type", "")
    if answer.status_code == 200:
        return PeerAnswer(peer, "witness", size=newest.tree_size)
    if answer.status_code == 409 and kind.startswith(SIZE_TYPE):
        try:
            return PeerAnswer(peer, "witness", size=int(answer.text.strip()))
        except ValueError:
            return PeerAnswer(peer, "witness", problem="answered a size that is not a number")
    if answer.status_code == 409:
        return PeerAnswer(peer, "witness", size=newest.tree_size, conflict=True)
    return PeerAnswer(peer, "witness", problem=f"answered {answer.status_code}")


def _decide(
    session: Session,
    code: str,
    answers: tuple[PeerAnswer, ...],
    needed: int,
    now: datetime,
) -> Standing:
    newest = newest_checkpoint(session, code)
    size = newest.tree_size if newest is not None else 0
    behind = max(
        (a for a in answers if a.problem is None and (a.size or 0) > size),
        key=lambda a: a.size or 0,
        default=None,
    )
    diverged = next((a for a in answers if a.conflict), None)
    for answer in answers:
        if diverged is None and answer.note and answer.size and answer.size <= size:
            own = bytes(newest.root) if newest and answer.size == size else None
            theirs = parse_checkpoint(answer.note.split("\n\n", 1)[0] + "\n").root
            if (own or _root(session, code, answer.size)) != theirs:
                diverged = answer
    hold = session.get(LogSigningHold, code)
    standing = Standing(code, size, answers, needed, hold)
    if diverged is not None:
        reason, peer = "diverged", diverged
        detail = f"{peer.peer}'s {peer.source} holds another root for size {peer.size}"
    elif behind is not None:
        reason, peer = "behind", behind
        detail = f"{peer.peer}'s {peer.source} holds size {peer.size}; this node signed {size}"
    else:
        if hold is not None:
            hold.checked_at = now
            if len(standing.confirmed_by) >= needed:
                session.delete(hold)
                hold = None
        return Standing(code, size, answers, needed, hold)
    if hold is None:
        hold = LogSigningHold(
            authority_code=code, held_since=now, checked_at=now, reason=reason, detail=detail
        )
    hold.reason, hold.detail, hold.checked_at = reason, detail, now
    hold.peer, hold.peer_size, hold.peer_note = peer.peer, peer.size, peer.note
    session.add(hold)
    session.flush()
    return Standing(code, size, answers, needed, hold)


def _root(session: Session, code: str, size: int) -> bytes:
    if size == 0:
        return EMPTY_ROOT
    stored = session.exec(
        select(LogCheckpoint.root).where(
            col(LogCheckpoint.authority_code) == code, col(LogCheckpoint.tree_size) == size
        )
    ).first()
    return bytes(stored) if stored is not None else root_at(session, code, size)
