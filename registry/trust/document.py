"""The trust list: its content, how it is written as a credential, and how it is read.

A trust-list version is a W3C VC 2.0 credential of type ``TrustList``, issued by the
federation (``urn:yrd-registry:federation``) and carrying a proof set: one
``eddsa-jcs-2022`` proof per signing member. Its subject holds the version number,
the digest of the previous version (absent in version 1), the quorum rule, the
witness policy (absent: the default) and the members, each with its witness key once
it has one. ``validFrom`` is the credential's own. Reading is strict: a field that is
missing, unknown, of the wrong kind, or inconsistent (a key whose id is not its own
did:key) makes the whole document invalid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from registry.calendar import parse_aware
from registry.credentials import (
    CREDENTIAL_TYPES,
    VC_CONTEXT,
    CredentialType,
    authority_id,
    credential_type,
)
from registry.credentials.keys import KeyRecord
from registry.crypto.eddsa_jcs_2022 import format_datetime, with_proofs
from registry.crypto.jcs import canonical_bytes, sha256_hex
from registry.crypto.multikey import decode_public_multikey, did_key_verification_method
from registry.errors import InvalidInput, RegistryError, TrustListError
from registry.ids import province
from registry.tlog.note import parse_verifier_key, parse_witness_key

__all__ = [
    "FEDERATION_ID",
    "LogEntry",
    "Member",
    "Quorum",
    "TrustListContent",
    "WitnessEntry",
    "WitnessPolicy",
    "digest_of",
    "parse_member",
    "parse_trust_list",
]

FEDERATION_ID = "urn:yrd-registry:federation"
"""The issuer of every trust list: the federation, speaking through a quorum."""

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_DATETIME_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_DOCUMENT = frozenset(
    {"@context", "id", "type", "issuer", "validFrom", "credentialSubject", "proof"}
)
_REVOCATION = frozenset({"compromisedSince", "reason"})
_SUBJECT = frozenset({"id", "version", "previous", "quorum", "witnessPolicy", "members"})
_MEMBER = frozenset({"id", "code", "gbCode", "name", "issuingKeys", "log", "witness", "nodeUrl"})
_KEY = frozenset(
    {
        "id",
        "type",
        "controller",
        "publicKeyMultibase",
        "allowedTypes",
        "validFrom",
        "validUntil",
        "revocation",
    }
)


@dataclass(frozen=True)
class Quorum:
    """How many of a version's members must sign the next one.

    ``count=None`` is the default rule, a strict majority. A fixed count must itself
    be a strict majority: with fewer, two disjoint groups could each publish a
    different next version, and the chain would fork.
    """

    count: int | None = None

    def required(self, members: int) -> int:
        """Signatures needed from ``members`` members; raises ``TrustListError`` if unsafe."""
        majority = members // 2 + 1
        if self.count is None:
            return majority
        if not majority <= self.count <= members:
            raise TrustListError(
                f"a quorum of {self.count} of {members} members is not a strict majority"
            )
        return self.count

    def to_json(self) -> dict[str, Any]:
        """``{"rule": "majority"}`` or ``{"rule": "threshold", "count": n}``."""
        if self.count is None:
            return {"rule": "majority"}
        return {"rule": "threshold", "count": self.count}

    @classmethod
    def parse(cls, value: object) -> Quorum:
        """Read a quorum rule; raises ``InvalidInput`` for any other shape."""
        if value == {"rule": "majority"}:
            return cls()
        if (
            isinstance(value, Mapping)
            and set(value) == {"rule", "count"}
            and value["rule"] == "threshold"
            and type(value["count"]) is int
            and value["count"] > 0
        ):
            return cls(count=value["count"])
        raise InvalidInput(f"unknown quorum rule {value!r}")

    def __str__(self) -> str:
        return "a strict majority" if self.count is None else f"{self.count} members"


@dataclass(frozen=True)
class WitnessPolicy:
    """How many of the other members' witnesses must cosign a member's checkpoint for
    it to count as witnessed. ``count=None`` is the default, a strict majority of the
    other members."""

    count: int | None = None

    def required(self, others: int) -> int:
        """Cosignatures needed when a log has ``others`` other members."""
        return others // 2 + 1 if self.count is None else self.count

    def to_json(self) -> dict[str, Any]:
        """``{"rule": "majority"}`` or ``{"rule": "threshold", "count": n}``."""
        if self.count is None:
            return {"rule": "majority"}
        return {"rule": "threshold", "count": self.count}

    @classmethod
    def parse(cls, value: object) -> WitnessPolicy:
        """Read a witness policy; raises ``InvalidInput`` for any other shape."""
        rule = Quorum.parse(value)
        return cls(count=rule.count)

    def __str__(self) -> str:
        if self.count is None:
            return "a strict majority of the other members"
        return f"{self.count} of the other members"


@dataclass(frozen=True)
class WitnessEntry:
    """A member's witness: the key name its cosignatures carry and its C2SP verifier
    key (type 0x04, c2sp.org/tlog-cosignature)."""

    name: str
    verifier_key: str

    def __post_init__(self) -> None:
        parsed = parse_witness_key(self.verifier_key)
        if parsed.name != self.name:
            raise InvalidInput(f"the witness key is named {parsed.name!r}, not {self.name!r}")


@dataclass(frozen=True)
class LogEntry:
    """A member's transparency log: its origin and its C2SP verifier key."""

    origin: str
    verifier_key: str

    def __post_init__(self) -> None:
        parsed = parse_verifier_key(self.verifier_key)
        if parsed.name != self.origin:
            raise InvalidInput(f"the log key is named {parsed.name!r}, not the origin")


