"""Verifying an engineer on this node: gather, judge, prove, sign.

``EngineerVerifier`` is built once per process with what the node holds (its keys,
its lookup secret, the CE rules) and answers each question in the caller's
session with a signed ``VerificationReport``. Nothing is written: a report is an
answer, not a record, and a question names a person the registry must not keep a
trail of.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlmodel import Session

from registry.authorities import held_signer
from registry.calendar import china_today
from registry.ce import PolicyBook, load_policies
from registry.credentials import CredentialType
from registry.crypto.eddsa_jcs_2022 import add_proofs_canonical
from registry.crypto.jcs import Splice
from registry.crypto.keys import KeyStore, Signer
from registry.errors import InvalidInput, KeyStoreError, RegistryError
from registry.ids import (
    Category,
    LookupSecrets,
    lookup_key,
    name_key,
    parse_category,
    parse_credit_code,
    parse_resident_id,
    province,
)
from registry.recognition.agreements import PublishedAgreement, load_agreements
from registry.tlog.cache import SubtreeCache
from registry.tlog.proofs import Evidence, Head, log_heads, prove
from registry.trust.document import TrustListContent
from registry.trust.store import current_version
from registry.verification.dossier import (
    Dossier,
    Subject,
    find_dossier,
    person_key,
    records_by_key,
    records_of,
)
from registry.verification.freshness import (
    DEFAULT_STALE_AFTER,
    LogRelied,
    logs_relied,
    stale_reasons,
)
from registry.verification.judge import Judgement, judge
from registry.verification.report import (
    report_document,
)
from registry.verification.witnessed import (
    WitnessedCheckpoint,
    choose_checkpoints,
    screen_compromised,
    unwitnessed_reasons,
)

__all__ = ["EngineerQuery", "EngineerVerifier", "Verified", "access_criteria"]

_SIGNER_TTL = 30.0
"""Seconds a resolved node key is reused before the trust list is read again."""


@dataclass(frozen=True)
class EngineerQuery:
    """One question: who (ID number, or registration number and name), where, when,
    and optionally for which employer (its unified social credit code)."""

    region: str
    id_number: str | None = None
    registration_number: str | None = None
    name: str | None = None
    category: str | None = None
    on: date | None = None
    employer: str | None = None


@dataclass(frozen=True)
class Verified:
    """The signed report as its canonical (RFC 8785) bytes, and the judgement it states."""

    judgement: Judgement
    canonical: bytes
    held: int = 0
    """How many of the person's records the registry holds (0: none found)."""

    @cached_property
    def report(self) -> dict[str, Any]:
        """The signed report, parsed."""
        value: dict[str, Any] = json.loads(self.canonical)
        return value


