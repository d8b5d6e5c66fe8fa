"""Verifying trust-list versions: the quorum, the chain, and replays.

Version 1 (genesis) holds only if every member it lists signed it, each with a key it
lists as valid for ``TrustList`` at the proof's ``created`` time. Version n+1 holds
only if at least the quorum of version n's members signed it with keys version n
lists as valid then (and version n+1 does not itself report compromised by then),
and if its ``previous`` is version n's digest. A member counts once however many
proofs it adds; proofs by non-members, by unknown, retired or revoked keys, or whose
signature does not verify, are reported and not counted.

A verifier pins the genesis digest and walks forward (``TrustChain``); an older
version offered after a newer one is refused, never swapped in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from registry.credentials import CredentialType
from registry.credentials.keys import CLOCK_SKEW, KeyRecord, key_standing, verify_signed
from registry.crypto.eddsa_jcs_2022 import proofs_of, with_proofs
from registry.errors import (
    BrokenChain,
    QuorumNotMet,
    StaleTrustList,
    TrustListError,
    VerificationError,
)
from registry.trust.document import TrustListContent, digest_of, parse_trust_list

__all__ = [
    "ProofTally",
    "QuorumReport",
    "TrustChain",
    "TrustListVersion",
    "order_versions",
    "quorum_report",
    "tally",
    "union_of_proofs",
    "verify_chain",
    "verify_version",
]


@dataclass(frozen=True)
class ProofTally:
    """How one proof of a version was counted, and why."""

    index: int
    verification_method: str | None
    member: str | None
    counted: bool
    note: str


@dataclass(frozen=True)
class QuorumReport:
    """Who may sign a version, how many must, and how each proof was counted."""

    version: int
    electorate: tuple[str, ...]
    required: int
    proofs: tuple[ProofTally, ...]

    @property
    def signers(self) -> tuple[str, ...]:
        """Members whose signature counted, in the electorate's order."""
        counted = {p.member for p in self.proofs if p.counted}
        return tuple(code for code in self.electorate if code in counted)

    @property
    def missing(self) -> tuple[str, ...]:
        """Members of the electorate who have not signed."""
        return tuple(code for code in self.electorate if code not in self.signers)

    @property
    def shortfall(self) -> int:
        """How many more signatures the quorum needs."""
        return max(0, self.required - len(self.signers))

    @property
    def met(self) -> bool:
        """Whether enough members signed."""
        return self.shortfall == 0

    def summary(self) -> str:
        """One line for a person: how many signed, how many are needed, from whom."""
        head = (
            f"version {self.version}: {len(self.signers)} of {len(self.electorate)} members "
            f"signed, {self.required} required"
        )
        if self.met:
            return head
        everyone = self.required == len(self.electorate)
        whom = "from each of" if everyone else "from any of"
        return (
            f"{head}; {self.shortfall} more signature{'s' if self.shortfall > 1 else ''} "
            f"needed, {whom} {', '.join(self.missing)}"
        )

    def require(self) -> None:
        """Raise ``QuorumNotMet`` with the summary unless the quorum is met."""
        if not self.met:
            raise QuorumNotMet(self.summary())


@dataclass(frozen=True)
class TrustListVersion:
    """A verified version: its content, the signed document, its digest and its tally.

    ``known_keys`` holds every key any version up to this one listed, as last
    listed: a key that left with its member and comes back is held to what was
    last said of it.
    """

    content: TrustListContent
    document: Mapping[str, Any]
    digest: str
    report: QuorumReport
    known_keys: Mapping[str, KeyRecord] = field(default_factory=dict)

    @property
    def version(self) -> int:
        """The version number."""
        return self.content.version


def _judge(
    document: Mapping[str, Any],
    proof: object,
    content: TrustListContent,
    *,
    electorate: TrustListContent,
    not_before: datetime | None,
    at: datetime,
) -> tuple[str | None, str | None, str]:
    """(verification method, member, problem or "") for one proof of the set."""
    if not isinstance(proof, Mapping):
        return None, None, "a proof must be a JSON object"
    method = proof.get("verificationMethod")
    method = method if isinstance(method, str) else None
    record = electorate.key(method) if method else None
    member = record.authority if record else None
    if "expires" in proof:
        # An expiring proof would make a published version stop verifying later.
        return method, member, "a trust-list proof must not expire"
    try:
        verified, signer = verify_signed(
            document,
            proof,
            directory=electorate.key,
            credential_type=CredentialType.TRUST_LIST,
            at=at,
        )
    except VerificationError as exc:
        return method, member, exc.message
    created = verified.created or at
    if not_before is not None and created < not_before:
        # Whoever holds a key chooses its proofs' created time: a proof dated before
        # the version it follows took effect would let a retired or revoked key
        # sign as if it were still valid.
        return (
            method,
            member,
            (
                f"created {created.isoformat()}, before the version it follows took effect "
                f"({not_before.isoformat()})"
            ),
        )
    # A version may report one of the keys that sign it compromised: such a
    # signature made at or after that time does not count either.
    if content.key(verified.verification_method) is not None:
        standing = key_standing(content.key, verified.verification_method, signed_at=created)
        if not standing.valid:
            return method, signer.authority, standing.problem or ""
    return method, signer.authority, ""


