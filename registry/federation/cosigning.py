"""Asking the other members' witnesses to cosign this node's checkpoints, keeping
their cosignatures, and serving the checkpoints with them.

After an append, ``Cosigner.tick`` (from the serving process, beside the notices)
sends each hosted log's newest checkpoint to the witness of every other member the
trust list names (``<nodeUrl>/v1/witness/add-checkpoint``, c2sp.org/tlog-witness),
all at once, on threads of their own, with the consistency proof from the size that
witness last cosigned. Appends never wait for it.

The witnesses are asked in *rounds*, a log at a time (``registry.federation.rounds``):
every witness asked in a round is asked about the same checkpoint, so that under
steady appends one checkpoint gets the policy's number of cosignatures instead of
each witness cosigning a size of its own. A log's next round, of its newest
checkpoint, starts once the round before is settled (the policy's number cosigned,
or every witness asked answered or failed); a slow witness is not waited for, it
joins a later round once it has answered.

A witness answers with its cosignature line, which is kept only once it verifies
with the witness key the trust list names (``LogCosignature``); or with the size it
last cosigned (409, ``text/x.tlog.size``), from which the request is made again. A
witness that cosigned more of this log than it holds is told nobody's word: the log
has forked or been restored from an old backup, and the server log says so. A
witness that fails or is slow is asked again a few seconds later.

The witnesses of the other members this node hosts (all of them on the demo's one
node) are asked in-process, through the same checks and record as over HTTP
(``registry.federation.witness.witness_here``), one request for all of them: such a
node witnesses its own logs, which proves the format, not independence.

A checkpoint is *witnessed* once the witness policy's number of the other members
have cosigned it (``witnessed``).

A node that mirrors another member's log keeps the cosignatures of that log's
checkpoints too, from the notes its poll and the origin's notices bring
(``keep_note_cosignatures``), and serves them as the origin does.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import sqlalchemy as sa
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from registry.authorities import hosted_codes
from registry.crypto.keys import KeyStore
from registry.errors import RegistryError
from registry.federation.rounds import Rounds
from registry.federation.witness import SIZE_TYPE, witness_here
from registry.storage.base import UTCDateTime, insert_or_skip
from registry.storage.db import session_scope
from registry.storage.models import Authority, LogCheckpoint, LogCosignature, LogHead
from registry.tlog.checkpoint import (
    parse_checkpoint,
    signature_lines,
    with_cosignatures,
    witness_cosignatures,
)
from registry.tlog.note import parse_witness_key
from registry.tlog.reader import consistency
from registry.tlog.sequencer import newest_checkpoint
from registry.trust.document import TrustListContent
from registry.trust.store import current_version
from registry.trust.witnesses import other_witnesses, witnessing

__all__ = [
    "COSIGN_TIMEOUT_SECONDS",
    "Asking",
    "Cosigner",
    "cosigned_note",
    "keep_cosignatures",
    "keep_note_cosignatures",
    "witnessed",
]

COSIGN_TIMEOUT_SECONDS = 5.0
"""Longest a witness may take to answer; a slower one is asked again later."""

_RETRY_SECONDS = 5.0
_TRIES = 3  # a 409 with the size last cosigned is answered at once, a few times
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asking:
    """One checkpoint to have one witness cosign."""

    witness: str  # the member whose witness it is
    url: str | None  # its node's; None for a witness key this node holds
    key: str  # its C2SP verifier key, as the trust list names it
    authority: str  # whose log
    size: int
    note: str
    needed: int  # how many witnesses the policy needs to cosign it


Send = Callable[[str, bytes], httpx.Response]
"""Posts an ``add-checkpoint`` body to a witness's URL; its answer."""


