"""C2SP signed notes (c2sp.org/signed-note) and checkpoints (c2sp.org/tlog-checkpoint).

A signed note is its text (ending in a newline), a blank line, and one or more
signature lines ``— <key name> <base64(key ID || signature)>``. A checkpoint is the
text ``<origin>\\n<tree size>\\n<base64 root hash>\\n`` (optionally followed by
extension lines) signed by the log's key, whose name is the origin.

Verification follows the signed-note rules: signatures from unknown keys are
ignored; a signature from a known key (same name and key ID) that does not verify
rejects the note; at least one known key must have signed.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from registry.crypto.ed25519 import verify_signature
from registry.crypto.keys import Signer
from registry.errors import InvalidInput, LogProofError, SignatureMismatch
from registry.tlog.note import COSIGNATURE, NoteVerifierKey, key_id

__all__ = [
    "Checkpoint",
    "SignedNote",
    "cosign",
    "open_note",
    "parse_checkpoint",
    "sign_note",
    "signature_ids",
    "signature_lines",
    "signed_by_only",
    "with_cosignatures",
    "witness_cosignatures",
]

_DASH = "\u2014"  # em dash
_MAX_SIGNATURES = 16
_DECIMAL = re.compile(r"^(0|[1-9][0-9]{0,18})$")  # below 2**63, like a tree size can be


@dataclass(frozen=True)
class SignedNote:
    """A note's text, the keys whose signatures verified, and their signed times.

    ``timestamps`` holds, by key name, the POSIX time of each verified timestamped
    cosignature (c2sp.org/tlog-cosignature, type 0x04).
    """

    text: str
    signed_by: tuple[str, ...]
    timestamps: dict[str, int]


def _cosigned_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


def sign_note(text: str, name: str, signer: Signer, *, timestamp: int | None = None) -> str:
    """``text`` signed by ``signer`` under key ``name`` (Ed25519, type 0x01).

    With ``timestamp`` (POSIX seconds), the same key adds a timestamped cosignature
    (type 0x04): a signed statement of when the note existed. Verifiers that do not
    know that key type ignore it, as the signed-note rules require.
    """
    if not text.endswith("\n") or "\n\n" in text:
        raise InvalidInput("a note's text ends in a newline and has no blank line")
    signature = signer.sign(text.encode("utf-8"))
    encoded = base64.b64encode(key_id(name, signer.public_key) + signature).decode("ascii")
    note = f"{text}\n{_DASH} {name} {encoded}\n"
    if timestamp is not None:
        note += cosign(text, name, signer, timestamp=timestamp)
    return note


def cosign(text: str, name: str, signer: Signer, *, timestamp: int) -> str:
    """A timestamped cosignature of ``text`` (c2sp.org/tlog-cosignature, type 0x04) by
    ``signer`` under key ``name``, as one signature line ending in a newline: the
    statement that at ``timestamp`` (POSIX seconds) the cosigner held this checkpoint
    as the log's newest consistent one. A witness answers ``add-checkpoint`` with it."""
    if not text.endswith("\n") or "\n\n" in text:
        raise InvalidInput("a note's text ends in a newline and has no blank line")
    if not 0 < timestamp < 2**63:
        raise InvalidInput("a cosignature timestamp is a POSIX time")
    cosignature = signer.sign(_cosigned_message(text, timestamp))
    blob = key_id(name, signer.public_key, COSIGNATURE) + timestamp.to_bytes(8, "big")
    return f"{_DASH} {name} {base64.b64encode(blob + cosignature).decode('ascii')}\n"


def with_cosignatures(note: str, lines: Sequence[str]) -> str:
    """``note`` with signature ``lines`` (each ``— name base64`` and a newline) added
    after its own; raises ``LogProofError`` for a line that is not a signature line."""
    _signature_lines("".join(lines) or "\n")
    if not note.endswith("\n"):
        raise LogProofError("a signed note ends in a newline")
    return note + "".join(lines)


def signature_lines(note: str) -> tuple[str, list[str]]:
    """A signed note's text (ending in a newline) and its signature lines, each as
    written and ending in a newline; raises ``LogProofError`` if it is not a signed
    note. No signature is checked."""
    text, separator, block = note.rpartition("\n\n")
    if not separator:
        raise LogProofError("a signed note needs a blank line before its signatures")
    _signature_lines(block)
    return text + "\n", [line + "\n" for line in block.split("\n")[:-1]]


def signature_ids(note: str) -> list[tuple[str, bytes]]:
    """Each signature line's key name and key id (its first four bytes), the log's own
    among them; raises ``LogProofError`` if ``note`` is not a signed note. No
    signature is checked."""
    _, separator, block = note.rpartition("\n\n")
    if not separator:
        raise LogProofError("a signed note needs a blank line before its signatures")
    return [(name, blob[:4]) for name, blob in _signature_lines(block)]