def tally(
    document: Mapping[str, Any],
    content: TrustListContent,
    *,
    electorate: TrustListContent,
    required: int,
    not_before: datetime | None = None,
    at: datetime,
) -> QuorumReport:
    """Count the proofs on ``document`` (whose content is ``content``) toward the quorum.

    ``electorate`` is the version whose members and keys may sign: the previous
    version, or the genesis itself. Proofs created before ``not_before`` (the
    previous version's ``validFrom``) do not count. Never raises for a bad proof:
    it is reported.
    """
    tallies: list[ProofTally] = []
    seen_values: set[str] = set()
    counted: set[str] = set()
    for index, proof in enumerate(proofs_of(document), start=1):
        method, member, problem = _judge(
            document, proof, content, electorate=electorate, not_before=not_before, at=at
        )
        value = proof.get("proofValue") if isinstance(proof, Mapping) else None
        if not problem and value in seen_values:
            problem = "the same proof appears twice"
        elif not problem and member in counted:
            problem = f"{member} has signed already"
        if problem or member is None:
            tallies.append(ProofTally(index, method, member, False, f"not counted: {problem}"))
            continue
        seen_values.add(str(value))
        counted.add(member)
        tallies.append(ProofTally(index, method, member, True, f"counted for {member}"))
    return QuorumReport(
        version=content.version,
        electorate=electorate.codes,
        required=required,
        proofs=tuple(tallies),
    )


def _check_link(content: TrustListContent, previous: TrustListVersion | None) -> None:
    if previous is None:
        if content.version != 1:
            raise BrokenChain(f"version {content.version} cannot start a chain: genesis is 1")
        return
    if content.version != previous.version + 1:
        raise BrokenChain(f"version {content.version} does not follow version {previous.version}")
    if content.previous != previous.digest:
        raise BrokenChain(
            f"version {content.version} names previous {content.previous}, but version "
            f"{previous.version} has digest {previous.digest}"
        )
    if content.valid_from < previous.content.valid_from:
        raise BrokenChain(f"version {content.version} is valid from before its predecessor")
    for member in previous.content.members:
        if content.member(member.code) is not None:
            for key in member.keys:
                if content.key(key.verification_method) is None:
                    raise BrokenChain(
                        f"version {content.version} drops {key.verification_method} "
                        "while its member stays"
                    )
    for member in content.members:
        for key in member.keys:
            old = previous.known_keys.get(key.verification_method)
            if old is not None:
                _check_narrowed(content.version, old, key)


def _check_narrowed(version: int, old: KeyRecord, new: KeyRecord) -> None:
    # What the chain says of a key can only narrow: otherwise a later version could
    # make signatures valid again that an earlier one had ruled out.
    method = old.verification_method
    where = f"version {version}"
    if new.authority != old.authority:
        raise BrokenChain(f"{where} moves {method} to another member")
    if new.valid_from != old.valid_from or not new.allowed_types <= old.allowed_types:
        raise BrokenChain(f"{where} widens what {method} may sign, or when")
    if old.valid_until is not None and (
        new.valid_until is None or new.valid_until > old.valid_until
    ):
        raise BrokenChain(f"{where} extends the retired key {method}")
    if old.compromised_since is not None and (
        new.compromised_since is None or new.compromised_since > old.compromised_since
    ):
        raise BrokenChain(f"{where} lifts or postpones the revocation of {method}")


def quorum_report(
    document: Mapping[str, Any],
    *,
    previous: TrustListVersion | None,
    at: datetime | None = None,
) -> QuorumReport:
    """Count ``document``'s proofs as the genesis (``previous=None``) or as the next version.

    The genesis needs every member it lists; a later version needs the quorum of
    ``previous``'s members. Raises ``TrustListError`` if the document is malformed;
    a short count is reported, not raised.
    """
    content = parse_trust_list(document)
    if previous is None:
        return tally(
            document, content, electorate=content, required=len(content.members), at=at or _now()
        )
    electorate = previous.content
    return tally(
        document,
        content,
        electorate=electorate,
        required=electorate.quorum.required(len(electorate.members)),
        not_before=electorate.valid_from,
        at=at or _now(),
    )