def cosigned_note(session: Session, checkpoint: LogCheckpoint) -> str:
    """The checkpoint as this node serves it: the log's note and, after its lines,
    each witness's cosignature of that size."""
    lines = session.exec(
        select(LogCosignature.line)
        .where(
            col(LogCosignature.authority_code) == checkpoint.authority_code,
            col(LogCosignature.tree_size) == checkpoint.tree_size,
        )
        .order_by(col(LogCosignature.witness))
    ).all()
    # A mirror kept a peer's note with the lines served with it before it kept them
    # apart: each line is served once.
    lines = [line for line in lines if line not in checkpoint.note]
    return with_cosignatures(checkpoint.note, lines) if lines else checkpoint.note


def witnessed(trust: TrustListContent, authority: str, note: str) -> tuple[dict[str, int], int]:
    """The other members whose witness cosigned ``note`` (a checkpoint of
    ``authority``'s log), each with its time, and how many the witness policy needs.
    Raises what ``witness_cosignatures`` raises for a listed witness's bad line."""
    found = witnessing(trust, authority, note)
    times = {code: int(at.timestamp()) for code, at in found.cosigners.items()}
    return times, found.required


def keep_cosignatures(
    session: Session, asking: Asking, answer: str, *, now: datetime | None = None
) -> int:
    """Keep a witness's answer to ``asking``: the lines that verify with its key (its
    newest for a size already held is not kept again). Returns the lines kept; raises
    ``RegistryError`` if a line of its key does not verify, or none does."""
    now = now or datetime.now(UTC)
    lines = answer.splitlines(keepends=True)
    key = parse_witness_key(asking.key)
    times = witness_cosignatures(with_cosignatures(asking.note, lines), [key])
    if key.name not in times:
        raise RegistryError(f"the witness of {asking.witness} sent no cosignature of its key")
    mine = [line for line in lines if line.split(" ")[1:2] == [key.name]]
    # Written first, read never: on SQLite a read that turned into a write could find
    # another thread's write in its way and fail at once instead of waiting.
    kept = session.execute(
        insert_or_skip(session, LogCosignature, ["authority_code", "tree_size", "witness"]).values(
            authority_code=asking.authority,
            tree_size=asking.size,
            witness=key.name,
            cosigned_at=datetime.fromtimestamp(times[key.name], UTC),
            line=mine[0],
            received_at=now,
        )
    )
    return int(getattr(kept, "rowcount", 0) or 0)


def keep_note_cosignatures(
    session: Session,
    trust: TrustListContent,
    authority: str,
    note: str,
    *,
    now: datetime | None = None,
) -> int:
    """Keep the cosignatures ``note`` carries (a checkpoint of ``authority``'s log, its
    log signature checked by the caller) of the other members' witnesses ``trust``
    names, for the checkpoint of that size and root this node holds: none if it holds
    none, as a later note brings them again. A line of a listed witness key that does
    not verify is not kept, and is logged; lines of other keys are ignored. Returns
    the lines kept that were not kept before. Raises ``LogProofError`` for a note that
    is not a signed checkpoint."""
    now = now or datetime.now(UTC)
    text, lines = signature_lines(note)
    checkpoint = parse_checkpoint(text)
    keys = {
        key.name: key
        for key in (parse_witness_key(w.verifier_key) for _, w in other_witnesses(trust, authority))
    }
    kept = 0
    for line in lines:
        key = keys.get(line.split(" ")[1])
        if key is None:
            continue
        try:
            times = witness_cosignatures(f"{text}\n{line}", [key])
        except RegistryError as exc:
            _log.warning("%s's checkpoint %d: %s; not kept", authority, checkpoint.size, exc)
            continue
        if key.name not in times:
            continue  # another key under a listed name: not a witness's
        # One statement, written first and read never (see ``keep_cosignatures``): the
        # row goes in only beside the checkpoint held of that size and root.
        held = sa.select(
            col(LogCheckpoint.authority_code),
            col(LogCheckpoint.tree_size),
            sa.literal(key.name, sa.String()),
            sa.literal(datetime.fromtimestamp(times[key.name], UTC), UTCDateTime()),
            sa.literal(line, sa.Text()),
            sa.literal(now, UTCDateTime()),
        ).where(
            col(LogCheckpoint.authority_code) == authority,
            col(LogCheckpoint.tree_size) == checkpoint.size,
            col(LogCheckpoint.root) == checkpoint.root,
        )
        written = session.execute(
            insert_or_skip(
                session, LogCosignature, ["authority_code", "tree_size", "witness"]
            ).from_select(
                ["authority_code", "tree_size", "witness", "cosigned_at", "line", "received_at"],
                held,
            )
        )
        kept += int(getattr(written, "rowcount", 0) or 0)
    return kept


