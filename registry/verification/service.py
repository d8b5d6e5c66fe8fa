"""Verifying an engineer on this node: gather, judge, prove, sign.

``EngineerVerifier`` is built once per process with what the node holds (its keys,
its lookup secret, the CE rules) and answers each question in the caller's
session with a signed ``VerificationReport``. Nothing is written: a report is an
answer, not a record, and a question names a person the registry must not keep a
trail of.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from registry.ce import PolicyBook, load_policies
from registry.crypto.eddsa_jcs_2022 import add_proofs_canonical
from registry.crypto.keys import KeyStore, Signer
from registry.errors import InvalidInput, KeyStoreError, NotFound, RegistryError
from registry.ids import Category, parse_category, province
from registry.issuing.context import china_today
from registry.recognition.agreements import load_agreements
from registry.storage.models import LogCheckpoint, LogHead, LogNode, SigningKey
from registry.tlog.merkle import NodeGetter, inclusion_proof, nodes_needed
from registry.tlog.sequencer import newest_checkpoint
from registry.trust.keys import key_standing
from registry.trust.store import current_version
from registry.verification.dossier import (
    Dossier,
    Subject,
    find_dossier,
    person_key,
    records_by_key,
)
from registry.verification.judge import Judgement, judge
from registry.verification.report import (
    VERIFICATION_REPORT,
    Evidence,
    LoggedCredential,
    report_document,
)

__all__ = ["EngineerQuery", "EngineerVerifier", "Verified"]

_SIGNER_TTL = 30.0
"""Seconds a resolved node key is reused before the trust list is read again."""


@dataclass(frozen=True)
class EngineerQuery:
    """One question: who (ID number, or registration number and name), where, when."""

    region: str
    id_number: str | None = None
    registration_number: str | None = None
    name: str | None = None
    category: str | None = None
    on: date | None = None


@dataclass(frozen=True)
class Verified:
    """The signed report, its canonical (RFC 8785) bytes, and the judgement it states."""

    report: dict[str, Any]
    judgement: Judgement
    canonical: bytes


class EngineerVerifier:
    """Answers ``EngineerQuery``s with signed reports; safe to share between threads."""

    def __init__(
        self, *, key_store: KeyStore, node_secret: bytes, policies: PolicyBook | None = None
    ) -> None:
        self._key_store = key_store
        self._node_secret = node_secret
        self._policies = policies or load_policies()
        self._lock = threading.Lock()
        self._signer: tuple[float, str, Signer] | None = None

    def node_signer(self, session: Session, *, at: datetime) -> tuple[str, Signer]:
        """The authority and key this node signs reports with: its newest node key
        that the current trust list allows to sign ``VerificationReport`` now.

        Raises ``KeyStoreError`` saying what to do when there is none.
        """
        with self._lock:
            cached = self._signer
            if cached is not None and time.monotonic() - cached[0] < _SIGNER_TTL:
                return cached[1], cached[2]
        current = current_version(session, at=at)
        if current is None:
            raise KeyStoreError("this node has no trust list yet, so no key to sign reports")
        keys = session.exec(
            select(SigningKey)
            .where(col(SigningKey.purpose) == "node")
            .order_by(col(SigningKey.valid_from))
        ).all()
        for key in reversed(keys):
            standing = key_standing(
                current.content.key,
                key.verification_method,
                signed_at=at,
                credential_type=VERIFICATION_REPORT,
            )
            if standing.valid and key.key_name and self._key_store.exists(key.key_name):
                signer = self._key_store.load(key.key_name)
                authority = standing.authority or ""
                with self._lock:
                    self._signer = (time.monotonic(), authority, signer)
                return authority, signer
        raise KeyStoreError(
            "this node holds no key that the trust list allows to sign VerificationReport: "
            "create one with `registry key node CN-xx`, then list it with "
            "`registry trust propose --add-key ...`"
        )

    def _asked(self, query: EngineerQuery, now: datetime) -> tuple[str, Category | None, date]:
        region = province(query.region).iso
        if region not in {p.authority for p in self._policies.policies}:
            raise InvalidInput(f"{region} is not a region this registry has rules for")
        category = parse_category(query.category) if query.category is not None else None
        return region, category, query.on or china_today(now)

    def judge_many(
        self,
        session: Session,
        queries: Sequence[EngineerQuery | str],
        *,
        now: datetime | None = None,
    ) -> list[tuple[Dossier, Judgement] | str]:
        """Judge each query (a string is a row already found invalid, kept as its
        error); each answer is the dossier and judgement, or the row's error."""
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        agreements = [p.agreement for p in load_agreements(session)]
        keys: dict[int, tuple[str, str] | str] = {}
        for index, query in enumerate(queries):
            if isinstance(query, EngineerQuery) and query.id_number is not None:
                try:
                    keys[index] = person_key(query.id_number, node_secret=self._node_secret)
                except RegistryError as exc:
                    keys[index] = f"id_number: {exc.message}"
        held = records_by_key(session, [k[1] for k in keys.values() if isinstance(k, tuple)])
        results: list[tuple[Dossier, Judgement] | str] = []
        for index, query in enumerate(queries):
            found = keys.get(index)
            if isinstance(query, str) or isinstance(found, str):
                results.append(query if isinstance(query, str) else str(found))
                continue
            try:
                region, category, on = self._asked(query, now)
                if found is not None:
                    masked, key = found
                    dossier = Dossier(Subject(masked=masked), tuple(held.get(key, ())))
                else:
                    dossier = find_dossier(
                        session,
                        node_secret=self._node_secret,
                        registration_number=query.registration_number,
                        name=query.name,
                    )
                judgement = judge(
                    dossier,
                    region=region,
                    on=on,
                    agreements=agreements,
                    policies=self._policies,
                    category=category,
                )
            except RegistryError as exc:
                results.append(exc.message)
                continue
            results.append((dossier, judgement))
        return results

    def verify(
        self, session: Session, query: EngineerQuery, *, now: datetime | None = None
    ) -> Verified:
        """Judge the person in ``query`` and sign the report.

        Raises ``InvalidInput`` for a bad ID number, region, category or date, and
        ``KeyStoreError`` if the node cannot sign reports.
        """
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        region, category, on = self._asked(query, now)
        authority, signer = self.node_signer(session, at=now)
        dossier = find_dossier(
            session,
            node_secret=self._node_secret,
            id_number=query.id_number,
            registration_number=query.registration_number,
            name=query.name,
        )
        published = load_agreements(session)
        judgement = judge(
            dossier,
            region=region,
            on=on,
            agreements=[p.agreement for p in published],
            policies=self._policies,
            category=category,
        )
        used = [p for p in published if p.agreement.id in set(judgement.agreements)]
        held = judgement.relied()
        evidence = prove(
            session,
            [(h.canonical, h.issuer, h.leaf_index) for h in held]
            + [(p.canonical, p.issuer, p.leaf_index) for p in used],
        )
        documents = {h.canonical: h.document for h in held}
        documents.update((p.canonical, p.credential) for p in used)
        unsigned = report_document(
            dossier,
            judgement,
            evidence,
            issuer=authority,
            created=now,
            agreements=[p.credential for p in used],
            documents=documents,
        )
        ((report, canonical),) = add_proofs_canonical([unsigned], [signer], created=now)
        return Verified(report, judgement, canonical)


