"""Which checkpoint of each log an answer proves against, and when a record was
witnessed.

An answer (a ``VerificationReport``, a proof bundle) proves each log against its
newest *witnessed* checkpoint (``registry.trust.witnesses``) when that checkpoint
already includes every record relied on in it; otherwise against the log's newest
checkpoint, with the cosignatures it has so far, and the answer says that the
newest entries are not yet witnessed (``not-yet-witnessed``: it informs, it does
not decide). The cosignatures are those this node keeps (``log_cosignature``: its
own logs' from their witnesses, mirrored logs' as their origin serves them), and
the note handed out carries exactly the lines that count under the trust list.

A record signed by a key since reported compromised counts only if a checkpoint
including it was witnessed before the compromise (``earliest_witnessed``): the
witnesses' times, not the log's, show that the record existed then.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Select
from sqlmodel import Session, col

from registry.calendar import CHINA, parse_aware
from registry.errors import NotFound, RegistryError
from registry.recognition import Reason
from registry.storage.db import PREPARED
from registry.storage.models import LogCheckpoint, LogCosignature, StoredCredential
from registry.tlog.checkpoint import with_cosignatures
from registry.tlog.proofs import Head
from registry.tlog.reader import ProofBundle, entry_of, inclusion_at, latest_checkpoint
from registry.trust.document import TrustListContent
from registry.trust.witnesses import (
    Witnessing,
    other_witnesses,
    required_cosignatures,
    witnessing,
)
from registry.verification.dossier import Dossier, Held
from registry.verification.freshness import LogRelied
from registry.verification.judge import Said

__all__ = [
    "KEY_COMPROMISED",
    "NOT_YET_WITNESSED",
    "WitnessedCheckpoint",
    "choose_checkpoints",
    "earliest_witnessed",
    "head_witnessing",
    "newest_witnessed",
    "recent_cosignatures",
    "screen_compromised",
    "unwitnessed_reasons",
    "witnessed_bundle",
]

_PAGE = 64
"""Cosignature rows read at a time while looking for a witnessed checkpoint."""

_PAGES = 16
"""Pages read at most: beyond that, no checkpoint is taken as witnessed."""

_KEPT = 4096
"""Checkpoints whose counted cosignatures a process keeps (they never change for the
same note, lines and witness keys)."""

_COUNTED: dict[tuple[object, ...], WitnessedCheckpoint] = {}
_LOCK = threading.Lock()


@dataclass(frozen=True)
class WitnessedCheckpoint:
    """A checkpoint of ``authority``'s log as an answer carries it: its size and root,
    the note with the cosignature lines that count, and who cosigned it when."""

    authority: str
    size: int
    root: bytes
    note: str
    witnessing: Witnessing

    @property
    def head(self) -> Head:
        """The checkpoint as ``registry.tlog.proofs.prove`` takes it."""
        return Head(self.size, self.root, self.note)


def _read(session: Session, query: Select[int, str, str]) -> list[tuple[int, str, str]]:
    return [(int(r[0]), str(r[1]), str(r[2])) for r in session.connection().execute(query)]


def _rows(
    session: Session, query: Select[int, str, str], newest_first: bool
) -> Iterator[list[tuple[int, str, str]]]:
    """The rows of ``query`` a page at a time, each page ending at a size boundary
    (so a size's lines are never split between pages), at most ``_PAGES`` pages."""
    size = col(LogCosignature.tree_size)
    after: int | None = None
    for _ in range(_PAGES):
        paged = (
            query if after is None else query.where(size < after if newest_first else size > after)
        )
        rows = _read(session, paged.limit(_PAGE))
        if len(rows) < _PAGE:
            if rows:
                yield rows
            return
        last = rows[-1][0]
        whole = [r for r in rows if r[0] != last] or _read(session, query.where(size == last))
        after = whole[-1][0]
        yield whole


def _by_size(rows: list[tuple[int, str, str]]) -> list[tuple[int, list[str]]]:
    sizes: dict[int, list[str]] = {}
    for size, _witness, line in rows:
        sizes.setdefault(size, []).append(line)
    return list(sizes.items())


def _query(authority: str) -> Select[int, str, str]:
    return sa.select(
        col(LogCosignature.tree_size), col(LogCosignature.witness), col(LogCosignature.line)
    ).where(col(LogCosignature.authority_code) == authority)


def _checkpoint(
    session: Session, trust: TrustListContent, authority: str, size: int, lines: list[str]
) -> WitnessedCheckpoint | None:
    """The stored checkpoint of that size with those of ``lines`` that count under
    the trust list, or ``None`` where this node holds no checkpoint of that size."""
    if lines:
        # What a checkpoint's lines count for is worked out once (``_counted``): each
        # line signs that checkpoint's text, so the lines name the checkpoint and the
        # stored note need not be read again.
        with _LOCK:
            cached = _COUNTED.get(_key(trust, authority, size, lines))
        if cached is not None:
            return cached
    row = session.get(LogCheckpoint, (authority, size))
    if row is None:
        return None
    return _counted(trust, Head(size, bytes(row.root), row.note), authority, lines)


def _key(
    trust: TrustListContent, authority: str, size: int, lines: list[str]
) -> tuple[object, ...]:
    witnesses = tuple(
        (member.code, witness.verifier_key) for member, witness in other_witnesses(trust, authority)
    )
    return (authority, size, tuple(lines), witnesses, required_cosignatures(trust, authority))


def _counted(
    trust: TrustListContent, head: Head, authority: str, lines: list[str]
) -> WitnessedCheckpoint:
    """The checkpoint ``head`` (its note as the log signed it) with those of ``lines``
    that count under the trust list, kept for the process when there are lines
    (without lines, the size alone would name another database's checkpoint too)."""
    note = head.checkpoint or ""
    counted: list[str] = []
    cosigners: dict[str, datetime] = {}
    for line in lines:
        # Each line alone: one made with a key the trust list has since replaced under
        # the same name (kept when it verified) must not hide the others.
        try:
            found = witnessing(trust, authority, with_cosignatures(note, [line]))
        except RegistryError:
            continue
        if found.cosigners:
            counted.append(line)
            cosigners.update(found.cosigners)
    result = WitnessedCheckpoint(
        authority,
        head.size,
        head.root,
        with_cosignatures(note, counted) if counted else note,
        Witnessing(authority, cosigners, required_cosignatures(trust, authority)),
    )
    if lines:
        with _LOCK:
            if len(_COUNTED) >= _KEPT:
                _COUNTED.clear()
            _COUNTED[_key(trust, authority, head.size, lines)] = result
    return result


def newest_witnessed(
    session: Session,
    trust: TrustListContent,
    authority: str,
    *,
    upto: int,
    first: list[tuple[int, str, str]] | None = None,
) -> WitnessedCheckpoint | None:
    """The newest checkpoint of ``authority``'s log, at most ``upto`` entries, that the
    policy's number of witnesses cosigned, with its counted cosignatures. ``first``:
    its newest cosignature rows as ``recent_cosignatures`` read them, if read."""
    if first is not None:
        found = _witnessed_in(session, trust, authority, [first])
        if found is not None or len(first) < _PAGE:
            return found
        upto = first[-1][0] - 1
    query = _query(authority).where(col(LogCosignature.tree_size) <= upto)
    query = query.order_by(col(LogCosignature.tree_size).desc(), col(LogCosignature.witness))
    return _first_witnessed(session, trust, authority, query, newest_first=True)


def head_witnessing(
    session: Session,
    trust: TrustListContent,
    authority: str,
    *,
    size: int,
    rows: list[tuple[int, str, str]],
) -> Witnessing | None:
    """Who cosigned ``authority``'s checkpoint of ``size`` (its newest) and how many the
    policy requires, from its log's cosignature rows as ``recent_cosignatures`` read
    them; ``None`` where the trust list does not name the authority or this node
    holds no checkpoint of that size."""
    if trust.member(authority) is None:
        return None
    lines = [line for at, _witness, line in rows if at == size]
    if not lines:
        return Witnessing(authority, {}, required_cosignatures(trust, authority))
    found = _checkpoint(session, trust, authority, size, lines)
    return found.witnessing if found is not None else None


@functools.lru_cache(maxsize=16)
def _recent_statement(logs: int) -> sa.CompoundSelect[str, int, str, str]:
    """Each of ``logs`` logs' newest ``_PAGE`` cosignature rows up to a size, the log
    and the size bound as parameters ``a<i>`` and ``n<i>``: built once per count,
    so that each answer only binds its values."""
    size = col(LogCosignature.tree_size)
    parts = []
    for i in range(logs):
        newest = (
            sa.select(
                col(LogCosignature.authority_code),
                size,
                col(LogCosignature.witness),
                col(LogCosignature.line),
            )
            .where(
                col(LogCosignature.authority_code) == sa.bindparam(f"a{i}", type_=sa.String),
                size <= sa.bindparam(f"n{i}", type_=sa.BigInteger),
            )
            .order_by(size.desc(), col(LogCosignature.witness))
            .limit(_PAGE)
            .subquery()
        )
        parts.append(sa.select(*newest.c))
    # A look-up by key whose plan is the same at any size: prepared, not planned anew.
    return sa.union_all(*parts).execution_options(**PREPARED)


def recent_cosignatures(
    session: Session, heads: Mapping[str, Head]
) -> dict[str, list[tuple[int, str, str]]]:
    """Each log's newest cosignature rows (at most ``_PAGE``, none past its head, newest
    size first), for every log in ``heads``, in one query."""
    wanted = sorted((a, h.size) for a, h in heads.items() if h.checkpoint is not None)
    found: dict[str, list[tuple[int, str, str]]] = {code: [] for code in heads}
    if not wanted:
        return found
    values: dict[str, object] = {}
    for i, (authority, upto) in enumerate(wanted):
        values[f"a{i}"], values[f"n{i}"] = authority, upto
    rows = session.connection().execute(_recent_statement(len(wanted)), values)
    for row in rows:
        found[str(row[0])].append((int(row[1]), str(row[2]), str(row[3])))
    for held in found.values():
        held.sort(key=lambda row: (-row[0], row[1]))
    return found


def earliest_witnessed(
    session: Session,
    trust: TrustListContent,
    authority: str,
    *,
    above: int,
    before: datetime | None = None,
) -> WitnessedCheckpoint | None:
    """The earliest witnessed checkpoint of ``authority``'s log that includes the entry
    at ``above`` (its size is larger), and, with ``before``, whose policy's number of
    cosignatures are all older than that."""
    query = _query(authority).where(col(LogCosignature.tree_size) > above)
    query = query.order_by(col(LogCosignature.tree_size), col(LogCosignature.witness))
    if before is not None:
        query = query.where(col(LogCosignature.cosigned_at) < before)
    found = _first_witnessed(session, trust, authority, query, newest_first=False)
    if found is None or before is None:
        return found
    at = found.witnessing.witnessed_at
    return found if at is not None and at < before else None


def _first_witnessed(
    session: Session,
    trust: TrustListContent,
    authority: str,
    query: Select[int, str, str],
    *,
    newest_first: bool,
) -> WitnessedCheckpoint | None:
    if trust.member(authority) is None:
        return None
    return _witnessed_in(session, trust, authority, _rows(session, query, newest_first))


def _witnessed_in(
    session: Session,
    trust: TrustListContent,
    authority: str,
    pages: Iterable[list[tuple[int, str, str]]],
) -> WitnessedCheckpoint | None:
    """The first checkpoint in ``pages`` (cosignature rows, a size's together) that
    the policy's number of witnesses cosigned."""
    needed = required_cosignatures(trust, authority)
    for page in pages:
        for size, lines in _by_size(page):
            if len(lines) < needed:
                continue
            found = _checkpoint(session, trust, authority, size, lines)
            if found is not None and found.witnessing.witnessed:
                return found
    return None


def choose_checkpoints(
    session: Session,
    trust: TrustListContent,
    heads: Mapping[str, Head],
    relied: Mapping[str, int],
) -> dict[str, WitnessedCheckpoint]:
    """For each log in ``heads`` with a checkpoint, the one an answer proves against:
    its newest witnessed checkpoint if that includes the largest leaf index relied on
    in it (``relied``, by authority; absent: none), else its newest checkpoint with
    the cosignatures it has so far. The cosignatures are read in one query."""
    recent = recent_cosignatures(session, heads)
    chosen: dict[str, WitnessedCheckpoint] = {}
    for authority, head in heads.items():
        if head.checkpoint is None:
            continue
        rows = recent[authority]
        witnessed = None
        if trust.member(authority) is not None:
            witnessed = newest_witnessed(session, trust, authority, upto=head.size, first=rows)
        largest = relied.get(authority)
        if witnessed is not None and (
            largest is None or largest < witnessed.size or witnessed.size == head.size
        ):
            chosen[authority] = witnessed
            continue
        # The newest checkpoint is the head's, read with it: its note needs no read.
        lines = [line for size, _witness, line in rows if size == head.size]
        chosen[authority] = _counted(trust, head, authority, lines)
    return chosen


NOT_YET_WITNESSED = "not-yet-witnessed"
"""The code of the reason a log's newest entries relied on are not yet witnessed."""

KEY_COMPROMISED = "record-key-compromised"
"""The code of the reason a record is not counted: its key was reported compromised
and no checkpoint witnessed before then includes it."""


def unwitnessed_reasons(logs: Iterable[LogRelied]) -> list[Said]:
    """One informing reason (``not-yet-witnessed``) for each log whose checkpoint the
    answer uses is not witnessed: the records' signatures hold, the log's history is
    not yet confirmed by the witnesses, and the verdict stays what the records say."""
    said: list[Said] = []
    for log in logs:
        found = log.witnessing
        if found is None or found.witnessed:
            continue
        have, need = len(found.cosigners), found.required
        zh = (
            f"{log.name_zh}的日志中本次所依据的最新记录尚未经见证（已有 {have} 个成员见证联署，"
            f"需要 {need} 个）：记录的签名有效，但其他成员尚未确认该日志向所有人展示的历史一致；"
            "稍后再次核验即可"
        )
        en = (
            f"the newest entries of {log.name_en}'s log this answer rests on are not yet "
            f"witnessed ({have} of the {need} cosignatures needed): their signatures "
            "hold, but the other members have not yet confirmed that the log shows "
            "everyone the same history; verify again shortly"
        )
        said.append(Said(Reason(NOT_YET_WITNESSED, zh, en), False, decides=False))
    return said


def _signed_by(held: Held) -> tuple[str, datetime] | None:
    proof = held.document.get("proof")
    if not isinstance(proof, Mapping):
        return None
    try:
        return str(proof["verificationMethod"]), parse_aware(str(proof["created"]), "created")
    except (KeyError, RegistryError):
        return None


def screen_compromised(
    session: Session, trust: TrustListContent, dossier: Dossier
) -> tuple[Dossier, list[Said], dict[str, WitnessedCheckpoint]]:
    """Set aside each record signed by a key the trust list reports compromised unless
    a checkpoint including it was witnessed before the compromise. Returns the
    dossier without them, an informing reason for each (``record-key-compromised``),
    and, for each record kept despite a compromised key, the witnessed checkpoint
    that vouches for it (an answer proves the record against that one)."""
    kept: list[Held] = []
    said: list[Said] = []
    vouched: dict[str, WitnessedCheckpoint] = {}
    for held in dossier.records:
        signed = _signed_by(held)
        record = trust.key(signed[0]) if signed is not None else None
        since = record.compromised_since if record is not None else None
        if signed is None or since is None:
            kept.append(held)
            continue
        found = None
        if held.leaf_index is not None:
            method, signed_at = signed
            found = _vouching(
                session, trust, held.issuer, held.leaf_index, method, signed_at=signed_at
            )
        if found is not None:
            kept.append(held)
            vouched[held.id] = found
            continue
        when = since.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")
        zh = (
            f"记录 {held.id} 不予采信：其签名密钥已报告自 {when}（北京时间）起泄露，"
            "且没有在此之前经见证的日志检查点包含该记录"
        )
        en = (
            f"record {held.id} is not counted: its signing key was reported compromised "
            f"from {when} China time (UTC+8), and no checkpoint witnessed before then "
            "includes it"
        )
        said.append(Said(Reason(KEY_COMPROMISED, zh, en), False, decides=False))
    if len(kept) == len(dossier.records):
        return dossier, said, vouched
    return replace(dossier, records=tuple(kept)), said, vouched


def witnessed_bundle(
    session: Session, trust: TrustListContent | None, credential_id: str
) -> tuple[ProofBundle, Witnessing | None]:
    """The credential's inclusion proof at its log's newest witnessed checkpoint that
    includes it, or at the newest checkpoint while none does yet; with who cosigned
    that checkpoint (``None`` without a trust list naming the log). For a credential
    signed by a key since reported compromised, at the earliest checkpoint witnessed
    before the compromise, where there is one (what vouches for it). Raises
    ``NotFound`` if the credential is in no log."""
    entry = entry_of(session, credential_id)
    if entry is None:
        raise NotFound(f"credential {credential_id} is in no log")
    authority, index = entry.authority_code, entry.leaf_index
    latest = latest_checkpoint(session, authority)
    chosen: WitnessedCheckpoint | None = None
    if trust is not None and trust.member(authority) is not None:
        row = session.get(StoredCredential, credential_id)
        method = row.verification_method if row is not None else ""
        chosen = _vouching(session, trust, authority, index, method)
        if chosen is None:
            head = Head(latest.tree_size, bytes(latest.root), latest.note)
            chosen = choose_checkpoints(session, trust, {authority: head}, {authority: index})[
                authority
            ]
    if chosen is None:
        hashes = inclusion_at(session, authority, index, latest.tree_size)
        return ProofBundle(authority, index, latest.tree_size, hashes, latest.note), None
    hashes = inclusion_at(session, authority, index, chosen.size)
    return ProofBundle(authority, index, chosen.size, hashes, chosen.note), chosen.witnessing


def _vouching(
    session: Session,
    trust: TrustListContent,
    authority: str,
    leaf_index: int,
    method: str,
    *,
    signed_at: datetime | None = None,
) -> WitnessedCheckpoint | None:
    """For an entry signed (at ``signed_at``, where the caller read it) by a key the
    trust list reports compromised, the earliest checkpoint witnessed before the
    compromise that includes it; ``None`` if there is none, or the key is not
    reported compromised."""
    record = trust.key(method)
    since = record.compromised_since if record is not None else None
    if since is None or (signed_at is not None and signed_at >= since):
        return None
    return earliest_witnessed(session, trust, authority, above=leaf_index, before=since)