class EngineerVerifier:
    """Answers ``EngineerQuery``s with signed reports; safe to share between threads."""

    def __init__(
        self,
        *,
        key_store: KeyStore,
        lookup: LookupSecrets,
        policies: PolicyBook | None = None,
        demo: bool = False,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        self._key_store = key_store
        self._lookup = lookup
        self._demo = demo
        self._stale_after = stale_after
        self._policies = policies or load_policies()
        self._lock = threading.Lock()
        self._signer: tuple[float, str, Signer] | None = None
        self._trust: tuple[float, TrustListContent] | None = None
        self.subtrees = SubtreeCache()
        """Large subtree hashes, kept for every proof this process builds."""
        self._agreements: tuple[tuple[tuple[str, int], ...], list[PublishedAgreement]] | None = None

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions (ISO 3166-2 codes) this verifier has continuing-education rules
        for: the regions it answers about."""
        return tuple(sorted({policy.authority for policy in self._policies.policies}))

    def agreements(self, session: Session, heads: Mapping[str, Head]) -> list[PublishedAgreement]:
        """Every published agreement this node relies on, as of the log heads read in
        the same snapshot: a demonstration agreement only if the node runs the demo
        (``Settings.demo``), wherever it was published.

        Publishing or terminating an agreement appends to a log in the same
        transaction, so the heads' sizes are the agreements' version: they are read
        again only when a log has grown.
        """
        version = tuple(sorted((authority, head.size) for authority, head in heads.items()))
        with self._lock:
            cached = self._agreements
        if cached is not None and cached[0] == version:
            return cached[1]
        published = [
            p for p in load_agreements(session) if self._demo or not p.agreement.demonstration
        ]
        with self._lock:
            self._agreements = (version, published)
        return published

    def trust(self, session: Session, *, at: datetime) -> TrustListContent:
        """The current trust list's content, read again at most every
        ``_SIGNER_TTL`` seconds. Raises ``KeyStoreError`` if the node has none."""
        with self._lock:
            cached = self._trust
        if cached is not None and time.monotonic() - cached[0] < _SIGNER_TTL:
            return cached[1]
        current = current_version(session, at=at)
        if current is None:
            raise KeyStoreError("this node has no trust list yet, so nothing to verify against")
        with self._lock:
            self._trust = (time.monotonic(), current.content)
        return current.content

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
        held = held_signer(
            session,
            self._key_store,
            directory=current.content.key,
            credential_type=CredentialType.VERIFICATION_REPORT,
            at=at,
            purpose="node",
        )
        if held is not None:
            with self._lock:
                self._signer = (time.monotonic(), held.authority, held.signer)
            return held.authority, held.signer
        raise KeyStoreError(
            "this node holds no key that the trust list allows to sign VerificationReport: "
            "create one with `registry key node CN-xx`, then list it with "
            "`registry trust propose --add-key ...`"
        )

    def _asked(
        self, query: EngineerQuery, now: datetime
    ) -> tuple[str, Category | None, date, str | None]:
        region = province(query.region).iso
        if region not in {p.authority for p in self._policies.policies}:
            raise InvalidInput(f"{region} is not a region this registry has rules for")
        category = parse_category(query.category) if query.category is not None else None
        employer = parse_credit_code(query.employer).code if query.employer else None
        return region, category, query.on or china_today(now), employer

    def judge_many(
        self,
        session: Session,
        queries: Sequence[EngineerQuery | str],
        *,
        now: datetime | None = None,
    ) -> list[tuple[Dossier, Judgement] | str]:
        """Judge each query (a string is a row already found invalid, kept as its
        error); each answer is the dossier and judgement, or the row's error. A
        judgement relying on a log this node has not confirmed within its bound says
        so (``registry.verification.freshness``), as a report would; a record signed
        by a key since reported compromised is set aside as a report sets it aside."""
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        trust = self.trust(session, at=now)
        heads = log_heads(session)
        published = self.agreements(session, heads)
        agreements = [p.agreement for p in published]
        logs = {
            log.authority: log
            for log in logs_relied(session, heads, heads, now=now, bound=self._stale_after)
        }
        keys: dict[int, tuple[str, tuple[str, ...]] | str] = {}
        for index, query in enumerate(queries):
            if isinstance(query, EngineerQuery) and query.id_number is not None:
                try:
                    keys[index] = person_key(query.id_number, lookup=self._lookup)
                except RegistryError as exc:
                    keys[index] = f"id_number: {exc.message}"
        held = records_by_key(
            session, [key for k in keys.values() if isinstance(k, tuple) for key in k[1]]
        )
        results: list[tuple[Dossier, Judgement] | str] = []
        for index, query in enumerate(queries):
            found = keys.get(index)
            if isinstance(query, str) or isinstance(found, str):
                results.append(query if isinstance(query, str) else str(found))
                continue
            try:
                region, category, on, employer = self._asked(query, now)
                if found is not None:
                    masked, person = found
                    dossier = Dossier(Subject(masked=masked), tuple(records_of(held, person)))
                else:
                    dossier = find_dossier(
                        session,
                        lookup=self._lookup,
                        registration_number=query.registration_number,
                        name=query.name,
                    )
                dossier, set_aside, _ = screen_compromised(session, trust, dossier)
                judgement = judge(
                    dossier,
                    region=region,
                    on=on,
                    agreements=agreements,
                    policies=self._policies,
                    category=category,
                    employer=employer,
                )
            except RegistryError as exc:
                results.append(exc.message)
                continue
            if set_aside:
                judgement = replace(judgement, reasons=[*judgement.reasons, *set_aside])
            # Every log, as a report names: what was not found rests on them all.
            results.append((dossier, _with_stale(judgement, list(logs.values()))))
        return results

    def verify(
        self, session: Session, query: EngineerQuery, *, now: datetime | None = None
    ) -> Verified:
        """Judge the person in ``query`` and sign the report, naming each log it relies
        on with when this node last confirmed it; one not confirmed within the node's
        bound is said to be stale beside the verdict (``mirror-stale``).

        Raises ``InvalidInput`` for a bad ID number, region, category or date, and
        ``KeyStoreError`` if the node cannot sign reports.
        """
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        region, category, on, employer = self._asked(query, now)
        authority, signer = self.node_signer(session, at=now)
        dossier = find_dossier(
            session,
            lookup=self._lookup,
            id_number=query.id_number,
            registration_number=query.registration_number,
            name=query.name,
        )
        trust = self.trust(session, at=now)
        dossier, set_aside, vouched = screen_compromised(session, trust, dossier)
        heads = log_heads(session)
        published = self.agreements(session, heads)
        judgement = judge(
            dossier,
            region=region,
            on=on,
            agreements=[p.agreement for p in published],
            policies=self._policies,
            category=category,
            employer=employer,
        )
        used = [p for p in published if p.agreement.id in set(judgement.agreements)]
        relied = [(h.canonical, h.issuer, h.leaf_index, h.id) for h in judgement.relied()]
        relied += [(p.canonical, p.issuer, p.leaf_index, p.agreement.id) for p in used]
        largest: dict[str, int] = {}
        for _, issuer, leaf_index, identifier in relied:
            if leaf_index is not None and identifier not in vouched:
                largest[issuer] = max(largest.get(issuer, -1), leaf_index)
        # What the answer did not find rests on every log as much as what it found:
        # a listing or a registration signed since a mirror was last confirmed is
        # missing from it. So the report names every log this node holds, each at
        # its newest witnessed checkpoint where that includes what is relied on.
        chosen = choose_checkpoints(session, trust, heads, largest)
        evidence = self._prove(session, relied, chosen, vouched)
        logs = [
            replace(log, witnessing=chosen[log.authority].witnessing)
            for log in logs_relied(
                session,
                chosen,
                {code: c.head for code, c in chosen.items()},
                now=now,
                bound=self._stale_after,
            )
        ]
        judgement = _with_stale(judgement, logs)
        reasons = [*unwitnessed_reasons(logs), *set_aside]
        if reasons:
            judgement = replace(judgement, reasons=[*judgement.reasons, *reasons])
        splice = Splice()
        unsigned = report_document(
            dossier,
            judgement,
            evidence,
            issuer=authority,
            created=now,
            agreements=[p.credential for p in used],
            logs=logs,
            splice=splice,
        )
        ((_, canonical),) = add_proofs_canonical([unsigned], [signer], created=now, splice=splice)
        return Verified(judgement, canonical, len(dossier.records) + len(set_aside))

    def _prove(
        self,
        session: Session,
        relied: Sequence[tuple[str, str, int | None, str]],
        chosen: Mapping[str, WitnessedCheckpoint],
        vouched: Mapping[str, WitnessedCheckpoint],
    ) -> Evidence:
        """Each credential relied on proven at its log's chosen checkpoint, or, for one
        signed by a key since reported compromised, at the checkpoint witnessed before
        the compromise that vouches for it; the evidence carries every checkpoint used
        (by authority and size: a log's earlier one beside its chosen one)."""
        heads = {code: c.head for code, c in chosen.items()}
        evidence = prove(
            session,
            [(c, issuer, index) for c, issuer, index, i in relied if i not in vouched],
            heads,
            self.subtrees,
        )
        checkpoints = {(code, c.size): c.note for code, c in chosen.items()}
        credentials = list(evidence.credentials)
        for canonical, issuer, index, identifier in relied:
            earlier = vouched.get(identifier)
            if earlier is None:
                continue
            heads = {issuer: earlier.head}
            one = prove(session, [(canonical, issuer, index)], heads, self.subtrees)
            credentials.extend(one.credentials)
            checkpoints[(issuer, earlier.size)] = earlier.note
        return Evidence(checkpoints, credentials)


def _with_stale(judgement: Judgement, logs: Sequence[LogRelied]) -> Judgement:
    """``judgement`` with a reason for each of ``logs`` not confirmed within the bound:
    informing, so the verdict stays what the records say."""
    stale = stale_reasons(logs)
    return replace(judgement, reasons=[*judgement.reasons, *stale]) if stale else judgement


def access_criteria(query: EngineerQuery, *, node_secret: bytes) -> dict[str, str]:
    """What a verification asked, as the access audit hashes it (``criteria_hash``): an
    ID number as its HMAC under the node secret (the same whichever version of the
    federation's look-up secret is current), never the number; a registration number with the
    name's matching key; the region, category and day as asked. Raises
    ``InvalidInput`` for an ID number that is not valid."""
    if query.id_number is not None:
        number = parse_resident_id(query.id_number)
        who = {"by": "resident-id", "key": lookup_key(number, secret=node_secret)}
    else:
        who = {
            "by": "registration",
            "registrationNumber": (query.registration_number or "").strip(),
            "name": name_key(query.name or ""),
        }
    return {
        **who,
        "region": query.region,
        "category": query.category or "",
        "on": query.on.isoformat() if query.on else "",
        "employer": query.employer or "",
    }
