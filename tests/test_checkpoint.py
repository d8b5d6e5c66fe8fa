"""C2SP signed notes and checkpoints, against the Go reference (golang.org/x/mod sumdb/note)."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from registry.crypto.keys import Ed25519Signer
from registry.errors import InvalidInput, LogProofError, SignatureMismatch
from registry.tlog.checkpoint import (
    Checkpoint,
    cosign,
    open_note,
    parse_checkpoint,
    sign_note,
    signature_lines,
    signed_by_only,
)
from registry.tlog.note import COSIGNATURE, key_id, parse_verifier_key, verifier_key

GO_SIGNER = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
GO_NOTE = (
    GO_TEXT + "\n— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def _go_signer() -> Ed25519Signer:
    seed = base64.b64decode(GO_SIGNER.split("+", 4)[4])[1:]  # PRIVATE+KEY+name+id+key
    return Ed25519Signer(private_key=Ed25519PrivateKey.from_private_bytes(seed))


def test_signing_reproduces_the_go_reference_note() -> None:
    assert sign_note(GO_TEXT, "PeterNeumann", _go_signer()) == GO_NOTE
    opened = open_note(GO_NOTE, [parse_verifier_key(GO_VERIFIER)])
    assert opened.text == GO_TEXT
    assert opened.signed_by == ("PeterNeumann",)


def test_an_unknown_keys_signature_is_ignored_and_a_changed_text_fails() -> None:
    other = Ed25519Signer.generate()
    cosigned = GO_NOTE + sign_note(GO_TEXT, "someone.else/log", other).split("\n\n", 1)[1]
    verifier = parse_verifier_key(GO_VERIFIER)
    assert open_note(cosigned, [verifier]).signed_by == ("PeterNeumann",)
    assert open_note(cosigned, [verifier, parse_verifier_key(
        verifier_key("someone.else/log", other.public_key)
    )]).signed_by == ("PeterNeumann", "someone.else/log")  # fmt: skip
    with pytest.raises(SignatureMismatch, match="PeterNeumann does not verify"):
        open_note(GO_NOTE.replace("problem,", "problem;"), [verifier])
    with pytest.raises(LogProofError, match="no known key"):
        open_note(GO_NOTE, [parse_verifier_key(verifier_key("PeterNeumann", other.public_key))])


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,  # no signatures
        GO_NOTE.replace("\n\n", "\n"),
        GO_NOTE.rstrip("\n"),
        GO_NOTE.replace("— PeterNeumann ", "- PeterNeumann "),
        GO_NOTE.replace("x08go", "!08go"),
        GO_NOTE.replace("problem,", "problem\x07"),
    ],
)
def test_malformed_notes_are_refused(note: str) -> None:
    with pytest.raises(LogProofError):
        open_note(note, [parse_verifier_key(GO_VERIFIER)])


def test_checkpoints_round_trip_and_refuse_garbage() -> None:
    checkpoint = Checkpoint(origin="registry.yrd.example/CN-SH", size=8, root=bytes(range(32)))
    text = checkpoint.text()
    assert text == ("registry.yrd.example/CN-SH\n8\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n")
    assert parse_checkpoint(text) == checkpoint
    signer = Ed25519Signer.generate()
    note = sign_note(text, checkpoint.origin, signer)
    key = parse_verifier_key(verifier_key(checkpoint.origin, signer.public_key))
    assert parse_checkpoint(open_note(note, [key]).text) == checkpoint
    for bad in (
        "origin\n08\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "origin\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "origin\n8\nAAEC\n",
        "origin\n8\n",
        "origin\n8\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    ):
        with pytest.raises(LogProofError):
            parse_checkpoint(bad)
    with pytest.raises(InvalidInput, match="blank line"):
        sign_note("a\n\nb\n", "x", signer)


def test_a_timestamped_cosignature_by_the_log_key() -> None:
    signer = Ed25519Signer.generate()
    origin = "registry.yrd.example/CN-SH"
    text = Checkpoint(origin=origin, size=3, root=bytes(32)).text()
    note = sign_note(text, origin, signer, timestamp=1_800_000_000)
    key = parse_verifier_key(verifier_key(origin, signer.public_key))
    opened = open_note(note, [key])
    assert opened.signed_by == (origin,)
    assert opened.timestamps == {origin: 1_800_000_000}
    # The cosignature line follows c2sp.org/tlog-cosignature: key ID of type 0x04,
    # an 8-byte big-endian time, and a signature over "cosignature/v1\ntime T\n" + text.
    blob = base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])
    assert blob[:4] == key_id(origin, signer.public_key, COSIGNATURE)
    assert int.from_bytes(blob[4:12], "big") == 1_800_000_000
    signer.public_key.verify(blob[12:], b"cosignature/v1\ntime 1800000000\n" + text.encode())
    forged = base64.b64encode(blob[:4] + (1_700_000_000).to_bytes(8, "big") + blob[12:])
    tampered = note.rsplit(" ", 1)[0] + " " + forged.decode() + "\n"
    with pytest.raises(SignatureMismatch):
        open_note(tampered, [key])
    short = base64.b64encode(blob[:4] + blob[4:12] + blob[12:40]).decode()
    with pytest.raises(LogProofError, match=r"cosignature of .* is malformed"):
        open_note(note.rsplit(" ", 1)[0] + " " + short + "\n", [key])


def test_a_note_without_the_lines_of_other_keys_is_the_note_its_key_signed() -> None:
    """A log's note as a node serves it, a witness's cosignature after the log's lines:
    the lines come apart as written, and the log's own note is what it signed."""
    log, witness = Ed25519Signer.generate(), Ed25519Signer.generate()
    text = Checkpoint(origin="example.org/log", size=3, root=bytes(32)).text()
    own = sign_note(text, "example.org/log", log, timestamp=1_700_000_000)
    line = cosign(text, "example.org/witness", witness, timestamp=1_700_000_001)
    served = own + line
    found, lines = signature_lines(served)
    assert found == text
    assert "".join(lines) == served[len(text) + 1 :]
    assert lines[-1] == line
    assert signed_by_only(served, "example.org/log") == own
    with pytest.raises(LogProofError, match=r"no signature of example\.org/other"):
        signed_by_only(served, "example.org/other")
    with pytest.raises(LogProofError, match="blank line"):
        signature_lines(text)
