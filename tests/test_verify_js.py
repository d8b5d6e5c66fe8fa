"""The browser's verification library (web/static/js/verify.js) in Chromium,
against the W3C vectors and against what the registry's own Python code signs, logs
and checks: the same bytes, the same answers, the same refusals."""

from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from playwright.sync_api import Page, sync_playwright
from sqlalchemy import select
from sqlmodel import col

from api import create_app
from devtools.ports import free_port
from registry.credentials import new_credential
from registry.credentials.keys import KeyRecord
from registry.credentials.records import named_people
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.crypto.jcs import canonical_bytes
from registry.crypto.keys import Ed25519Signer
from registry.crypto.multikey import raw_public_bytes
from registry.demo import DEMO_ENGINEERS
from registry.errors import LogProofError, RegistryError
from registry.ids import (
    binding_of,
    disclosure_text,
    parse_resident_id,
    province,
    resident_id_check_character,
)
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Record
from registry.tlog.checkpoint import Checkpoint, open_note, parse_checkpoint, sign_note
from registry.tlog.merkle import (
    NodeGetter,
    inclusion_proof,
    leaf_hash,
    node_hash,
    verify_inclusion,
)
from registry.tlog.note import parse_verifier_key, verifier_key
from registry.trust.chain import verify_chain
from registry.trust.document import LogEntry, Member, Quorum, TrustListContent, digest_of
from tests._browser import launch
from tests._support import LOOPBACK, seed_demo_node

STATIC = Path(__file__).resolve().parent.parent / "web" / "static"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
PREFIX = "registry.yrd.example"
ORIGIN = f"{PREFIX}/CN-SH"

# In the page: the library as ``V``, and ``outcome(f)``: null when ``f`` resolves,
# else "<step>: <message>" of what it threw.
_SETUP = """async () => {
  window.V = await import("/js/verify.js");
  window.bytes = (list) => Uint8Array.from(list);
  window.outcome = async (f) => {
    try { await f(); return null; } catch (e) { return `${e.step}: ${e.message}`; }
  };
}"""