@dataclass(frozen=True)
class Member:
    """One member authority as a trust-list version states it."""

    code: str
    gb_code: str
    name_zh: str
    name_en: str
    keys: tuple[KeyRecord, ...]
    log: LogEntry
    node_url: str
    witness: WitnessEntry | None = None

    def __post_init__(self) -> None:
        found = province(self.code)
        if found.iso != self.code or found.gb != self.gb_code:
            raise InvalidInput(f"member {self.code}: code and GB/T 2260 code disagree")
        if not self.name_zh.strip() or not self.name_en.strip():
            raise InvalidInput(f"member {self.code} needs a Chinese and an English name")
        if not self.keys:
            raise InvalidInput(f"member {self.code} lists no issuing key")
        for key in self.keys:
            if key.authority != self.code:
                raise InvalidInput(f"{key.verification_method} is listed under another member")
        if not self.node_url.startswith(("https://", "http://")):
            raise InvalidInput(f"member {self.code}: the node URL must be http(s)")

    def to_json(self) -> dict[str, Any]:
        """The member entry as it appears in the document."""
        return {
            "id": authority_id(self.code),
            "code": self.code,
            "gbCode": self.gb_code,
            "name": {"zh": self.name_zh, "en": self.name_en},
            "issuingKeys": [_key_json(key) for key in self.keys],
            "log": {"origin": self.log.origin, "verifierKey": self.log.verifier_key},
            **(
                {"witness": {"name": self.witness.name, "verifierKey": self.witness.verifier_key}}
                if self.witness is not None
                else {}
            ),
            "nodeUrl": self.node_url,
        }


@dataclass(frozen=True)
class TrustListContent:
    """What a trust-list version says, without its proofs."""

    version: int
    previous: str | None
    valid_from: datetime
    quorum: Quorum
    members: tuple[Member, ...]
    witness_policy: WitnessPolicy | None = None
    _keys: dict[str, KeyRecord] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.version < 1:
            raise InvalidInput("trust-list versions count from 1")
        if (self.version == 1) != (self.previous is None):
            raise InvalidInput("version 1 and only version 1 has no previous digest")
        if self.previous is not None and not _DIGEST.match(self.previous):
            raise InvalidInput("previous must be a lowercase hex SHA-256 digest")
        if not self.members:
            raise InvalidInput("a trust list needs at least one member")
        codes = [m.code for m in self.members]
        if len(set(codes)) != len(codes):
            raise InvalidInput("a member is listed twice")
        logs = [m.log.origin for m in self.members] + [m.log.verifier_key for m in self.members]
        if len(set(logs)) != len(logs):
            raise InvalidInput("two members list the same log origin or log key")
        self._check_witnesses()
        keys = {k.verification_method: k for m in self.members for k in m.keys}
        if len(keys) != sum(len(m.keys) for m in self.members):
            raise InvalidInput("a key is listed twice")
        object.__setattr__(self, "_keys", keys)
        try:
            self.quorum.required(len(self.members))
        except TrustListError as exc:
            raise InvalidInput(exc.reason) from exc

    def _check_witnesses(self) -> None:
        # A witness's name and key are its own: not another witness's, not a log's
        # (the same key bytes would make two kinds of statement, c2sp.org/tlog-cosignature).
        witnesses = [m.witness for m in self.members if m.witness is not None]
        names = [w.name for w in witnesses]
        origins = {m.log.origin for m in self.members}
        if len(set(names)) != len(names) or origins & set(names):
            raise InvalidInput("two witnesses, or a witness and a log, have one name")
        raw = [parse_witness_key(w.verifier_key).public_key.public_bytes_raw() for w in witnesses]
        logs = {
            parse_verifier_key(m.log.verifier_key).public_key.public_bytes_raw()
            for m in self.members
        }
        if len(set(raw)) != len(raw) or logs & set(raw):
            raise InvalidInput("a witness key is another witness's, or a log's")
        others = len(self.members) - 1
        count = self.witness_policy.count if self.witness_policy is not None else None
        if count is not None and not 1 <= count <= max(others, 1):
            raise InvalidInput(
                f"a witness policy of {count} of {others} other members cannot be met"
            )

    @property
    def witnessing(self) -> WitnessPolicy:
        """The witness policy in force: the one stated, or the default."""
        return self.witness_policy or WitnessPolicy()

    @property
    def codes(self) -> tuple[str, ...]:
        """The members' codes, in document order."""
        return tuple(m.code for m in self.members)

    def member(self, code: str) -> Member | None:
        """The member with that code, if listed."""
        return next((m for m in self.members if m.code == code), None)

    def key(self, verification_method: str) -> KeyRecord | None:
        """The listed key with that verification method: a ``KeyDirectory``."""
        return self._keys.get(verification_method)

    def to_document(self) -> dict[str, Any]:
        """The unsigned credential of this version."""
        subject: dict[str, Any] = {"id": FEDERATION_ID, "version": self.version}
        if self.previous is not None:
            subject["previous"] = self.previous
        subject["quorum"] = self.quorum.to_json()
        if self.witness_policy is not None:
            subject["witnessPolicy"] = self.witness_policy.to_json()
        subject["members"] = [m.to_json() for m in self.members]
        return {
            "@context": [VC_CONTEXT],
            "id": f"{FEDERATION_ID}:trust-list:{self.version}",
            "type": ["VerifiableCredential", CredentialType.TRUST_LIST.value],
            "issuer": FEDERATION_ID,
            "validFrom": format_datetime(self.valid_from),
            "credentialSubject": subject,
        }