def _path(index: int, size: int) -> set[tuple[int, int]]:
    return nodes_needed(lambda get: inclusion_proof(get, index, size))


def _getter(nodes: dict[tuple[str, int, int], bytes], authority: str) -> NodeGetter:
    return lambda level, index: nodes[(authority, level, index)]


def prove(session: Session, relied: Iterable[tuple[str, str, int | None]]) -> Evidence:
    """Each authority's newest checkpoint and, for every ``(canonical, authority, leaf
    index)``, its inclusion proof at that checkpoint: one query for the checkpoints
    and one for every hash the proofs need."""
    by_authority: dict[str, list[tuple[str, int]]] = {}
    for canonical, authority, leaf_index in relied:
        if leaf_index is None:
            raise InvalidInput("a credential relied on is not logged")
        by_authority.setdefault(authority, []).append((canonical, leaf_index))
    if not by_authority:
        return Evidence({}, [])
    # A log signs a checkpoint at its head's size with every append, in the same
    # transaction: the newest checkpoint is the one at the head's size.
    rows = session.exec(
        select(LogCheckpoint)
        .join(
            LogHead,
            (col(LogHead.authority_code) == col(LogCheckpoint.authority_code))
            & (col(LogHead.size) == col(LogCheckpoint.tree_size)),
        )
        .where(col(LogCheckpoint.authority_code).in_(list(by_authority)))
    ).all()
    newest = {row.authority_code: row for row in rows}
    for authority in by_authority:
        if authority not in newest:
            found = newest_checkpoint(session, authority)
            if found is None:
                raise InvalidInput(f"the log of {authority} has signed no checkpoint")
            newest[authority] = found
    needed = {
        (authority, level, index)
        for authority, entries in by_authority.items()
        for _, leaf in entries
        for level, index in _path(leaf, newest[authority].tree_size)
    }
    nodes = _nodes(session, needed)
    checkpoints: dict[str, str] = {}
    logged: list[LoggedCredential] = []
    for authority, entries in sorted(by_authority.items()):
        size = newest[authority].tree_size
        checkpoints[authority] = newest[authority].note
        get = _getter(nodes, authority)
        for canonical, index in entries:
            hashes = inclusion_proof(get, index, size)
            logged.append(LoggedCredential(canonical, authority, index, size, hashes))
    return Evidence(checkpoints, logged)


def _nodes(session: Session, keys: set[tuple[str, int, int]]) -> dict[tuple[str, int, int], bytes]:
    if not keys:
        return {}
    rows = session.execute(
        select(
            col(LogNode.authority_code),
            col(LogNode.level),
            col(LogNode.node_index),
            col(LogNode.hash),
        ).where(
            tuple_(col(LogNode.authority_code), col(LogNode.level), col(LogNode.node_index)).in_(
                list(keys)
            )
        )
    ).all()
    found = {(a, level, index): bytes(value) for a, level, index, value in rows}
    if len(found) != len(keys):
        raise NotFound("a log is missing stored subtree hashes")
    return found