def signed_by_only(note: str, name: str) -> str:
    """``note`` with only the signature lines of key ``name``: a checkpoint as its log
    signed it, without the cosignatures a node serves after the log's lines. Raises
    ``LogProofError`` if it is not a signed note, or key ``name`` has no line in it."""
    text, lines = signature_lines(note)
    own = [line for line in lines if line.split(" ")[1] == name]
    if not own:
        raise LogProofError(f"the note carries no signature of {name}")
    return text + "\n" + "".join(own)


def witness_cosignatures(note: str, witnesses: Sequence[NoteVerifierKey]) -> dict[str, int]:
    """The witnesses (their 0x04 keys, ``parse_witness_key``) whose cosignature of the
    note's text verifies, each with its time. Lines of other keys are ignored, the
    log's own among them; a known witness's line that does not verify raises
    ``SignatureMismatch``, a malformed note ``LogProofError``. The log's signature is
    not checked here: ``open_note`` does that."""
    text, separator, block = note.rpartition("\n\n")
    if not separator:
        raise LogProofError("a signed note needs a blank line before its signatures")
    text += "\n"
    known = {(w.name, w.key_id): w for w in witnesses}
    found: dict[str, int] = {}
    for name, blob in _signature_lines(block):
        witness = known.get((name, blob[:4]))
        if witness is None:
            continue
        timestamp = int.from_bytes(blob[4:12], "big")
        if len(blob) != 4 + 8 + 64 or not 0 < timestamp < 2**63:
            raise LogProofError(f"the cosignature of {name} is malformed")
        try:
            verify_signature(witness.public_key, blob[12:], _cosigned_message(text, timestamp))
        except InvalidSignature as exc:
            raise SignatureMismatch(f"the cosignature of {name} does not verify") from exc
        found[name] = timestamp
    return found


def _signature_lines(block: str) -> list[tuple[str, bytes]]:
    lines = block.split("\n")
    if lines[-1] != "":
        raise LogProofError("a signed note ends in a newline")
    found = []
    for line in lines[:-1]:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH or not parts[1]:
            raise LogProofError(f"not a signature line: {line[:80]!r}")
        try:
            found.append((parts[1], base64.b64decode(parts[2], validate=True)))
        except binascii.Error as exc:
            raise LogProofError(f"a signature of {parts[1]} is not base64") from exc
    if not found or len(found) > _MAX_SIGNATURES:
        raise LogProofError(f"a signed note carries 1 to {_MAX_SIGNATURES} signatures")
    return found


def open_note(note: str, verifiers: Sequence[NoteVerifierKey]) -> SignedNote:
    """Verify a signed note against known verifier keys; returns its text and signers.

    Raises ``LogProofError`` for a malformed note or one no known key signed, and
    ``SignatureMismatch`` when a known key's signature does not verify.
    """
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise LogProofError("a signed note contains control characters")
    text, separator, block = note.rpartition("\n\n")
    if not separator:
        raise LogProofError("a signed note needs a blank line before its signatures")
    text += "\n"
    known = {(v.name, v.key_id): v for v in verifiers}
    cosigners = {(v.name, key_id(v.name, v.public_key, COSIGNATURE)): v for v in verifiers}
    signed_by: list[str] = []
    timestamps: dict[str, int] = {}
    for name, blob in _signature_lines(block):
        verifier, cosigner = known.get((name, blob[:4])), cosigners.get((name, blob[:4]))
        try:
            if verifier is not None:
                verifier.public_key.verify(blob[4:], text.encode("utf-8"))
                signed_by.append(name)
            elif cosigner is not None:
                timestamp = int.from_bytes(blob[4:12], "big")
                if len(blob) != 4 + 8 + 64 or timestamp >= 2**63:
                    raise LogProofError(f"the cosignature of {name} is malformed")
                cosigner.public_key.verify(blob[12:], _cosigned_message(text, timestamp))
                timestamps[name] = timestamp
            # Any other line is an unknown key's: ignored, as the spec requires.
        except InvalidSignature as exc:
            raise SignatureMismatch(f"the signature of {name} does not verify") from exc
    if not signed_by:
        raise LogProofError("no known key signed the note")
    return SignedNote(text=text, signed_by=tuple(signed_by), timestamps=timestamps)


@dataclass(frozen=True)
class Checkpoint:
    """A log's commitment: its origin, tree size and root hash (plus extension lines)."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint body, as signed."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint body; raises ``LogProofError`` if it is not one."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
        raise LogProofError("a checkpoint is origin, size and root hash, one per line")
    origin, size, root = lines[0], lines[1], lines[2]
    if not _DECIMAL.match(size):
        raise LogProofError(f"checkpoint size {size[:24]!r} is not a decimal number")
    try:
        root_bytes = base64.b64decode(root, validate=True)
    except binascii.Error as exc:
        raise LogProofError("the checkpoint's root hash is not base64") from exc
    if len(root_bytes) != 32:
        raise LogProofError("the checkpoint's root hash has 32 bytes")
    return Checkpoint(origin=origin, size=int(size), root=root_bytes, extensions=tuple(lines[3:-1]))
