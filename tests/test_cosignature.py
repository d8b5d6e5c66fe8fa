"""Witness cosignatures (c2sp.org/tlog-cosignature, type 0x04) and witness keys.

The expected lines below were computed outside the registry, by a script that
follows the specification with ``hashlib`` and ``cryptography`` only, from keys
derived from fixed seeds (Ed25519 signatures are deterministic); ``_spec_verify``
here checks a cosignature the same way, knowing nothing of the registry's code.
The verifier keys of other implementations come from transparency-dev/formats'
tests (``note/note_cosigv1_test.go``).
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from registry.crypto.keys import Ed25519Signer
from registry.errors import InvalidKeyEncoding, LogProofError, SignatureMismatch
from registry.tlog.checkpoint import (
    cosign,
    open_note,
    sign_note,
    with_cosignatures,
    witness_cosignatures,
)
from registry.tlog.note import parse_verifier_key, parse_witness_key, witness_key

ORIGIN = "registry.yrd.example/CN-SH"
WITNESS = "witness.example/w1"
TIME = 1679315147
LOG_KEY = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"registry test vector: log key").digest()
)
WITNESS_KEY = Ed25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"registry test vector: witness key").digest()
)
LOG_VKEY = "registry.yrd.example/CN-SH+5a8eb128+ARyoHRqf1q+PEAVnayCvZCtsCgHf6RpCrypIOC3qVgqj"
WITNESS_VKEY = "witness.example/w1+fa660e5d+BJpmok1dfvcHzJeJAdYjonuQROGNocss/34fk+4rtFv1"
TEXT = "registry.yrd.example/CN-SH\n3\nNmQuc8JUCrEh46a/lUWwokmCzYMOsT080Z3jzmwCHsE=\n"
LOG_LINE = (
    "\u2014 registry.yrd.example/CN-SH Wo6xKLTkfvR17ForxFO02/1kj/RhHDyCmOpzykFpL8dPM6wtjNoFVX51"
    "LLVzua5CRkq+mUoX715Gb2aBejx+I7WyMQg=\n"
)
WITNESS_LINE = (
    "\u2014 witness.example/w1 +mYOXQAAAABkGFDL86hQGg7vcbtioocitGfOlP59B5+s5xMIJucs+0IKAeUX/DuT"
    "z0H87AZ1jFI0TR5IztkunnPQSmy9ErLpm5RoDA==\n"
)
SIGNED_MESSAGE = (
    "636f7369676e61747572652f76310a74696d6520313637393331353134370a72656769737472792e7972"
    "642e6578616d706c652f434e2d53480a330a4e6d517563384a55437245683436612f6c5557776f6b6d43"
    "7a594d4f73543038305a336a7a6d77434873453d0a"
)


def _spec_verify(line: str, text: str, name: str, public: Ed25519PublicKey) -> int:
    """The cosignature's time, checked as c2sp.org/tlog-cosignature says: key ID
    SHA-256(name || 0x0A || 0x04 || key)[:4], then a big-endian u64 time, then the
    Ed25519 signature of "cosignature/v1\\ntime <t>\\n" and the note's text."""
    dash, line_name, encoded = line.rstrip("\n").split(" ")
    assert (dash, line_name) == ("\u2014", name)
    blob = base64.b64decode(encoded)
    raw = public.public_bytes_raw()
    assert blob[:4] == hashlib.sha256(name.encode() + b"\n\x04" + raw).digest()[:4]
    timestamp = int.from_bytes(blob[4:12], "big")
    public.verify(blob[12:], f"cosignature/v1\ntime {timestamp}\n{text}".encode())
    return timestamp


def test_the_witness_key_and_line_are_the_specifications() -> None:
    signer = Ed25519Signer(WITNESS_KEY)
    assert witness_key(WITNESS, signer.public_key) == WITNESS_VKEY
    line = cosign(TEXT, WITNESS, signer, timestamp=TIME)
    assert line == WITNESS_LINE
    assert _spec_verify(line, TEXT, WITNESS, WITNESS_KEY.public_key()) == TIME
    assert bytes.fromhex(SIGNED_MESSAGE) == f"cosignature/v1\ntime {TIME}\n{TEXT}".encode()


def test_a_cosigned_checkpoint_opens_for_the_log_and_for_its_witnesses() -> None:
    note = sign_note(TEXT, ORIGIN, Ed25519Signer(LOG_KEY))
    assert note == f"{TEXT}\n{LOG_LINE}"
    cosigned = with_cosignatures(note, [WITNESS_LINE])
    # The log's verifier ignores the witness's line; the witness's is found.
    opened = open_note(cosigned, [parse_verifier_key(LOG_VKEY)])
    assert opened.signed_by == (ORIGIN,)
    assert witness_cosignatures(cosigned, [parse_witness_key(WITNESS_VKEY)]) == {WITNESS: TIME}
    # A witness nobody lists counts for nothing; nor does the log's own timestamp line.
    stranger = parse_witness_key(
        witness_key("witness.example/w2", Ed25519PrivateKey.generate().public_key())
    )
    assert witness_cosignatures(cosigned, [stranger]) == {}
    stamped = sign_note(TEXT, ORIGIN, Ed25519Signer(LOG_KEY), timestamp=TIME)
    log_as_witness = parse_witness_key(witness_key(ORIGIN, LOG_KEY.public_key()))
    assert witness_cosignatures(stamped, [parse_witness_key(WITNESS_VKEY)]) == {}
    assert witness_cosignatures(stamped, [log_as_witness]) == {ORIGIN: TIME}  # its own key


def test_a_listed_witness_whose_line_does_not_verify_rejects_the_note() -> None:
    note = sign_note(TEXT, ORIGIN, Ed25519Signer(LOG_KEY))
    key = [parse_witness_key(WITNESS_VKEY)]
    other_text = TEXT.replace("\n3\n", "\n4\n")
    moved = with_cosignatures(sign_note(other_text, ORIGIN, Ed25519Signer(LOG_KEY)), [WITNESS_LINE])
    with pytest.raises(SignatureMismatch):
        witness_cosignatures(moved, key)
    blob = bytearray(base64.b64decode(WITNESS_LINE.split(" ")[2]))
    blob[11] ^= 1  # another time than the one signed
    retimed = f"\u2014 {WITNESS} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(SignatureMismatch):
        witness_cosignatures(with_cosignatures(note, [retimed]), key)
    short = f"\u2014 {WITNESS} {base64.b64encode(bytes(blob[:40])).decode()}\n"
    with pytest.raises(LogProofError):
        witness_cosignatures(with_cosignatures(note, [short]), key)
    with pytest.raises(LogProofError):
        with_cosignatures(note, ["not a signature line\n"])


def test_witness_keys_of_other_implementations_parse_and_others_do_not() -> None:
    # transparency-dev/formats, note/note_cosigv1_test.go.
    remora = parse_witness_key(
        "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
    )
    assert remora.key_id.hex() == "da77ade7"
    plain = "TEST+7997405c+AQcC+FTVKf0jlTdHDY3rbevmnKxxPjigCXlVtGe6RIr6"
    assert parse_verifier_key(plain).name == "TEST"
    for bad in (
        plain,  # a log's (0x01) key is never a witness's
        "bananas.sigstore.dev+12344556",
        "rekor.sigstore.dev+12345678+AwEB",
        "remora.n621.de+da77ade8+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
        "remora.n621.de+da77ade+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2",
    ):
        with pytest.raises(InvalidKeyEncoding):
            parse_witness_key(bad)
    with pytest.raises(InvalidKeyEncoding):
        parse_verifier_key(WITNESS_VKEY)