class _Handler(SimpleHTTPRequestHandler):
    """The static files, and an empty page at / to run the library in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, directory=str(STATIC), **kwargs)

    def do_GET(self) -> None:
        if self.path == "/":
            body = b"<!doctype html><html lang='en'><title>verify.js</title></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def requested() -> list[str]:
    """Every URL the page asked for, in order."""
    return []


@pytest.fixture(scope="module")
def page(requested: list[str]) -> Iterator[Page]:
    """One Chromium for the module, on a page served from 127.0.0.1 (a secure context,
    so WebCrypto is there), with the library loaded; a request anywhere else is
    refused (and recorded in ``requested`` like every other)."""
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            try:
                opened = browser.new_page()
                opened.on("request", lambda request: requested.append(request.url))
                opened.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda r: r.abort())
                opened.goto(f"http://127.0.0.1:{server.server_port}/")
                opened.evaluate(_SETUP)
                yield opened
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _signer(seed: int) -> Ed25519Signer:
    return Ed25519Signer(private_key=Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def _raw(signer: Ed25519Signer) -> list[int]:
    return list(raw_public_bytes(signer.public_key))


# --- eddsa-jcs-2022 -----------------------------------------------------------------


def test_w3c_vectors(page: Page, vectors: dict[str, str]) -> None:
    found = page.evaluate(
        """async (v) => {
          const signed = JSON.parse(v["signedJCS.json"]);
          const config = JSON.parse(v["proofConfigJCS.json"]);
          const unsecured = Object.fromEntries(
            Object.entries(signed).filter(([k]) => k !== "proof"));
          const hex = async (text) => V.toHex(new Uint8Array(
            await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))));
          const key = V.decodeMultibaseKey(JSON.parse(v["keyPair.json"]).publicKeyMultibase);
          const verified = await V.verifyDataIntegrityProof(signed, key);
          return {
            document: V.canonicalize(unsecured),
            config: V.canonicalize(config),
            docHash: await hex(V.canonicalize(unsecured)),
            proofHash: await hex(V.canonicalize(config)),
            signature: V.toHex(V.multibaseDecode(v["sigBTC58JCS.txt"].trim())),
            keyLength: key.length,
            method: verified.verificationMethod,
            created: verified.created.toISOString(),
          };
        }""",
        vectors,
    )
    signed = json.loads(vectors["signedJCS.json"])
    assert found["document"] == vectors["canonDocJCS.txt"].strip()
    assert found["config"] == vectors["proofCanonJCS.txt"].strip()
    assert found["docHash"] == vectors["docHashJCS.txt"].strip()
    assert found["proofHash"] + found["docHash"] == vectors["combinedHashJCS.txt"].strip()
    assert found["signature"] == vectors["sigHexJCS.txt"].strip()
    assert found["keyLength"] == 32
    assert found["method"] == signed["proof"]["verificationMethod"]
    assert found["created"] == "2023-02-24T23:36:38.000Z"


def _tampered(page: Page, credential: dict[str, Any], key: list[int]) -> str | None:
    result: str | None = page.evaluate(
        "([c, k]) => outcome(() => V.verifyDataIntegrityProof(c, bytes(k)))", [credential, key]
    )
    return result


def test_vector_refused_when_tampered(page: Page, signed_vector: dict[str, Any]) -> None:
    key = page.evaluate(
        "(m) => Array.from(V.decodeMultibaseKey(m))",
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
    )
    assert _tampered(page, signed_vector, key) is None
    document = copy.deepcopy(signed_vector)
    document["proof"]["@context"] = ["https://www.w3.org/ns/credentials/examples/v2"]
    assert _tampered(page, document, key) == (
        "context: the document's @context does not start with the proof's"
    )
    document = copy.deepcopy(signed_vector)
    document["proof"]["cryptosuite"] = "eddsa-rdfc-2022"
    assert (_tampered(page, document, key) or "").startswith("configuration: cryptosuite")
    document = copy.deepcopy(signed_vector)
    document["proof"]["created"] = "2023-02-30T23:36:38Z"
    assert _tampered(page, document, key) == (
        "configuration: created is not a real date and time: 2023-02-30T23:36:38Z"
    )
    document = copy.deepcopy(signed_vector)
    document["proof"]["proofPurpose"] = "authentication"
    assert (_tampered(page, document, key) or "").startswith("configuration: proofPurpose")


def _credential(signer: Ed25519Signer, name: str = "王五") -> dict[str, Any]:
    unsigned = new_credential(
        type_="SafetyEngineerQualification",
        issuer_code="CN-SH",
        subject={"holder": {"name": name}, "category": "chemical", "hours": 8.5},
        valid_from=T0,
    )
    return add_proof(unsigned, signer, created=T0)


def test_registry_signed_credentials(page: Page) -> None:
    signer = _signer(7)
    key = _raw(signer)
    credential = _credential(signer)
    assert _tampered(page, credential, key) is None
    # One character of the subject changed.
    changed = copy.deepcopy(credential)
    changed["credentialSubject"]["holder"]["name"] = "王六"
    assert (_tampered(page, changed, key) or "").startswith("signature: the signature by did:key")
    # One character of the proofValue changed (still base58, still 64 bytes).
    value = credential["proof"]["proofValue"]
    swapped = copy.deepcopy(credential)
    swapped["proof"]["proofValue"] = value[:-1] + ("2" if value[-1] != "2" else "3")
    assert (_tampered(page, swapped, key) or "").startswith("signature: ")
    # Another key: the caller's key decides, not the verificationMethod.
    assert (_tampered(page, credential, _raw(_signer(8))) or "").startswith("signature: ")
    truncated = copy.deepcopy(credential)
    truncated["proof"]["proofValue"] = value[:20]
    assert (_tampered(page, truncated, key) or "").startswith("proofValue: an Ed25519 signature")
    assert _tampered(page, credential, key[:31]) == "key: an Ed25519 public key has 32 bytes"
    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    assert _tampered(page, unsigned, key) == "proof: the credential has no proof"


def test_multikey_and_base58(page: Page) -> None:
    signer = _signer(9)
    multikey = signer.verification_method.split("#")[1]
    found = page.evaluate(
        """(m) => ({
          key: Array.from(V.decodeMultibaseKey(m)),
          zeros: Array.from(V.base58btcDecode("1112")),
          bad: [() => V.base58btcDecode("0OIl"), () => V.decodeMultibaseKey("z" + m.slice(2)),
                () => V.decodeMultibaseKey(m.slice(1))].map((f) => {
            try { f(); return null; } catch (e) { return e.step; } }),
        })""",
        multikey,
    )
    assert found["key"] == _raw(signer)
    assert found["zeros"] == [0, 0, 0, 1]
    assert found["bad"] == ["base58", "multikey", "multibase"]


# --- RFC 8785 -----------------------------------------------------------------------

_TEXT = st.characters(exclude_categories=["Cs"])
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(_TEXT, max_size=12)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(st.characters(exclude_categories=["Cs"]), max_size=6), inner, max_size=4
        )
    ),
    max_leaves=12,
)


@settings(max_examples=8, deadline=None)
@given(values=st.lists(_JSON, min_size=1, max_size=25))
def test_canonical_json_is_the_registrys(page: Page, values: list[Any]) -> None:
    # Handed over as JSON text (as a page receives JSON), all at once.
    written: list[str] = page.evaluate(
        "(text) => JSON.parse(text).map((value) => V.canonicalize(value))", json.dumps(values)
    )
    assert [text.encode("utf-8") for text in written] == [canonical_bytes(v) for v in values]


_EDGES: list[Any] = [
    -0.0,
    1e21,
    1e-7,
    5e-324,
    0.1 + 0.2,
    1.7976931348623157e308,
    2**53 - 1,
    -(2**53) + 1,
    '\u2028\u2029\u007f\u0000\u001f"\\/',
    # Keys in UTF-16 order: U+1F600 (a surrogate pair) sorts before U+FFFF.
    {"\uffff": 1, "\U0001f600": 2, "a": 3, "\u00e9": 4, "": 5},
    [{"b": [None, True, False], "a": {"z": 1.5, "y": "\u738b"}}],
]


def test_canonical_json_edges(page: Page) -> None:
    written: list[str] = page.evaluate(
        "(text) => JSON.parse(text).map((value) => V.canonicalize(value))", json.dumps(_EDGES)
    )
    assert [text.encode("utf-8") for text in written] == [canonical_bytes(v) for v in _EDGES]


def test_canonical_json_refuses_what_has_no_canonical_form(page: Page) -> None:
    refused = page.evaluate(
        """() => [NaN, Infinity, "\\ud800", {"\\udc00": 1}, undefined, () => 1, new Date(0),
                  (() => { const cycle = []; cycle.push(cycle); return cycle; })()]
             .map((value) => { try { V.canonicalize(value); return false; }
                               catch (e) { return e instanceof TypeError; } })"""
    )
    assert refused == [True] * 8


# --- RFC 9162 -----------------------------------------------------------------------


def _tree(leaves: list[bytes]) -> NodeGetter:
    hashes = [leaf_hash(leaf) for leaf in leaves]

    @functools.cache
    def get(level: int, index: int) -> bytes:
        if level == 0:
            return hashes[index]
        return node_hash(get(level - 1, 2 * index), get(level - 1, 2 * index + 1))

    return get


def _root(get: NodeGetter, size: int) -> bytes:
    # The tree's root from its proof of leaf 0 (the rightmost hashes on its path).
    proof = inclusion_proof(get, 0, size)
    root = get(0, 0)
    for sibling in proof:
        root = node_hash(root, sibling)
    return root


def test_inclusion_proofs_from_the_registry(page: Page) -> None:
    leaves = [f"leaf {i}".encode() for i in range(13)]
    get = _tree(leaves)
    cases = []
    for size in range(1, 14):
        root = _root(get, size)
        for index in range(size):
            proof = inclusion_proof(get, index, size)
            verify_inclusion(get(0, index), index, size, proof, root)  # Python agrees
            cases.append(
                {
                    "data": list(leaves[index]),
                    "index": index,
                    "size": size,
                    "proof": [list(h) for h in proof],
                    "root": list(root),
                }
            )
    answers = page.evaluate(
        """async (cases) => {
          const answers = [];
          for (const c of cases) {
            const leaf = await V.leafHash(bytes(c.data));
            const proof = c.proof.map(bytes);
            const root = bytes(c.root);
            const flipped = proof.map((h) => h.slice());
            if (flipped.length) flipped[0][0] ^= 1;
            answers.push([
              await outcome(() => V.verifyInclusion(leaf, c.index, c.size, proof, root)),
              await outcome(() => V.verifyInclusion(leaf, c.index, c.size, flipped, root)),
              await outcome(() => V.verifyInclusion(leaf, c.index + 1, c.size, proof, root)),
              await outcome(() => V.verifyInclusion(leaf, c.index, c.size, [...proof, root], root)),
              await outcome(() => V.verifyInclusion(leaf, c.index, c.size, proof.slice(1), root)),
            ]);
          }
          return answers;
        }""",
        cases,
    )
    for case, (right, flipped, moved, longer, shorter) in zip(cases, answers, strict=True):
        assert right is None, case
        if case["proof"]:
            assert (flipped or "").startswith("inclusion: "), case
            assert (shorter or "").startswith("inclusion: "), case
        assert (moved or "").startswith("inclusion: "), case
        assert (longer or "").startswith("inclusion: "), case


def test_inclusion_refuses_a_wrong_leaf_as_python_does(page: Page) -> None:
    leaves = [bytes([i]) for i in range(6)]
    get = _tree(leaves)
    root = _root(get, 6)
    proof = inclusion_proof(get, 2, 6)
    with pytest.raises(LogProofError):
        verify_inclusion(leaf_hash(b"other"), 2, 6, proof, root)
    answer = page.evaluate(
        """async ([proof, root]) => outcome(async () => V.verifyInclusion(
             await V.leafHash(new TextEncoder().encode("other")), 2, 6, proof.map(bytes),
             bytes(root)))""",
        [[list(h) for h in proof], list(root)],
    )
    assert answer == "inclusion: leaf 2 does not lead to the root of size 6"


# --- C2SP checkpoints ---------------------------------------------------------------


def _python_opens(note: str, key: str, origin: str) -> bool:
    try:
        opened = open_note(note, [parse_verifier_key(key)])
        return parse_checkpoint(opened.text).origin == origin and key.startswith(origin + "+")
    except RegistryError:
        return False


def _checkpoint(page: Page, note: str, key: str, origin: str = ORIGIN) -> Any:
    return page.evaluate(
        """async ([note, origin, key]) => {
          try {
            const c = await V.verifyCheckpoint(note, origin, key);
            return {origin: c.origin, size: c.size, root: Array.from(c.root),
                    cosignedAt: c.cosignedAt};
          } catch (e) { return `${e.step}: ${e.message}`; }
        }""",
        [note, origin, key],
    )


def test_checkpoints_signed_by_the_registry(page: Page) -> None:
    log, other = _signer(1), _signer(2)
    key = verifier_key(ORIGIN, log.public_key)
    root = hashlib.sha256(b"root").digest()
    text = Checkpoint(ORIGIN, 4711, root).text()
    note = sign_note(text, ORIGIN, log)
    stamped = sign_note(text, ORIGIN, log, timestamp=1_790_000_000)
    # An unknown key's line is ignored, as the signed-note rules require.
    with_other = note + sign_note(text, "someone.else", other).split("\n\n")[1]
    expected = {"origin": ORIGIN, "size": 4711, "root": list(root)}
    assert _checkpoint(page, note, key) == {**expected, "cosignedAt": None}
    assert _checkpoint(page, stamped, key) == {**expected, "cosignedAt": 1_790_000_000}
    assert _checkpoint(page, with_other, key) == {**expected, "cosignedAt": None}

    refused = {
        "altered size": note.replace("\n4711\n", "\n4712\n", 1),
        "altered root": note.replace(
            base64.b64encode(root).decode(), base64.b64encode(bytes(32)).decode(), 1
        ),
        "another key": sign_note(text, ORIGIN, other),
        "altered cosignature": stamped[:-6] + ("A" if stamped[-6] != "A" else "B") + stamped[-5:],
        "no signature": text + "\n",
    }
    answers = {name: _checkpoint(page, altered, key) for name, altered in refused.items()}
    for name, altered in refused.items():
        assert not _python_opens(altered, key, ORIGIN), name
    assert answers["altered size"] == f"note: the signature of {ORIGIN} does not verify"
    assert answers["altered root"] == f"note: the signature of {ORIGIN} does not verify"
    assert answers["another key"] == f"note: no signature of {ORIGIN} is on the note"
    assert answers["altered cosignature"] == f"note: the cosignature of {ORIGIN} does not verify"
    assert answers["no signature"].startswith("note: ")
    # The right note, but judged by another key, or as another log's.
    assert _checkpoint(page, note, verifier_key(ORIGIN, other.public_key)) == (
        f"note: no signature of {ORIGIN} is on the note"
    )
    other_origin = "registry.yrd.example/CN-JS"
    signed_elsewhere = sign_note(Checkpoint(other_origin, 1, root).text(), ORIGIN, log)
    assert _checkpoint(page, signed_elsewhere, key) == (
        f"checkpoint: the checkpoint is of {other_origin}, not {ORIGIN}"
    )
    assert _checkpoint(page, note, key, other_origin) == (
        f"log key: the log key is named {ORIGIN}, not {other_origin}"
    )
    wrong_id = key.split("+")
    wrong_id[1] = "00000000"
    assert _checkpoint(page, note, "+".join(wrong_id)) == (
        f"log key: verifier key {ORIGIN}: the key ID does not match the key"
    )


# --- The holder ---------------------------------------------------------------------


def _valid(first17: str) -> str:
    """The ID number of these 17 digits with its check character."""
    return str(parse_resident_id(first17 + resident_id_check_character(first17)))


def _binding(page: Page, typed: str, disclosure: str, binding: str) -> str | None:
    result: str | None = page.evaluate(
        "([n, d, b]) => outcome(() => V.checkBinding(n, d, b))", [typed, disclosure, binding]
    )
    return result


def test_binding(page: Page) -> None:
    numbers = [_valid(f"31010119900101{n:03d}") for n in range(40)]
    with_x = next(n for n in numbers if n.endswith("X"))
    other = next(n for n in numbers if n != with_x)
    salt = secrets.token_bytes(16)
    disclosure = disclosure_text(salt)
    binding = binding_of(parse_resident_id(with_x), salt)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in with_x[:17].lower()) + "x"
    spaced = f"{with_x[:6]} {with_x[6:14]} {with_x[14:].lower()}"
    assert _binding(page, with_x, disclosure, binding) is None
    assert _binding(page, full_width, disclosure, binding) is None
    assert _binding(page, spaced, " ".join([disclosure[:11], disclosure[11:]]), binding) is None
    assert _binding(page, other, disclosure, binding) == (
        "holder: the ID number and the disclosure do not match the credential"
    )
    other_salt = disclosure_text(secrets.token_bytes(16))
    assert (_binding(page, with_x, other_salt, binding) or "").startswith("holder: ")
    mistyped = with_x[:5] + str((int(with_x[5]) + 1) % 10) + with_x[6:]
    assert (_binding(page, mistyped, disclosure, binding) or "").startswith("ID number: ")
    assert (_binding(page, with_x, "too-short", binding) or "").startswith("disclosure: ")
    # A legacy 15-digit number is the 18-digit one without century and check character.
    legacy_number = _valid("31010119900101123")
    legacy = legacy_number[:6] + legacy_number[8:17]
    legacy_binding = binding_of(parse_resident_id(legacy_number), salt)
    assert _binding(page, legacy, disclosure, legacy_binding) is None


# --- The trust list's chain ---------------------------------------------------------

CODES = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
TRUST_TYPES = frozenset({"TrustList", "SafetyEngineerQualification"})


class _Federation:
    """Four members with one key each, writing and signing trust-list versions."""

    def __init__(self) -> None:
        self.signers = {code: _signer(20 + i) for i, code in enumerate(CODES)}
        self.members = tuple(self.member(code) for code in CODES)

    def member(self, code: str, types: frozenset[str] = TRUST_TYPES) -> Member:
        signer = self.signers[code]
        origin = f"{PREFIX}/{code}"
        record = KeyRecord(
            verification_method=signer.verification_method,
            authority=code,
            public_key_multibase=signer.public_key_multibase,
            allowed_types=types,
            valid_from=T0,
        )
        return Member(
            code=code,
            gb_code=province(code).gb,
            name_zh=f"{code} 应急管理",
            name_en=f"{code} emergency management",
            keys=(record,),
            log=LogEntry(origin=origin, verifier_key=verifier_key(origin, _log_signer(code))),
            node_url="https://node.example",
        )

    def version(
        self,
        previous: dict[str, Any] | None,
        signers: tuple[str, ...] = CODES,
        *,
        members: tuple[Member, ...] | None = None,
        digest: str | None = None,
    ) -> dict[str, Any]:
        number = previous["credentialSubject"]["version"] + 1 if previous else 1
        content = TrustListContent(
            version=number,
            previous=digest or (digest_of(previous) if previous else None),
            valid_from=T0 + timedelta(days=number),
            quorum=Quorum(),
            members=members or self.members,
        )
        document = content.to_document()
        for code in signers:
            document = add_proof(document, self.signers[code], created=T0 + timedelta(days=number))
        return document


def _log_signer(code: str) -> Ed25519PublicKey:
    return _signer(40 + CODES.index(code)).public_key


def _python_walks(documents: list[dict[str, Any]], genesis: str) -> bool:
    try:
        verify_chain(documents, genesis_digest=genesis, at=T0 + timedelta(days=30))
    except RegistryError:
        return False
    return True


def test_trust_chains(page: Page) -> None:
    fed = _Federation()
    v1 = fed.version(None)
    v2 = fed.version(v1, CODES[:3])  # a strict majority of four
    v3 = fed.version(v2)
    genesis = digest_of(v1)
    narrowed = tuple(fed.member(c, frozenset({"TrustList"})) for c in CODES)
    widened = tuple(fed.member(c, TRUST_TYPES | {"StatusChange"}) for c in CODES)
    v2_copy = {**v2, "proof": [fed.version(v1, CODES[3:])["proof"]]}
    short = fed.version(None, CODES[:3])
    cases: dict[str, tuple[list[dict[str, Any]], str, bool]] = {
        "a chain of three": ([v3, v1, v2], genesis, True),
        "copies of one version with their proofs together": ([v1, v2_copy, v2, v3], genesis, True),
        "a key narrowed": ([v1, fed.version(v1, members=narrowed)], genesis, True),
        "another genesis pinned": ([v1, v2], "0" * 64, False),
        "a genesis three of four signed": ([short], digest_of(short), False),
        "a version two of four signed": ([v1, fed.version(v1, CODES[:2])], genesis, False),
        "a wrong previous digest": ([v1, fed.version(v1, digest="1" * 64)], genesis, False),
        "a key widened": ([v1, fed.version(v1, members=widened)], genesis, False),
        "a gap": ([v1, v3], genesis, False),
        "a fork": ([v1, v2, fed.version(v1, members=narrowed)], genesis, False),
    }
    answers = page.evaluate(
        """async ([cases, now]) => {
          const answers = {};
          for (const [name, [documents, pinned]] of Object.entries(cases)) {
            try {
              const current = await V.verifyTrustChain(documents, pinned, new Date(now));
              answers[name] = [current.version, current.digest];
            } catch (e) { answers[name] = `${e.step}: ${e.message}`; }
          }
          return answers;
        }""",
        [
            {name: [docs, pinned] for name, (docs, pinned, _) in cases.items()},
            (T0 + timedelta(days=30)).isoformat(),
        ],
    )
    for name, (documents, pinned, holds) in cases.items():
        assert _python_walks(documents, pinned) is holds, name
        if holds:
            newest = max(documents, key=lambda d: d["credentialSubject"]["version"])
            assert answers[name] == [newest["credentialSubject"]["version"], digest_of(newest)]
        else:
            assert isinstance(answers[name], str), name
            assert answers[name].startswith("trust chain: "), (name, answers[name])
    assert answers["a version two of four signed"].endswith(
        "version 2: 2 of 4 members signed, 3 required"
    )
    assert answers["a gap"] == "trust chain: version 3 does not follow version 1"


# --- A whole bundle from a node -----------------------------------------------------


@pytest.fixture(scope="module")
def node_answers(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> dict[str, Any]:
    """A proof bundle, the trust list and the holder's disclosure, as a seeded demo
    node serves them (in process, on SQLite)."""
    tmp = tmp_path_factory.mktemp("node")
    database = tmp / "registry.sqlite3"
    database.write_bytes(sqlite_template.read_bytes())
    node = Settings(
        data_dir=tmp / "data",
        database_url=f"sqlite:///{database}",
        webhook_allowed_networks=LOOPBACK.allowed,
        demo=True,
    )
    tokens = seed_demo_node(node)
    with TestClient(create_app(node)) as client:
        with engine_scope(node.database_url) as engine, session_scope(engine) as session:
            record = session.scalars(
                select(Record).where(col(Record.type) == "SafetyEngineerQualification")
            ).first()
            assert record is not None
            credential_id = record.credential_id
            records = session.scalars(select(Record)).all()
            assert {r.type for r in records} >= {"UntrustworthinessListing"}
            every = [r.credential_id for r in records]
        bundle = client.get(f"/v1/credentials/{credential_id}/proof").json()
        authority = bundle["authority"]
        disclosures = client.get(
            f"/v1/credentials/{credential_id}/disclosures",
            headers={"Authorization": f"Bearer {tokens[f'issuer:{authority}']}"},
        ).json()["disclosures"]
        trust = client.get("/v1/trust-list").json()
        chain = client.get("/v1/trust-list/chain").json()
        genesis = client.get("/v1/trust-list/history").json()["genesis"]
        documents = [client.get(f"/v1/credentials/{i}").json()["credential"] for i in every]
    return {
        "bundle": bundle,
        "trust": trust,
        "chain": chain,
        "genesis": genesis,
        "disclosure": disclosures[0],
        "records": documents,
    }


_NAMES = [
    "credential",
    "trust list",
    "checkpoint",
    "witnessed",
    "signature",
    "issuing key",
    "inclusion",
]


def _checks(
    page: Page,
    bundle: Any,
    trust: Any,
    now: datetime | None = None,
    chain: dict[str, Any] | None = None,
) -> dict[str, Any]:
    checks: list[dict[str, Any]] = page.evaluate(
        "([b, t, now, chain]) => V.checkCredentialBundle(b, t, now ? new Date(now) : undefined,"
        " chain ?? undefined)",
        [bundle, trust, now.isoformat() if now else None, chain],
    )
    assert [c["name"] for c in checks] == (["trust chain"] if chain else []) + _NAMES
    return {c["name"]: (c["ok"], c["detail"]) for c in checks}


def _failing(checks: dict[str, Any]) -> list[str]:
    return [name for name, (ok, _) in checks.items() if not ok]


def test_a_real_bundle_holds(page: Page, node_answers: dict[str, Any]) -> None:
    checks = _checks(page, node_answers["bundle"], node_answers["trust"])
    assert _failing(checks) == [], checks
    assert checks["witnessed"][1].startswith("3 of 2 cosignatures")
    assert checks["trust list"][1].endswith("(as given: no chain walked from a pinned genesis)")


def test_a_real_bundle_with_the_trust_chain(page: Page, node_answers: dict[str, Any]) -> None:
    bundle, trust = node_answers["bundle"], node_answers["trust"]
    chain = {"chain": node_answers["chain"], "genesis": node_answers["genesis"]}
    checks = _checks(page, bundle, trust, chain=chain)
    assert _failing(checks) == [], checks
    assert checks["trust chain"][1].startswith("version 1, the chain from the pinned genesis")
    assert not checks["trust list"][1].endswith("genesis)")
    # A trust list that is not the chain's newest version vouches for nothing.
    narrowed = copy.deepcopy(trust)
    narrowed["credentialSubject"]["members"][0]["nodeUrl"] = "https://elsewhere.example"
    checks = _checks(page, bundle, narrowed, chain=chain)
    assert _failing(checks) == ["trust chain", *_NAMES[1:]]
    assert checks["trust chain"][1] == "the trust list given is not version 1 of the chain"
    assert checks["trust list"][1] == "not checked: the trust chain check failed"
    # Another genesis pinned.
    checks = _checks(page, bundle, trust, chain={**chain, "genesis": "0" * 64})
    assert checks["trust chain"][0] is False
    assert "is not the pinned" in checks["trust chain"][1]


def test_a_tampered_bundle_fails_its_signature_and_inclusion(
    page: Page, node_answers: dict[str, Any]
) -> None:
    bundle = copy.deepcopy(node_answers["bundle"])
    holder = bundle["credential"]["credentialSubject"]["holder"]
    holder["name"] = holder["name"][:-1] + "某"
    checks = _checks(page, bundle, node_answers["trust"])
    assert _failing(checks) == ["signature", "issuing key", "inclusion"], checks
    assert checks["signature"][1].endswith("does not match the document")
    assert checks["issuing key"][1] == "not checked: the signature check failed"
    assert checks["inclusion"][1].startswith("leaf ")


def test_a_bundle_against_a_trust_list_that_does_not_vouch(
    page: Page, node_answers: dict[str, Any]
) -> None:
    bundle, trust = node_answers["bundle"], node_answers["trust"]
    authority = bundle["authority"]
    members = trust["credentialSubject"]["members"]
    # The issuer's keys may not sign this type.
    narrowed = copy.deepcopy(trust)
    for member in narrowed["credentialSubject"]["members"]:
        for key in member["issuingKeys"]:
            key["allowedTypes"] = ["ContinuingEducationCredit"]
    checks = _checks(page, bundle, narrowed)
    assert _failing(checks) == ["issuing key"]
    assert checks["issuing key"][1].endswith("may not sign SafetyEngineerQualification")
    created = datetime.fromisoformat(bundle["credential"]["proof"]["created"])
    # The log key is another member's.
    swapped = copy.deepcopy(trust)
    mine = next(m for m in swapped["credentialSubject"]["members"] if m["code"] == authority)
    theirs = next(m for m in members if m["code"] != authority)
    mine["log"] = copy.deepcopy(theirs["log"])
    checks = _checks(page, bundle, swapped)
    assert _failing(checks) == ["checkpoint", "witnessed", "inclusion"]
    # Not a member at all.
    without = copy.deepcopy(trust)
    without["credentialSubject"]["members"] = [m for m in members if m["code"] != authority]
    checks = _checks(page, bundle, without)
    assert _failing(checks) == _NAMES[1:]
    # Judged at a time before the proof was made, the proof is from the future.
    checks = _checks(page, bundle, trust, now=created - timedelta(hours=1))
    assert _failing(checks) == ["issuing key"]
    assert "in the future" in checks["issuing key"][1]


def _unwitnessed(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle with only its log's own lines on the checkpoint."""
    changed = copy.deepcopy(bundle)
    text, lines = changed["checkpoint"].split("\n\n")
    origin = text.split("\n")[0]
    own = [line for line in lines.split("\n") if line.split(" ")[1:2] == [origin]]
    changed["checkpoint"] = text + "\n\n" + "\n".join(own) + "\n"
    return changed


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with_key(trust: dict[str, Any], method: str, **fields: Any) -> dict[str, Any]:
    """The trust list with the entry of key ``method`` changed."""
    changed = copy.deepcopy(trust)
    for member in changed["credentialSubject"]["members"]:
        for key in member["issuingKeys"]:
            if key["id"] == method:
                key.update(fields)
    return changed


