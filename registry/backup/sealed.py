"""A backup's encryption: one passphrase-sealed stream, in authenticated chunks.

The file is a header line and a sequence of chunks::

    YRD-BACKUP 1 <header JSON>\\n
    <4-byte big-endian length><AES-256-GCM ciphertext of up to 1 MiB>  ...

The key is scrypt(passphrase, salt) (N, r and p in the header, bounded when read);
scrypt's 64 bytes give the 32-byte AES key and a 16-byte check value kept in the
header, so a wrong passphrase is told apart from a damaged file. Each chunk's nonce
is the file's random 7-byte prefix, the chunk's 32-bit number and a byte that is 1
for the last chunk only (the STREAM construction of Hoang, Reyhanitabar, Rogaway and
Vizár): chunks cannot be reordered, dropped or cut off at the end without the
tag failing. The header is every chunk's associated data, so its parameters cannot
be changed either.

Reading raises ``BackupError`` (wrong passphrase, altered or cut-off file) before it
hands out a chunk that does not authenticate; a caller that must write nothing from
a bad file reads it through once (``verify``) before it writes.
"""

from __future__ import annotations

import hmac
import json
import os
import struct
from collections.abc import Iterator
from typing import IO, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from registry.errors import BackupError

__all__ = ["COST", "MIN_PASSPHRASE", "SealedReader", "SealedWriter"]

_MAGIC = b"YRD-BACKUP 1 "
_CHUNK = 1 << 20
_TAG = 16
COST = 17
"""log2 of scrypt's N for a new backup: with r = 8, 128 MiB and about a third of a
second per derivation on an idle core."""
_MAX_HEADER = 4096

MIN_PASSPHRASE = 12
"""The fewest characters a backup passphrase may have."""


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes]:
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"a backup passphrase has at least {MIN_PASSPHRASE} characters")
    derived = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return derived[:32], derived[32:48]


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    if number >= 1 << 32:
        raise BackupError("a backup holds at most 2^32 chunks")
    return prefix + struct.pack(">IB", number, 1 if last else 0)


class SealedWriter:
    """A write-only binary stream that encrypts into ``sink``; ``close`` writes the
    last chunk (an empty one if the data ended on a chunk's end)."""

    def __init__(self, sink: IO[bytes], passphrase: str, *, cost: int = COST) -> None:
        salt, prefix = os.urandom(16), os.urandom(7)
        scrypt = {"n": 1 << cost, "r": 8, "p": 1}
        key, check = _derive(passphrase, salt, **scrypt)
        header: dict[str, Any] = {
            "cipher": "AES-256-GCM",
            "kdf": {"name": "scrypt", **scrypt, "salt": salt.hex()},
            "check": check.hex(),
            "noncePrefix": prefix.hex(),
            "chunk": _CHUNK,
        }
        self._header = _MAGIC + json.dumps(header, sort_keys=True).encode("ascii") + b"\n"
        self._sink = sink
        self._aead = AESGCM(key)
        self._prefix = prefix
        self._number = 0
        self._buffer = bytearray()
        self._closed = False
        sink.write(self._header)

    def write(self, data: bytes) -> int:
        """Buffer ``data``, sealing every whole chunk."""
        self._buffer += data
        while len(self._buffer) > _CHUNK:
            self._seal(bytes(self._buffer[:_CHUNK]), last=False)
            del self._buffer[:_CHUNK]
        return len(data)

    def close(self) -> None:
        """Seal what is left as the last chunk."""
        if not self._closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._closed = True

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._number, last)
        sealed = self._aead.encrypt(nonce, plain, self._header)
        self._sink.write(struct.pack(">I", len(sealed)) + sealed)
        self._number += 1


class SealedReader:
    """Decrypts a sealed stream chunk by chunk; each chunk is authenticated before it
    is handed out, and a stream that ends before its last chunk is refused.

    ``derived`` keeps the key derived for a header, so that reading the same file
    again (a restore reads it twice) does not run scrypt again."""

    def __init__(
        self, source: IO[bytes], passphrase: str, *, derived: dict[bytes, bytes] | None = None
    ) -> None:
        line = source.readline(_MAX_HEADER)
        if not line.startswith(_MAGIC) or not line.endswith(b"\n"):
            raise BackupError("this is not a registry backup (no YRD-BACKUP 1 header)")
        try:
            header = json.loads(line[len(_MAGIC) :])
            kdf = header["kdf"]
            n, r, p = int(kdf["n"]), int(kdf["r"]), int(kdf["p"])
            salt = bytes.fromhex(kdf["salt"])
            check = bytes.fromhex(header["check"])
            prefix = bytes.fromhex(header["noncePrefix"])
            chunk = int(header["chunk"])
            cipher = header["cipher"]
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError("the backup's header is damaged") from exc
        # Bounded before scrypt runs: a crafted header must not make it take gigabytes.
        if (
            cipher != "AES-256-GCM"
            or kdf.get("name") != "scrypt"
            or not (1 << 14 <= n <= 1 << 20 and n & (n - 1) == 0)
            or not (1 <= r <= 16 and 1 <= p <= 4)
            or len(prefix) != 7
            or len(salt) < 16
            or not 1 <= chunk <= 1 << 24
        ):
            raise BackupError("the backup's header names parameters this registry does not use")
        known = derived if derived is not None else {}
        if line not in known:
            key, expected = _derive(passphrase, salt, n, r, p)
            if not hmac.compare_digest(check, expected):
                raise BackupError("the backup passphrase is wrong")
            known[line] = key
        key = known[line]
        self._source = source
        self._header = line
        self._aead = AESGCM(key)
        self._prefix = prefix
        self._chunk = chunk

    def chunks(self) -> Iterator[bytes]:
        """The plaintext, a chunk at a time. Raises ``BackupError`` at the first chunk
        that does not authenticate, or if the stream is cut off."""
        number = 0
        pending = self._next()
        while True:
            if pending is None:
                raise BackupError("the backup is cut off: its last part is missing")
            following = self._next()
            last = following is None
            try:
                plain = self._aead.decrypt(
                    _nonce(self._prefix, number, last), pending, self._header
                )
            except InvalidTag:
                if last:
                    raise BackupError(
                        "the backup has been altered or damaged, or cut off (its last part "
                        "does not authenticate)"
                    ) from None
                raise BackupError(
                    f"the backup has been altered or damaged (part {number + 1} does not "
                    "authenticate)"
                ) from None
            yield plain
            if last:
                return
            number += 1
            pending = following

    def _next(self) -> bytes | None:
        size = self._source.read(4)
        if not size:
            return None
        if len(size) != 4:
            raise BackupError("the backup is cut off inside a part's length")
        (length,) = struct.unpack(">I", size)
        if length > self._chunk + _TAG or length < _TAG:
            raise BackupError("the backup has been altered or damaged (a part's length)")
        sealed = self._source.read(length)
        if len(sealed) != length:
            raise BackupError("the backup is cut off inside a part")
        return sealed