def digest_of(document: Mapping[str, Any]) -> str:
    """A version's digest, what ``previous`` names and a verifier pins for the genesis.

    SHA-256 (hex) of the canonical bytes of the version without its proofs: the
    document hash every proof of the set signs. The proof set is the evidence, not
    part of the identity, so copies of one version with more or fewer proofs (a
    late signature, a relay that dropped one) are the same version and cannot fork
    the chain.
    """
    return sha256_hex(canonical_bytes(with_proofs(document, ())))


def _key_json(key: KeyRecord) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": key.verification_method,
        "type": "Multikey",
        "controller": authority_id(key.authority),
        "publicKeyMultibase": key.public_key_multibase,
        "allowedTypes": sorted(key.allowed_types),
        "validFrom": format_datetime(key.valid_from),
    }
    if key.valid_until is not None:
        entry["validUntil"] = format_datetime(key.valid_until)
    if key.compromised_since is not None:
        entry["revocation"] = {
            "compromisedSince": format_datetime(key.compromised_since),
            "reason": key.revocation_reason,
        }
    return entry


class _Reader:
    """Pulls typed fields out of JSON, naming the path of whatever is wrong.

    Fail closed: an object with a member the format does not define is refused,
    rather than carried along unread.
    """

    def __init__(self, value: object, path: str, fields: frozenset[str]) -> None:
        if not isinstance(value, Mapping):
            raise InvalidInput(f"{path} must be an object")
        unknown = sorted(str(name) for name in value if name not in fields)
        if unknown:
            raise InvalidInput(f"{path} has members the format does not define: {unknown}")
        self.value = value
        self.path = path

    def get(self, name: str, kind: type[Any], *, optional: bool = False) -> Any:
        if name not in self.value:
            if optional:
                return None
            raise InvalidInput(f"{self.path}.{name} is missing")
        found = self.value[name]
        if not isinstance(found, kind) or isinstance(found, bool):
            raise InvalidInput(f"{self.path}.{name} must be a {kind.__name__}")
        return found

    def time(self, name: str) -> datetime:
        text = self.get(name, str)
        if not _DATETIME_STAMP.match(text):
            raise InvalidInput(f"{self.path}.{name} is not an XML Schema dateTimeStamp")
        return parse_aware(text, f"{self.path}.{name}")

    def optional_time(self, name: str) -> datetime | None:
        return self.time(name) if name in self.value else None

    def strings(self, name: str) -> list[str]:
        items = self.get(name, list)
        if not all(isinstance(item, str) for item in items):
            raise InvalidInput(f"{self.path}.{name} must be a list of strings")
        return list(items)