def test_the_issuing_key_judged_at_signing_time(page: Page, node_answers: dict[str, Any]) -> None:
    bundle, trust = node_answers["bundle"], node_answers["trust"]
    method = bundle["credential"]["proof"]["verificationMethod"]
    created = datetime.fromisoformat(bundle["credential"]["proof"]["created"])
    witnessed = _checks(page, bundle, trust)["witnessed"][1]
    witnessed_at = datetime.fromisoformat(witnessed.rsplit(" by ", 1)[1])
    second = timedelta(seconds=1)

    def issuing_key(**fields: Any) -> tuple[bool, str]:
        checks = _checks(page, bundle, _with_key(trust, method, **fields))
        assert _failing(checks) in ([], ["issuing key"])
        verdict: tuple[bool, str] = checks["issuing key"]
        return verdict

    def revoked(since: datetime) -> dict[str, Any]:
        return {"compromisedSince": _stamp(since), "reason": "key leaked"}

    assert issuing_key(validFrom=_stamp(created))[0]
    ok, why = issuing_key(validFrom=_stamp(created + second))
    assert not ok
    assert "was not yet valid" in why
    assert issuing_key(validUntil=_stamp(created + second))[0]
    ok, why = issuing_key(validUntil=_stamp(created))
    assert not ok
    assert "was retired" in why
    # Reported compromised: before it signed, never; after, only where a checkpoint
    # witnessed before the compromise holds the record.
    ok, why = issuing_key(revocation=revoked(created))
    assert not ok
    assert why.endswith("(key leaked)")
    later = revoked(witnessed_at + second)
    assert issuing_key(revocation=later)[0]
    # The same without the witnesses' cosignatures: nothing shows when it was logged.
    checks = _checks(page, _unwitnessed(bundle), _with_key(trust, method, revocation=later))
    assert _failing(checks) == ["witnessed", "issuing key"]
    assert checks["issuing key"][1].endswith("is shown to include this record")


