"""The trust list offline: quorum counting, the chain, replays, key standing, formats."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import base58
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from registry.credentials.keys import KeyRecord, key_standing
from registry.crypto.eddsa_jcs_2022 import add_proof, create_proof, hash_data, proofs_of
from registry.crypto.keys import Ed25519Signer
from registry.crypto.multikey import encode_multibase
from registry.errors import (
    BrokenChain,
    InvalidInput,
    InvalidKeyEncoding,
    KeyResolutionError,
    QuorumNotMet,
    StaleTrustList,
    TrustListError,
)
from registry.ids import province
from registry.tlog.note import parse_verifier_key, verifier_key, witness_key
from registry.trust.chain import TrustChain, quorum_report, verify_chain, verify_version
from registry.trust.document import (
    LogEntry,
    Member,
    Quorum,
    TrustListContent,
    WitnessEntry,
    WitnessPolicy,
    digest_of,
    parse_trust_list,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)
CODES = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
ALL_TYPES = frozenset({"TrustList", "SafetyEngineerQualification"})


def _record(code: str, signer: Ed25519Signer, **window: Any) -> KeyRecord:
    return KeyRecord(
        verification_method=signer.verification_method,
        authority=code,
        public_key_multibase=signer.public_key_multibase,
        allowed_types=window.pop("allowed_types", ALL_TYPES),
        valid_from=window.pop("valid_from", T0),
        **window,
    )


def _member(code: str, *keys: KeyRecord) -> Member:
    origin = f"registry.yrd.example/{code}"
    log_key = Ed25519Signer.generate().public_key
    return Member(
        code=code,
        gb_code=province(code).gb,
        name_zh=f"{code} 应急管理",
        name_en=f"{code} emergency management",
        keys=keys,
        log=LogEntry(origin=origin, verifier_key=verifier_key(origin, log_key)),
        node_url="https://node.example",
    )


class Federation:
    """Members with one key each, and helpers to write and sign versions."""

    def __init__(self, codes: tuple[str, ...] = CODES) -> None:
        self.signers = {code: Ed25519Signer.generate() for code in codes}
        self.members = tuple(_member(c, _record(c, s)) for c, s in self.signers.items())

    def content(self, **fields: Any) -> TrustListContent:
        values: dict[str, Any] = {
            "version": 1,
            "previous": None,
            "valid_from": T0,
            "quorum": Quorum(),
            "members": self.members,
        }
        values.update(fields)
        return TrustListContent(**values)

    def signed(
        self, content: TrustListContent, codes: tuple[str, ...], *, at: datetime = T0 + DAY
    ) -> dict[str, Any]:
        document = content.to_document()
        for code in codes:
            document = add_proof(document, self.signers[code], created=at)
        return document

    def genesis(self) -> dict[str, Any]:
        return self.signed(self.content(), CODES)

    def successor(self, previous: dict[str, Any], **fields: Any) -> TrustListContent:
        number = previous["credentialSubject"]["version"] + 1
        return self.content(version=number, previous=digest_of(previous), **fields)


@pytest.fixture
def fed() -> Federation:
    return Federation()


def test_genesis_signed_by_every_founder_holds(fed: Federation) -> None:
    genesis = fed.genesis()
    version = verify_version(genesis, previous=None)
    assert version.report.signers == CODES
    assert version.report.summary() == "version 1: 4 of 4 members signed, 4 required"
    unsigned = {k: v for k, v in genesis.items() if k != "proof"}
    assert version.digest == hashlib.sha256(rfc8785.dumps(unsigned)).hexdigest()
    chain = verify_chain([genesis], genesis_digest=version.digest)
    assert chain.current is not None
    assert chain.current.content.codes == CODES


def test_genesis_missing_one_signature_is_rejected(fed: Federation) -> None:
    short = fed.signed(fed.content(), CODES[:3])
    with pytest.raises(
        QuorumNotMet,
        match=r"3 of 4 members signed, 4 required; 1 more signature needed, from each of CN-AH",
    ):
        verify_version(short, previous=None)


@pytest.mark.parametrize(
    ("quorum", "signers", "holds"),
    [
        (Quorum(), CODES[:3], True),  # a strict majority of 4 is 3: exactly the quorum
        (Quorum(), CODES[:2], False),  # one short
        (Quorum(count=4), CODES, True),
        (Quorum(count=4), CODES[:3], False),
    ],
)
def test_a_later_version_needs_the_previous_versions_quorum(
    fed: Federation, quorum: Quorum, signers: tuple[str, ...], holds: bool
) -> None:
    genesis = fed.signed(fed.content(quorum=quorum), CODES)
    v1 = verify_version(genesis, previous=None)
    # Version 2 drops a member and reverts to a majority: the rule of version 1 decides.
    v2 = fed.signed(fed.successor(genesis, members=fed.members[:3]), signers)
    if holds:
        assert verify_version(v2, previous=v1).report.signers == signers
    else:
        with pytest.raises(QuorumNotMet, match=r"more signature"):
            verify_version(v2, previous=v1)


def test_an_unsafe_quorum_is_refused(fed: Federation) -> None:
    assert [Quorum().required(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    for count in (2, 5):
        with pytest.raises(InvalidInput, match="strict majority"):
            fed.content(quorum=Quorum(count=count))
    with pytest.raises(InvalidInput, match="unknown quorum rule"):
        Quorum.parse({"rule": "threshold", "count": True})


def _notes(document: dict[str, Any], previous: Any) -> list[tuple[bool, str]]:
    report = quorum_report(document, previous=previous, at=T0 + 10 * DAY)
    return [(p.counted, p.note) for p in report.proofs]


def test_proofs_that_do_not_count(fed: Federation) -> None:
    # Version 1 already reports CN-ZJ's key compromised from day 1.
    zj = fed.signers["CN-ZJ"]
    revoked = _record("CN-ZJ", zj, compromised_since=T0 + DAY, revocation_reason="leaked")
    members = tuple(_member("CN-ZJ", revoked) if m.code == "CN-ZJ" else m for m in fed.members)
    genesis_doc = fed.signed(fed.content(members=members), CODES, at=T0 + DAY - SECOND)
    v1 = verify_version(genesis_doc, previous=None)

    content = fed.successor(genesis_doc, members=members)
    document = content.to_document()
    outsider = Ed25519Signer.generate()
    document = add_proof(document, fed.signers["CN-SH"], created=T0 + 2 * DAY)
    document = add_proof(document, fed.signers["CN-SH"], created=T0 + 3 * DAY)  # again
    document = add_proof(document, outsider, created=T0 + 2 * DAY)  # not a member
    document = add_proof(document, zj, created=T0 + 2 * DAY)  # revoked key
    document["proof"].append(copy.deepcopy(document["proof"][0]))  # the same proof twice
    notes = _notes(document, v1)
    assert [counted for counted, _ in notes] == [True, False, False, False, False]
    assert notes[0][1] == "counted for CN-SH"
    assert "CN-SH has signed already" in notes[1][1]
    assert "not a known signing key" in notes[2][1]
    assert "reported compromised" in notes[3][1]
    assert "the same proof appears twice" in notes[4][1]
    with pytest.raises(QuorumNotMet, match="1 of 4 members signed, 3 required"):
        verify_version(document, previous=v1)
    # Two more genuine members make the quorum; the stray proofs still do not count.
    document = add_proof(document, fed.signers["CN-JS"], created=T0 + 2 * DAY)
    document = add_proof(document, fed.signers["CN-AH"], created=T0 + 2 * DAY)
    assert verify_version(document, previous=v1).report.signers == ("CN-SH", "CN-JS", "CN-AH")


def test_a_key_revoked_by_the_version_it_signs_does_not_count(fed: Federation) -> None:
    genesis = fed.genesis()
    v1 = verify_version(genesis, previous=None)
    zj = fed.signers["CN-ZJ"]
    revoked = _record("CN-ZJ", zj, compromised_since=T0 + DAY, revocation_reason="leaked")
    members = tuple(_member("CN-ZJ", revoked) if m.code == "CN-ZJ" else m for m in fed.members)
    document = fed.signed(fed.successor(genesis, members=members), ("CN-ZJ", "CN-SH", "CN-JS"))
    notes = _notes(document, v1)
    assert notes[0][0] is False
    assert "reported compromised" in notes[0][1]
    with pytest.raises(QuorumNotMet):
        verify_version(document, previous=v1)


def test_a_proof_over_other_content_does_not_count(fed: Federation) -> None:
    genesis = fed.genesis()
    genesis["credentialSubject"]["members"][0]["nodeUrl"] = "https://evil.example"
    with pytest.raises(QuorumNotMet, match="0 of 4"):
        verify_version(genesis, previous=None)


def test_a_broken_chain_is_rejected(fed: Federation) -> None:
    genesis = fed.genesis()
    v1 = verify_version(genesis, previous=None)
    wrong_previous = fed.signed(fed.content(version=2, previous="0" * 64), CODES)
    with pytest.raises(BrokenChain, match="names previous 0000"):
        verify_version(wrong_previous, previous=v1)
    gap = fed.signed(fed.content(version=3, previous=v1.digest), CODES)
    with pytest.raises(BrokenChain, match="does not follow version 1"):
        verify_version(gap, previous=v1)
    with pytest.raises(BrokenChain, match="genesis is 1"):
        verify_version(gap, previous=None)
    earlier = fed.signed(fed.successor(genesis, valid_from=T0 - DAY, quorum=Quorum(4)), CODES)
    with pytest.raises(BrokenChain, match="valid from before"):
        verify_version(earlier, previous=v1)
    with pytest.raises(BrokenChain, match="not the pinned genesis"):
        verify_chain([genesis], genesis_digest="f" * 64)


def _chain_of_three(fed: Federation) -> list[dict[str, Any]]:
    v1 = fed.genesis()
    v2 = fed.signed(fed.successor(v1, quorum=Quorum(count=4)), CODES)
    v3 = fed.signed(fed.successor(v2), CODES)
    return [v1, v2, v3]


def test_a_replayed_older_version_never_replaces_a_newer_one(fed: Federation) -> None:
    v1, v2, v3 = _chain_of_three(fed)
    chain = TrustChain(genesis_digest=digest_of(v1))
    for document in (v1, v2, v3):
        chain.accept(document)
    for old in (v2, v1, v3):
        with pytest.raises(StaleTrustList, match="not newer than the accepted version 3"):
            chain.accept(old)
    assert chain.current is not None
    assert chain.current.version == 3
    # Handed over in any order, the chain is walked forward; a fork is refused.
    assert verify_chain([v3, v1, v2], genesis_digest=digest_of(v1)).current.version == 3  # type: ignore[union-attr]
    fork = fed.signed(fed.successor(v1, quorum=Quorum(count=3)), CODES)
    with pytest.raises(BrokenChain, match="two different documents claim to be version 2"):
        verify_chain([v1, v2, fork], genesis_digest=digest_of(v1))


def _independent_verify(document: dict[str, Any], proof: dict[str, Any]) -> None:
    """eddsa-jcs-2022 by the specification, sharing no code with the registry."""
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    options = {k: v for k, v in proof.items() if k != "proofValue"}
    hash_data = (
        hashlib.sha256(rfc8785.dumps(options)).digest()
        + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
    )
    multikey = proof["verificationMethod"].split("#", 1)[1]
    raw = base58.b58decode(multikey[1:])
    assert raw[:2] == b"\xed\x01"
    public_key = Ed25519PublicKey.from_public_bytes(raw[2:])
    public_key.verify(base58.b58decode(proof["proofValue"][1:]), hash_data)


def test_every_proof_is_an_ordinary_data_integrity_proof(fed: Federation) -> None:
    for document in _chain_of_three(fed):
        for proof in document["proof"]:
            assert proof["type"] == "DataIntegrityProof"
            assert proof["cryptosuite"] == "eddsa-jcs-2022"
            _independent_verify(document, proof)


@pytest.mark.parametrize(
    ("window", "signed_at", "problem"),
    [
        ({"valid_from": T0}, T0 - SECOND, "not yet valid"),
        ({"valid_from": T0}, T0, None),
        ({"valid_until": T0 + DAY}, T0 + DAY - SECOND, None),
        ({"valid_until": T0 + DAY}, T0 + DAY, "retired at"),
        ({"compromised_since": T0 + DAY, "revocation_reason": "x"}, T0 + DAY - SECOND, None),
        ({"compromised_since": T0 + DAY, "revocation_reason": "x"}, T0 + DAY, "compromised"),
    ],
)
def test_key_standing_on_both_sides_of_each_boundary(
    window: dict[str, Any], signed_at: datetime, problem: str | None
) -> None:
    signer = Ed25519Signer.generate()
    record = _record("CN-SH", signer, **window)
    standing = key_standing(
        {record.verification_method: record}.get,
        signer.verification_method,
        signed_at=signed_at,
        credential_type="TrustList",
    )
    assert standing.authority == "CN-SH"
    assert standing.allowed_types == ALL_TYPES
    if problem is None:
        assert standing.valid
        assert standing.require() == record
    else:
        assert standing.problem is not None
        assert problem in standing.problem
        with pytest.raises(KeyResolutionError, match=problem):
            standing.require()


def test_key_standing_names_authority_and_type_problems() -> None:
    signer = Ed25519Signer.generate()
    record = _record("CN-SH", signer, allowed_types=frozenset({"StatusChange"}))
    lookup = {record.verification_method: record}.get
    method = signer.verification_method
    assert key_standing(lookup, method, signed_at=T0, authority="CN-JS").problem == (
        f"{method} is a key of CN-SH, not of CN-JS"
    )
    wrong_type = key_standing(lookup, method, signed_at=T0, credential_type="TrustList")
    assert wrong_type.problem == f"{method} may not sign TrustList"
    unknown = key_standing(lookup, "did:key:z6Mkother#z6Mkother", signed_at=T0)
    assert unknown.authority is None
    assert unknown.problem is not None
    assert "not a known signing key" in unknown.problem


def _mutate(document: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    target = changed
    for step in path[:-1]:
        target = target[step]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


_DELETE = object()
_MEMBER = ("credentialSubject", "members", 0)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("credentialSubject", "version"), True, "version must be a int"),
        (("credentialSubject", "quorum"), {"rule": "unanimity"}, "unknown quorum rule"),
        (("credentialSubject", "previous"), "ab" * 32, "only version 1 has no previous"),
        (("issuer",), "urn:yrd-registry:authority:CN-SH", "not a TrustList issued by"),
        (("id",), "urn:yrd-registry:federation:trust-list:9", "does not name its version"),
        ((*_MEMBER, "gbCode"), "320000", "code and GB/T 2260 code disagree"),
        ((*_MEMBER, "log", "origin"), "registry.yrd.example/CN-XX", "not the origin"),
        ((*_MEMBER, "issuingKeys", 0, "id"), "did:key:z6Mkx#z6Mkx", "not the did:key of"),
        ((*_MEMBER, "issuingKeys", 0, "allowedTypes"), ["Anything"], "unknown or empty"),
        ((*_MEMBER, "issuingKeys", 0, "validFrom"), "2026-01-01T00:00:00", "not an XML Schema"),
        ((*_MEMBER, "issuingKeys", 0, "validFrom"), "0001-01-01T00:00:00+23:59", "between the"),
        ((*_MEMBER, "issuingKeys", 0, "extra"), 1, "does not define: \\['extra'\\]"),
        (("credentialSubject", "note"), "x", "does not define"),
        ((*_MEMBER, "issuingKeys"), [], "lists no issuing key"),
        ((*_MEMBER, "nodeUrl"), _DELETE, "nodeUrl is missing"),
        (("credentialSubject", "members"), [], "at least one member"),
    ],
)
def test_a_malformed_trust_list_is_refused(
    fed: Federation, path: tuple[Any, ...], value: Any, message: str
) -> None:
    document = fed.content().to_document()
    assert parse_trust_list(document) == fed.content()
    with pytest.raises(TrustListError, match=message):
        parse_trust_list(_mutate(document, path, value))


def test_a_trust_list_must_be_an_object() -> None:
    with pytest.raises(TrustListError, match="is a JSON object"):
        parse_trust_list([])  # type: ignore[arg-type]


def test_two_members_cannot_share_a_log(fed: Federation) -> None:
    shared = (fed.members[0], dataclasses.replace(fed.members[1], log=fed.members[0].log))
    with pytest.raises(InvalidInput, match="same log origin or log key"):
        fed.content(members=shared)


def test_a_member_listed_twice_is_refused(fed: Federation) -> None:
    with pytest.raises(InvalidInput, match="listed twice"):
        fed.content(members=(fed.members[0], fed.members[0]))
    with pytest.raises(InvalidInput, match="listed under another member"):
        dataclasses.replace(fed.members[1], code="CN-SH", gb_code="310000")


# The verifier keys of golang.org/x/mod sumdb/note's tests, the reference implementation.
GO_KEYS = (
    ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "c74f20a3"),
    ("EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop", "af0cfe78"),
)


@pytest.mark.parametrize(("text", "key_id"), GO_KEYS)
def test_verifier_keys_match_the_reference(text: str, key_id: str) -> None:
    parsed = parse_verifier_key(text)
    assert parsed.key_id.hex() == key_id
    assert verifier_key(parsed.name, parsed.public_key) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not match"),
        ("PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "does not decode"),
        ("PeterNeumann+c74f20a3", "name\\+keyid\\+key"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "key name"),
        ("PeterNeumann+c74f+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "8 hex digits"),
        (
            "PeterNeumann+c74f20a3+" + base64.b64encode(b"\x02" + bytes(32)).decode(),
            "not an Ed25519",
        ),
    ],
)
def test_mangled_verifier_keys_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidKeyEncoding, match=message):
        parse_verifier_key(text)


def test_malformed_proofs_are_reported_not_counted(fed: Federation) -> None:
    genesis = fed.genesis()
    genesis["proof"] += ["not a proof", {"proofValue": {"a": 1}, "verificationMethod": ["x"]}]
    notes = _notes(genesis, None)
    assert [counted for counted, _ in notes] == [True, True, True, True, False, False]
    assert "must be a JSON object" in notes[4][1]
    assert "proof type must be DataIntegrityProof" in notes[5][1]


def _with_key(fed: Federation, code: str, **window: Any) -> tuple[Member, ...]:
    record = _record(code, fed.signers[code], **window)
    return tuple(_member(code, record) if m.code == code else m for m in fed.members)


def test_a_backdated_proof_by_a_revoked_key_does_not_count(fed: Federation) -> None:
    genesis = fed.genesis()
    v1 = verify_version(genesis, previous=None, at=T0 + DAY)
    revoked = _with_key(fed, "CN-SH", compromised_since=T0 + 10 * DAY, revocation_reason="x")
    v2_doc = fed.signed(
        fed.successor(genesis, members=revoked, valid_from=T0 + 11 * DAY),
        CODES[1:],
        at=T0 + 11 * DAY,
    )
    v2 = verify_version(v2_doc, previous=v1, at=T0 + 12 * DAY)
    # The thief dates its proof before the compromise; it is still not counted.
    v3 = fed.successor(v2_doc, members=revoked, valid_from=T0 + 12 * DAY, quorum=Quorum(4))
    document = fed.signed(v3, ("CN-SH",), at=T0 + 9 * DAY)
    document = add_proof(document, fed.signers["CN-JS"], created=T0 + 12 * DAY)
    document = add_proof(document, fed.signers["CN-ZJ"], created=T0 + 12 * DAY)
    notes = _notes(document, v2)
    assert "before the version it follows took effect" in notes[0][1]
    with pytest.raises(QuorumNotMet, match="2 of 4 members signed, 3 required"):
        verify_version(document, previous=v2, at=T0 + 13 * DAY)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        ({}, "lifts or postpones the revocation"),
        ({"compromised_since": T0 + 11 * DAY, "revocation_reason": "x"}, "lifts or postpones"),
        ({"valid_until": T0 + 30 * DAY}, "extends the retired key"),
        ({"allowed_types": ALL_TYPES | {"StatusChange"}}, "widens what"),
        ({"valid_from": T0 - DAY}, "widens what"),
    ],
)
def test_a_later_version_cannot_widen_what_a_key_may_sign(
    fed: Federation, window: dict[str, Any], message: str
) -> None:
    limited = _with_key(
        fed,
        "CN-SH",
        valid_until=T0 + 20 * DAY,
        compromised_since=T0 + 10 * DAY,
        revocation_reason="x",
    )
    genesis = fed.signed(fed.content(members=limited), CODES, at=T0)
    v1 = verify_version(genesis, previous=None, at=T0)
    defaults: dict[str, Any] = {"valid_until": T0 + 20 * DAY}
    widened = _with_key(fed, "CN-SH", **(defaults | window))
    document = fed.signed(fed.successor(genesis, members=widened), CODES[1:])
    with pytest.raises(BrokenChain, match=message):
        verify_version(document, previous=v1, at=T0 + 2 * DAY)


def test_a_later_version_cannot_drop_a_key_of_a_staying_member(fed: Federation) -> None:
    spare = _record("CN-SH", Ed25519Signer.generate())
    sh = fed.members[0]
    genesis = fed.signed(
        fed.content(members=(dataclasses.replace(sh, keys=(*sh.keys, spare)), *fed.members[1:])),
        CODES,
    )
    v1 = verify_version(genesis, previous=None)
    document = fed.signed(fed.successor(genesis), CODES)
    with pytest.raises(BrokenChain, match=r"drops .* while its member stays"):
        verify_version(document, previous=v1)
    # Removing the member removes its keys with it.
    leaving = fed.signed(fed.successor(genesis, members=fed.members[1:]), CODES)
    assert verify_version(leaving, previous=v1).content.codes == CODES[1:]


def create_proof_value(document: dict[str, Any], options: dict[str, Any], signer: Any) -> str:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return encode_multibase(signer.sign(hash_data(unsecured, options)))


def test_an_expiring_proof_does_not_count(fed: Federation) -> None:
    document = fed.content().to_document()
    for code in CODES:
        proof = create_proof(document, fed.signers[code], created=T0 + DAY)
        if code == "CN-AH":
            proof = {k: v for k, v in proof.items() if k != "proofValue"}
            proof["expires"] = "2026-03-01T00:00:00Z"
            proof["proofValue"] = create_proof_value(document, proof, fed.signers[code])
        document = {**document, "proof": [*proofs_of(document), proof]}
    notes = _notes(document, None)
    assert notes[3] == (False, "not counted: a trust-list proof must not expire")


def test_copies_with_other_proofs_are_the_same_version(fed: Federation) -> None:
    v1, v2, v3 = _chain_of_three(fed)
    # A relay drops a surplus proof of version 1 and adds junk to version 2.
    stripped = {**v1, "proof": v1["proof"][:3]}
    assert digest_of(stripped) == digest_of(v1)
    junk = {**v2, "proof": [{**v2["proof"][0], "verificationMethod": "did:key:x"}, *v2["proof"]]}
    with pytest.raises(QuorumNotMet):  # the genesis still needs every founder
        verify_chain([stripped, v2, v3], genesis_digest=digest_of(v1))
    chain = verify_chain([v1, junk, v3], genesis_digest=digest_of(v1))
    assert chain.current is not None
    assert chain.current.version == 3
    # Both copies handed over: the one with more proofs is walked.
    assert verify_chain([stripped, v1, v2, v3], genesis_digest=digest_of(v1)).current


def test_a_copied_proof_value_does_not_silence_the_real_proof(fed: Federation) -> None:
    genesis = fed.genesis()
    decoy = {**genesis["proof"][0], "created": "2026-01-05T00:00:00Z"}
    genesis["proof"] = [decoy, *genesis["proof"]]
    notes = _notes(genesis, None)
    assert notes[0][0] is False
    assert [counted for counted, _ in notes[1:]] == [True] * 4


def test_a_version_not_yet_in_force_is_not_accepted(fed: Federation) -> None:
    genesis = fed.signed(fed.content(valid_from=T0 + 100 * DAY), CODES)
    with pytest.raises(TrustListError, match="takes effect only at"):
        verify_version(genesis, previous=None, at=T0 + DAY)
    assert verify_version(genesis, previous=None, at=T0 + 100 * DAY).version == 1


def test_a_key_that_leaves_and_returns_keeps_its_revocation(fed: Federation) -> None:
    genesis = fed.genesis()
    v1 = verify_version(genesis, previous=None)
    revoked = _with_key(fed, "CN-SH", compromised_since=T0 + DAY, revocation_reason="x")
    v2_doc = fed.signed(fed.successor(genesis, members=revoked), CODES)
    v2 = verify_version(v2_doc, previous=v1)
    v3_doc = fed.signed(fed.successor(v2_doc, members=fed.members[1:]), CODES[1:])
    v3 = verify_version(v3_doc, previous=v2)
    back = fed.signed(fed.successor(v3_doc), CODES[1:])  # Shanghai again, unrevoked
    with pytest.raises(BrokenChain, match="lifts or postpones the revocation"):
        verify_version(back, previous=v3)


def test_copies_of_a_version_pool_their_proofs(fed: Federation) -> None:
    v1, v2, v3 = _chain_of_three(fed)
    junk = [{**p, "verificationMethod": "did:key:z6Mkx#z6Mkx"} for p in v2["proof"]]
    padded = {**v2, "proof": [v2["proof"][0], *junk]}
    chain = verify_chain([v1, v2, padded, v3], genesis_digest=digest_of(v1))
    assert chain.current is not None
    assert chain.current.version == 3


def _witnessed(member: Member, key: Any, name: str | None = None) -> Member:
    name = name or f"{member.log.origin}/witness"
    return dataclasses.replace(member, witness=WitnessEntry(name, witness_key(name, key)))


def test_witness_keys_and_the_witness_policy_round_trip(fed: Federation) -> None:
    members = tuple(_witnessed(m, Ed25519Signer.generate().public_key) for m in fed.members)
    content = fed.content(members=members, witness_policy=WitnessPolicy(count=3))
    document = content.to_document()
    subject = document["credentialSubject"]
    assert subject["witnessPolicy"] == {"rule": "threshold", "count": 3}
    assert subject["members"][0]["witness"]["name"] == "registry.yrd.example/CN-SH/witness"
    again = parse_trust_list(document)
    assert again == content
    assert again.witnessing.required(3) == 3
    # Absent, the policy is the default: a strict majority of the other members.
    plain = parse_trust_list(fed.content(members=members).to_document())
    assert plain.witness_policy is None
    assert [plain.witnessing.required(n) for n in (1, 2, 3, 4)] == [1, 2, 2, 3]
    # A list from before witnessing reads as it did, digest and all.
    old = fed.content()
    assert "witness" not in old.to_document()["credentialSubject"]["members"][0]
    assert digest_of(parse_trust_list(old.to_document()).to_document()) == digest_of(
        old.to_document()
    )


def test_a_witness_key_of_its_own_and_a_policy_that_can_be_met(fed: Federation) -> None:
    first, second, *rest = fed.members
    shared = Ed25519Signer.generate().public_key
    log_key = parse_verifier_key(first.log.verifier_key).public_key
    for members, why in (
        ((_witnessed(first, shared), _witnessed(second, shared), *rest), "another witness"),
        ((_witnessed(first, log_key), second, *rest), "a log's"),
        (
            (
                _witnessed(first, Ed25519Signer.generate().public_key, first.log.origin),
                second,
                *rest,
            ),
            "one name",
        ),
    ):
        with pytest.raises(InvalidInput, match=why):
            fed.content(members=members)
    for count in (0, 4):
        with pytest.raises(InvalidInput, match="cannot be met"):
            fed.content(witness_policy=WitnessPolicy(count=count))
    with pytest.raises(InvalidKeyEncoding):  # a log's (0x01) key is no witness key
        WitnessEntry("w", verifier_key("w", shared))