def _parse_key(value: object, path: str, member: str) -> KeyRecord:
    entry = _Reader(value, path, _KEY)
    method = entry.get("id", str)
    multibase = entry.get("publicKeyMultibase", str)
    if did_key_verification_method(decode_public_multikey(multibase)) != method:
        raise InvalidInput(f"{path}.id is not the did:key of its publicKeyMultibase")
    if entry.get("type", str) != "Multikey" or entry.get("controller", str) != authority_id(member):
        raise InvalidInput(f"{path} must be a Multikey controlled by {member}")
    allowed = entry.strings("allowedTypes")
    unknown = sorted(set(allowed) - set(CREDENTIAL_TYPES))
    if unknown or not allowed:
        raise InvalidInput(f"{path}.allowedTypes: unknown or empty ({', '.join(unknown)})")
    revocation = entry.get("revocation", Mapping, optional=True)
    compromised = reason = None
    if revocation is not None:
        revoked = _Reader(
            revocation, f"{path}.revocation", frozenset({"compromisedSince", "reason"})
        )
        compromised = revoked.time("compromisedSince")
        reason = revoked.get("reason", str)
    return KeyRecord(
        verification_method=method,
        authority=member,
        public_key_multibase=multibase,
        allowed_types=frozenset(allowed),
        valid_from=entry.time("validFrom"),
        valid_until=entry.optional_time("validUntil"),
        compromised_since=compromised,
        revocation_reason=reason,
    )


def parse_member(value: object, path: str = "member") -> Member:
    """Read one member entry (as ``Member.to_json`` writes it); raises ``InvalidInput``."""
    entry = _Reader(value, path, _MEMBER)
    code = entry.get("code", str)
    if entry.get("id", str) != authority_id(code):
        raise InvalidInput(f"{path}.id must be {authority_id(code)}")
    names = _Reader(entry.get("name", Mapping), f"{path}.name", frozenset({"zh", "en"}))
    log = _Reader(entry.get("log", Mapping), f"{path}.log", frozenset({"origin", "verifierKey"}))
    keys = entry.get("issuingKeys", list)
    witness = None
    if "witness" in entry.value:
        found = _Reader(
            entry.get("witness", Mapping), f"{path}.witness", frozenset({"name", "verifierKey"})
        )
        witness = WitnessEntry(
            name=found.get("name", str), verifier_key=found.get("verifierKey", str)
        )
    return Member(
        code=code,
        gb_code=entry.get("gbCode", str),
        name_zh=names.get("zh", str),
        name_en=names.get("en", str),
        keys=tuple(_parse_key(key, f"{path}.issuingKeys[{i}]", code) for i, key in enumerate(keys)),
        log=LogEntry(origin=log.get("origin", str), verifier_key=log.get("verifierKey", str)),
        node_url=entry.get("nodeUrl", str),
        witness=witness,
    )


def parse_trust_list(document: Mapping[str, Any]) -> TrustListContent:
    """Read a trust-list document (its proofs are not checked here).

    Raises ``TrustListError`` naming the first thing that is wrong with it.
    """
    try:
        if not isinstance(document, Mapping):
            raise InvalidInput("a trust list is a JSON object")
        top = _Reader(document, "credential", _DOCUMENT)
        if (
            credential_type(document) != CredentialType.TRUST_LIST
            or document.get("issuer") != FEDERATION_ID
        ):
            raise InvalidInput(f"not a TrustList issued by {FEDERATION_ID}")
        if document.get("@context") != [VC_CONTEXT]:
            raise InvalidInput(f"@context must be [{VC_CONTEXT!r}]")
        subject = _Reader(document.get("credentialSubject"), "credentialSubject", _SUBJECT)
        if subject.get("id", str) != FEDERATION_ID:
            raise InvalidInput(f"credentialSubject.id must be {FEDERATION_ID}")
        version = subject.get("version", int)
        if document.get("id") != f"{FEDERATION_ID}:trust-list:{version}":
            raise InvalidInput("the credential id does not name its version")
        members: Sequence[object] = subject.get("members", list)
        return TrustListContent(
            version=version,
            previous=subject.get("previous", str, optional=True),
            valid_from=top.time("validFrom"),
            quorum=Quorum.parse(subject.get("quorum", Mapping)),
            witness_policy=(
                WitnessPolicy.parse(subject.get("witnessPolicy", Mapping))
                if "witnessPolicy" in subject.value
                else None
            ),
            members=tuple(
                parse_member(m, f"credentialSubject.members[{i}]") for i, m in enumerate(members)
            ),
        )
    except TrustListError:
        raise
    except RegistryError as exc:
        raise TrustListError(f"malformed trust list: {exc.message}") from exc