def test_a_bundle_with_a_forged_cosignature(page: Page, node_answers: dict[str, Any]) -> None:
    bundle = copy.deepcopy(node_answers["bundle"])
    text, block = bundle["checkpoint"].split("\n\n")
    lines = block.split("\n")
    witness = next(i for i, line in enumerate(lines) if "/witness " in line)
    blob = bytearray(base64.b64decode(lines[witness].split(" ")[2]))
    blob[-1] ^= 1
    name = lines[witness].split(" ")[1]
    lines[witness] = f"\u2014 {name} {base64.b64encode(bytes(blob)).decode()}"
    bundle["checkpoint"] = text + "\n\n" + "\n".join(lines)
    checks = _checks(page, bundle, node_answers["trust"])
    assert _failing(checks) == ["witnessed"]
    assert checks["witnessed"][1] == f"the cosignature of {name} does not verify"


def test_a_bundle_without_witnesses_is_said_so(page: Page, node_answers: dict[str, Any]) -> None:
    checks = _checks(page, _unwitnessed(node_answers["bundle"]), node_answers["trust"])
    assert _failing(checks) == ["witnessed"]
    assert checks["witnessed"][1].startswith("below the witness policy: 0 of 2 cosignatures")


def test_the_holder_of_a_real_credential(page: Page, node_answers: dict[str, Any]) -> None:
    credential = node_answers["bundle"]["credential"]
    holder = credential["credentialSubject"]["holder"]
    number = next(e.id_number for e in DEMO_ENGINEERS if e.name == holder["name"])
    binding = holder["identifier"]["binding"]
    disclosure = node_answers["disclosure"]["disclosure"]
    assert _binding(page, number, disclosure, binding) is None
    others = [e.id_number for e in DEMO_ENGINEERS if e.id_number != number]
    assert (_binding(page, others[0], disclosure, binding) or "").startswith("holder: ")
    # The same on the whole credential: the person it names, or nobody.
    found = page.evaluate(
        """async ([c, numbers, d]) => Promise.all(numbers.map(async (n) => {
             try { return await V.checkHolder(c, n, d); }
             catch (e) { return `${e.step}: ${e.message}`; } }))""",
        [credential, [number, others[0]], disclosure],
    )
    masked = holder["identifier"]["masked"]
    assert found[0] == {"position": 0, "role": "holder", "name": holder["name"], "masked": masked}
    assert found[1].startswith("holder: the ID number and the disclosure do not match anyone")


def test_the_people_a_record_names(page: Page, node_answers: dict[str, Any]) -> None:
    documents = node_answers["records"]
    found = page.evaluate("(documents) => documents.map(V.namedPeople)", documents)
    for document, people in zip(documents, found, strict=True):
        expected = named_people(document["type"][1], document)
        assert {p["position"]: (p["masked"], p["binding"]) for p in people} == {
            position: (identifier.masked, identifier.binding)
            for position, identifier in expected.items()
        }
    # A listing of an organisation names its people after it.
    assert any(p["role"] != "holder" and p["position"] > 0 for people in found for p in people)


def test_the_library_asks_for_nothing(page: Page, requested: list[str]) -> None:
    # Run last in this module: everything above asked for nothing beyond the page and
    # the module itself.
    origin = page.url.rstrip("/")
    assert page.evaluate("() => location.protocol + '//' + location.host") == origin
    own = {url for url in requested if url != f"{origin}/favicon.ico"}  # the browser's
    assert own == {f"{origin}/", f"{origin}/js/verify.js"}