class Cosigner:
    """Has each hosted log's newest checkpoint cosigned by the other members'
    witnesses, in rounds (see the module; ``rounds`` is their state). ``tick``
    sends what is due without waiting for it; ``wait`` sleeps until the next tick is
    worth making.

    With ``key_store``, the witnesses of the other members this node hosts cosign
    in-process with its keys; without, they are not asked.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        key_store: KeyStore | None = None,
        send: Send | None = None,
        report: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self._engine = engine
        self._key_store = key_store
        self._client = httpx.Client(timeout=COSIGN_TIMEOUT_SECONDS)
        self._send = send or self._post
        self._report = report
        self._cosigned: dict[tuple[str, str], int] = {}  # (witness, log): size it cosigned
        self.rounds = Rounds()
        self._woken = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cosign")

    def close(self) -> None:
        """Wait for the requests in flight, and stop."""
        self._pool.shutdown(wait=True)
        self._client.close()

    def __enter__(self) -> Cosigner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _post(self, url: str, body: bytes) -> httpx.Response:
        return self._client.post(
            f"{url.rstrip('/')}/v1/witness/add-checkpoint",
            content=body,
            headers={"Content-Type": "text/plain"},
        )

    def wait(self, timeout: float) -> None:
        """Sleep ``timeout`` seconds, or less: until a round is settled or a witness
        left behind by the rounds has answered, when the next tick has work; or
        until a settled round's gap is over, when a new round may start."""
        gap = self.rounds.next_start()
        if gap is not None and gap > 0:
            timeout = min(timeout, gap)
        self._woken.wait(timeout)
        self._woken.clear()

    def due(self) -> list[Asking]:
        """What to ask now, a round of each hosted log (``registry.federation.rounds``):
        its newest checkpoint once the round before is settled and the log has grown
        past it, else that round's checkpoint; of each witness free to be asked."""
        with session_scope(self._engine) as session:
            hosted = list(
                session.exec(
                    select(LogHead.authority_code, LogHead.size)
                    .join(Authority, col(Authority.code) == col(LogHead.authority_code))
                    .where(col(Authority.hosted), col(LogHead.size) > 0)
                )
            )
            trust = current_version(session)
            if trust is None or not hosted:
                return []
            here = set(hosted_codes(session))
            due: list[Asking] = []
            for code, size in hosted:
                others = len([m for m in trust.content.members if m.code != code])
                needed = trust.content.witnessing.required(others)
                witnesses = {
                    member.code: (member, witness)
                    for member, witness in other_witnesses(trust.content, code)
                    if self._key_store is not None or member.code not in here
                }
                target = self.rounds.target(code, size)
                free = self.rounds.free(code, witnesses, size if target is None else target[0])
                if not free:
                    continue
                if target is None:  # a new round, of the newest checkpoint
                    checkpoint = newest_checkpoint(session, code)
                    if checkpoint is None:
                        continue
                    target = (checkpoint.tree_size, checkpoint.note)
                for name in free:
                    member, witness = witnesses[name]
                    url = None if member.code in here else member.node_url
                    due.append(
                        Asking(name, url, witness.verifier_key, code, *target, needed=needed)
                    )
        return due

    def tick(self) -> None:
        """Ask what is due, without waiting: each witness of another node on a
        thread, those of this node together on one."""
        by_log: dict[str, list[Asking]] = {}
        for asking in self.due():
            by_log.setdefault(asking.authority, []).append(asking)
        for log, asks in by_log.items():
            first = asks[0]
            names = [asking.witness for asking in asks]
            self.rounds.ask(log, first.size, first.note, first.needed, names)
            here = [asking for asking in asks if asking.url is None]
            if here:
                self._pool.submit(self._run, here)
            for asking in asks:
                if asking.url is not None:
                    self._pool.submit(self._run, [asking])

    def _run(self, asks: Sequence[Asking]) -> None:
        names = [asking.witness for asking in asks]
        cosigned = False
        try:
            cosigned = self._ask(asks)
            self.rounds.recovered(names)
        except Exception as exc:
            self.rounds.failed(names, _RETRY_SECONDS)
            self._report(f"cosigning by {', '.join(names)}: {type(exc).__name__}: {exc}")
        finally:
            if self.rounds.answered(asks[0].authority, asks[0].size, names, cosigned=cosigned):
                self._woken.set()

    def _ask(self, asks: Sequence[Asking]) -> bool:
        """Ask, and keep the cosignatures; whether they were given (not if the
        witness had cosigned a newer checkpoint already)."""
        first = asks[0]
        old = self._cosigned.get((first.witness, first.authority))
        if old is None:
            old = self._held(first)
        for _ in range(_TRIES):
            status, kind, text = self._answer(asks, self._body(first, old))
            if status == 409 and kind == SIZE_TYPE:
                old = int(text.strip())
                if old > first.size:
                    self._ahead(asks, old)
                    return False
                continue
            if status != 200:
                raise RegistryError(f"answered {status}: {text.strip()[:200]}")
            with session_scope(self._engine) as session:
                for asking in asks:
                    keep_cosignatures(session, asking, text)
            for asking in asks:
                self._cosigned[(asking.witness, asking.authority)] = asking.size
            return True
        raise RegistryError(f"the size it cosigned kept changing ({old})")

    def _answer(self, asks: Sequence[Asking], body: bytes) -> tuple[int, str, str]:
        """The witness's status, content type and body: over HTTP, or in-process
        (committed before it is read, as the HTTP witness commits before it answers)."""
        url = asks[0].url
        if url is not None:
            answer = self._send(url, body)
            return answer.status_code, answer.headers.get("content-type", ""), answer.text
        if self._key_store is None:
            raise RegistryError("this node's witness keys are not at hand")
        with session_scope(self._engine) as session:
            mine = witness_here(
                session, self._key_store, body, witnesses=[asking.witness for asking in asks]
            )
        return mine.status, mine.content_type, mine.body

    def _ahead(self, asks: Sequence[Asking], old: int) -> None:
        """The witness cosigned more than the checkpoint asked about: a newer one, to
        ask about in a later round, or more than the log holds at all."""
        first = asks[0]
        with session_scope(self._engine) as session:
            head = session.get(LogHead, first.authority)
            size = head.size if head is not None else 0
        names = [asking.witness for asking in asks]
        if old <= size:
            for name in names:
                self._cosigned[(name, first.authority)] = old
                self.rounds.answered_for(name, first.authority, old)
            return
        self.rounds.failed(names, 60 * _RETRY_SECONDS)
        raise RegistryError(
            f"its witness cosigned {old} entries of the log of {first.authority}, which "
            f"holds {size}: a fork, or a database restored from an old backup; audit the "
            "log before it signs more"
        )

    def _held(self, asking: Asking) -> int:
        """The size the witness last cosigned of the log, as far as this node knows."""
        with session_scope(self._engine) as session:
            name = parse_witness_key(asking.key).name
            found = session.exec(
                select(func.max(LogCosignature.tree_size)).where(
                    col(LogCosignature.authority_code) == asking.authority,
                    col(LogCosignature.witness) == name,
                )
            ).one()
        return int(found or 0)

    def _body(self, asking: Asking, old: int) -> bytes:
        proof: list[bytes] = []
        if 0 < old < asking.size:
            with session_scope(self._engine) as session:
                proof = consistency(session, asking.authority, old, asking.size)
        lines = "".join(base64.b64encode(h).decode("ascii") + "\n" for h in proof)
        return f"old {old}\n{lines}\n{asking.note}".encode()
