"""This node as a witness of the other members' logs (c2sp.org/tlog-witness).

A log's node sends ``POST /v1/witness/add-checkpoint`` with its newest checkpoint,
the size this witness last cosigned (``old``) and the consistency proof between the
two. The witness cosigns (c2sp.org/tlog-cosignature) only a checkpoint that

- is of a member's log that this node does not host, by the origin the trust list
  names for it (else 404), and signed by the log key the trust list names (else 403);
- does not shrink from ``old`` (else 400), where ``old`` is the size it last
  cosigned for that log, or 0 (else 409, with that size as ``text/x.tlog.size``);
- is proven to extend what it last cosigned (else 422), or, at the same size, has
  the same root (else 409: the log signed two roots for one size, which is kept as
  fork evidence, ``registry.federation.evidence``).

Checking and moving the log's state (``witness_state``) happen under that row's lock
in one transaction, and the cosignature leaves only once it has committed: the
witness never goes back, whatever requests race. The answer is one cosignature line
for each authority this node hosts (normally one), each with its own witness key and
name (``witness_name``). No token is asked: the log's signature is the credential.

A node that hosts several members is also its own witness of their logs
(``witness_here``, called in-process by ``registry.federation.cosigning``): the same
request, the same checks and the same record, for a log it hosts, cosigned only with
the witness keys of the other members it hosts that the caller names.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col

from registry.authorities import hosted_codes, key_location, keys_of, own_signer
from registry.crypto.keys import KeyStore, Signer
from registry.errors import LogProofError, RegistryError, SignatureMismatch
from registry.federation.evidence import fork_evidence
from registry.storage.base import locked_row
from registry.storage.models import ForkEvidenceRow, PeerLog, WitnessState
from registry.tlog.checkpoint import Checkpoint, cosign, open_note, parse_checkpoint
from registry.tlog.merkle import verify_consistency
from registry.tlog.note import parse_verifier_key, parse_witness_key, witness_name
from registry.trust.document import Member, WitnessEntry
from registry.trust.store import current_version

__all__ = [
    "MAX_BODY",
    "SIZE_TYPE",
    "WitnessAnswer",
    "add_checkpoint",
    "witness_here",
]

MAX_BODY = 16 * 1024
"""The largest ``add-checkpoint`` body taken (a checkpoint and 63 proof lines are
about 3 KiB)."""

SIZE_TYPE = "text/x.tlog.size"
"""The content type of a 409 that tells the client the size last cosigned."""

_MAX_PROOF = 63
_OLD = re.compile(r"^old (0|[1-9][0-9]{0,18})$")


@dataclass(frozen=True)
class WitnessAnswer:
    """What the witness answers: the status, the body and its content type."""

    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class _Request:
    old: int
    proof: list[bytes]
    note: str


class _Refusal(Exception):
    def __init__(self, status: int, body: str, content_type: str | None = None) -> None:
        super().__init__(body)
        self.answer = WitnessAnswer(status, body, content_type or WitnessAnswer.content_type)


def _parse(body: bytes) -> _Request:
    if len(body) > MAX_BODY:
        raise _Refusal(400, f"the request is larger than {MAX_BODY} bytes\n")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _Refusal(400, "the request is not UTF-8\n") from None
    head, separator, note = text.partition("\n\n")
    lines = head.split("\n")
    old = _OLD.match(lines[0])
    if not separator or old is None:
        raise _Refusal(
            400, "the request starts with an old size line and ends its proof with an empty line\n"
        )
    if len(lines) - 1 > _MAX_PROOF:
        raise _Refusal(400, f"at most {_MAX_PROOF} consistency proof lines\n")
    try:
        proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
    except binascii.Error:
        raise _Refusal(400, "a consistency proof line is not base64\n") from None
    if any(len(h) != 32 for h in proof):
        raise _Refusal(400, "a consistency proof line is not a 32-byte hash\n")
    return _Request(old=int(old.group(1)), proof=proof, note=note)


def _opened(request: _Request, followed: Sequence[Member]) -> tuple[Member, str, Checkpoint]:
    """The member (of those whose logs are ``followed``) whose log the checkpoint is,
    its text and the checkpoint."""
    origin = request.note.split("\n", 1)[0]
    member = next((m for m in followed if m.log.origin == origin), None)
    if member is None:
        raise _Refusal(404, "this witness follows no log of that origin\n")
    try:
        opened = open_note(request.note, [parse_verifier_key(member.log.verifier_key)])
        checkpoint = parse_checkpoint(opened.text)
    except SignatureMismatch:
        raise _Refusal(403, "the log's signature does not verify\n") from None
    except LogProofError as exc:
        raise _Refusal(403 if "no known key" in exc.message else 400, f"{exc.message}\n") from None
    if checkpoint.origin != member.log.origin:
        raise _Refusal(404, "this witness follows no log of that origin\n")
    if request.old > checkpoint.size:
        raise _Refusal(400, "the old size is larger than the checkpoint's\n")
    return member, opened.text, checkpoint


def _extends(state: WitnessState | None, checkpoint: Checkpoint, request: _Request) -> None:
    """Raises unless ``checkpoint`` extends what was cosigned (``state``); a root of
    its own for the size cosigned is left to the caller."""
    cosigned = state.tree_size if state is not None else 0
    if request.old != cosigned:
        raise _Refusal(409, f"{cosigned}\n", SIZE_TYPE)
    if state is None:
        if request.proof:
            raise _Refusal(422, "a consistency proof from size 0 must be empty\n")
        return
    if checkpoint.size == state.tree_size:
        return
    try:
        verify_consistency(
            state.tree_size, checkpoint.size, bytes(state.root), checkpoint.root, request.proof
        )
    except LogProofError as exc:
        raise _Refusal(422, f"{exc.message}\n") from None


def add_checkpoint(
    session: Session,
    key_store: KeyStore,
    body: bytes,
    *,
    origin_prefix: str,
    now: datetime | None = None,
) -> WitnessAnswer:
    """Answer one ``add-checkpoint`` request (``body`` as sent) as the module says:
    for another member's log, with a line for each authority this node hosts.

    On 200 the caller must commit before it sends the answer; on any other status
    it may commit too (a conflict's evidence is kept), and nothing else was written.
    """
    trust = current_version(session)
    members = trust.content.members if trust is not None else ()
    hosted = hosted_codes(session)
    listed = {m.code: m.witness for m in members}
    names = []
    for code in hosted:
        witness = listed.get(code)
        names.append((code, witness.name if witness else witness_name(origin_prefix, code)))
    return _answer(
        session,
        key_store,
        body,
        followed=[m for m in members if m.code not in hosted],
        signers=lambda _member: names,
        listed=listed,
        now=now,
    )


def witness_here(
    session: Session,
    key_store: KeyStore,
    body: bytes,
    *,
    witnesses: Collection[str],
    now: datetime | None = None,
) -> WitnessAnswer:
    """Answer in-process an ``add-checkpoint`` request for a log this node hosts,
    with the checks and the record of ``add_checkpoint``, cosigned by the witness key
    the trust list names for each of ``witnesses`` (member codes) that this node hosts
    too, the log's own authority never (404 if that leaves none).

    The caller commits as it would for ``add_checkpoint``.
    """
    trust = current_version(session)
    members = trust.content.members if trust is not None else ()
    hosted = hosted_codes(session)
    listed = {m.code: m.witness for m in members}

    def signers(member: Member) -> list[tuple[str, str]]:
        return [
            (code, witness.name)
            for code in hosted
            if code in witnesses and code != member.code and (witness := listed.get(code))
        ]

    return _answer(
        session,
        key_store,
        body,
        followed=[m for m in members if m.code in hosted],
        signers=signers,
        listed=listed,
        now=now,
    )


def _answer(
    session: Session,
    key_store: KeyStore,
    body: bytes,
    *,
    followed: Sequence[Member],
    signers: Callable[[Member], Sequence[tuple[str, str]]],
    listed: Mapping[str, WitnessEntry | None],
    now: datetime | None,
) -> WitnessAnswer:
    """The witness's answer for a checkpoint of one of the ``followed`` logs,
    cosigned by each (code, witness name) of ``signers`` of that log's member."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    try:
        request = _parse(body)
        member, text, checkpoint = _opened(request, followed)
        names = signers(member)
        if not names:
            raise _Refusal(404, "this node holds no witness key of those members\n")
        state = _lock(session, member.log.origin)
        _extends(state, checkpoint, request)
    except _Refusal as refusal:
        return refusal.answer
    if (
        state is not None
        and checkpoint.size == state.tree_size
        and checkpoint.root != bytes(state.root)
    ):
        _conflict(session, member, state, request.note, now=now)
        return WitnessAnswer(409, "the log signed another root for this size\n")
    timestamp = int(now.timestamp())
    lines = [
        cosign(
            text,
            name,
            _witness_signer(session, key_store, code, listed.get(code), now=now),
            timestamp=timestamp,
        )
        for code, name in names
    ]
    _keep(session, state, member, checkpoint, request.note, now=now)
    return WitnessAnswer(200, "".join(lines))


def _lock(session: Session, origin: str) -> WitnessState | None:
    return locked_row(
        session, WitnessState, col(WitnessState.origin) == origin, WitnessState.tree_size
    )


def _witness_signer(
    session: Session,
    key_store: KeyStore,
    code: str,
    listed: WitnessEntry | None,
    *,
    now: datetime,
) -> Signer:
    """The witness key the trust list names for ``code``, if this node holds it: a
    newer one counts only once a version lists it. Else the newest held."""
    if listed is not None:
        public = parse_witness_key(listed.verifier_key).public_key.public_bytes_raw()
        for key in reversed(keys_of(session, code)):
            location = key_location(key)
            if key.purpose == "witness" and location is not None and key_store.holds(location):
                signer = key_store.signer(location)
                if signer.public_key.public_bytes_raw() == public:
                    return signer
    return own_signer(
        session, key_store, code, purpose="witness", credential_type=None, at=now
    ).signer


def _keep(
    session: Session,
    state: WitnessState | None,
    member: Member,
    checkpoint: Checkpoint,
    note: str,
    *,
    now: datetime,
) -> None:
    if state is None:
        state = WitnessState(
            origin=member.log.origin,
            authority_code=member.code,
            tree_size=checkpoint.size,
            root=checkpoint.root,
            note=note,
            cosigned_at=now,
        )
    else:
        state.tree_size, state.root, state.note = checkpoint.size, checkpoint.root, note
        state.cosigned_at = now
    session.add(state)
    session.flush()


def _conflict(
    session: Session, member: Member, state: WitnessState, note: str, *, now: datetime
) -> None:
    """Keep the two checkpoints of one size as evidence: on the row, and with the
    follower's evidence of that log when this node follows it."""
    try:
        evidence = fork_evidence(
            origin=member.log.origin,
            verifier_key=member.log.verifier_key,
            notes=(state.note, note),
        )
    except RegistryError:
        return  # the same checkpoint after all: nothing to keep
    text = json.dumps(evidence, ensure_ascii=False)
    state.conflict = text
    session.add(state)
    if session.get(PeerLog, member.code) is not None:
        session.add(ForkEvidenceRow(authority_code=member.code, evidence=text, found_at=now))
    session.flush()