def verify_version(
    document: Mapping[str, Any],
    *,
    previous: TrustListVersion | None,
    at: datetime | None = None,
) -> TrustListVersion:
    """Verify ``document`` as the genesis (``previous=None``) or as the successor of ``previous``.

    Raises ``BrokenChain`` if it does not follow (or widens what a key it keeps may
    sign), ``QuorumNotMet`` if too few members signed it, ``TrustListError`` if it is
    malformed or not yet in force at ``at``.
    """
    at = at or _now()
    content = parse_trust_list(document)
    _check_link(content, previous)
    if content.valid_from > at + CLOCK_SKEW:
        raise TrustListError(
            f"version {content.version} takes effect only at {content.valid_from.isoformat()}"
        )
    report = quorum_report(document, previous=previous, at=at)
    report.require()
    known = dict(previous.known_keys) if previous else {}
    known.update((k.verification_method, k) for m in content.members for k in m.keys)
    return TrustListVersion(
        content=content,
        document=document,
        digest=digest_of(document),
        report=report,
        known_keys=known,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _version_number(document: Mapping[str, Any]) -> int:
    subject = document.get("credentialSubject")
    number = subject.get("version") if isinstance(subject, Mapping) else None
    if type(number) is not int:
        raise TrustListError("a document without a version number is not a trust list")
    return number


class TrustChain:
    """A verifier's view of the chain: pinned to a genesis digest, only ever moving forward."""

    def __init__(self, *, genesis_digest: str, at: datetime | None = None) -> None:
        self.genesis_digest = genesis_digest.strip().lower()
        self.at = at
        self.versions: list[TrustListVersion] = []

    @property
    def current(self) -> TrustListVersion | None:
        """The newest accepted version."""
        return self.versions[-1] if self.versions else None

    def accept(self, document: Mapping[str, Any]) -> TrustListVersion:
        """Verify ``document`` as the next version and make it current.

        Raises ``StaleTrustList`` for a version no newer than the current one,
        ``BrokenChain`` for a genesis that is not the pinned one or a gap, and
        whatever ``verify_version`` raises.
        """
        number = _version_number(document)
        current = self.current
        if current is None:
            if digest_of(document) != self.genesis_digest:
                raise BrokenChain(
                    f"the first version offered (digest {digest_of(document)}) is not the "
                    f"pinned genesis {self.genesis_digest}"
                )
        elif number <= current.version:
            raise StaleTrustList(
                f"version {number} is not newer than the accepted version {current.version}; "
                "it does not replace it"
            )
        version = verify_version(document, previous=current, at=self.at)
        self.versions.append(version)
        return version


def order_versions(documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The documents sorted by version number, each version once.

    Copies of one version that differ only in their proofs are one version, carrying
    the proofs of all copies (those that do not count are reported, not harmful).
    Raises ``BrokenChain`` if two documents with
    different contents claim the same version (a fork), ``TrustListError`` if none
    is given or one has no version number.
    """
    by_number: dict[int, Mapping[str, Any]] = {}
    for document in documents:
        number = _version_number(document)
        held = by_number.get(number)
        if held is None:
            by_number[number] = document
        elif digest_of(held) != digest_of(document):
            raise BrokenChain(f"two different documents claim to be version {number}")
        else:
            by_number[number] = with_proofs(held, union_of_proofs(held, document))
    if not by_number:
        raise TrustListError("no trust-list version was given")
    return [by_number[number] for number in sorted(by_number)]


def union_of_proofs(first: Mapping[str, Any], second: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The proofs of ``first`` followed by those of ``second`` it does not carry."""
    proofs = list(proofs_of(first))
    return proofs + [p for p in proofs_of(second) if p not in proofs]


def verify_chain(
    documents: Iterable[Mapping[str, Any]],
    *,
    genesis_digest: str,
    at: datetime | None = None,
) -> TrustChain:
    """Walk a chain from the pinned genesis to its newest version.

    The documents may come in any order (``order_versions``). Returns the chain,
    whose ``current`` is the newest version; raises a ``TrustListError`` subclass
    at the first version that fails.
    """
    chain = TrustChain(genesis_digest=genesis_digest, at=at)
    for document in order_versions(documents):
        chain.accept(document)
    return chain
