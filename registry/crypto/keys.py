"""Signing keys: the ``Signer`` interface and the node's key store.

Everything that signs takes a ``Signer``, never a private key, so that a key in a
hardware security module stands in for a file key unseen. File keys are Ed25519 in
PKCS#8, encrypted under the node's key passphrase, written with owner-only
permissions under ``<data dir>/keys``; keys in a PKCS#11 token are reached through
``registry.crypto.pkcs11``. A ``KeyLocation`` says which of the two holds a key.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from registry.crypto.multikey import did_key_verification_method, encode_public_multikey
from registry.errors import KeyStoreError

if TYPE_CHECKING:
    from registry.crypto.pkcs11 import Pkcs11Module

__all__ = ["Ed25519Signer", "KeyLocation", "KeyStore", "Signer", "replace_private_file"]

_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@runtime_checkable
class Signer(Protocol):
    """Something that signs with one Ed25519 key and names it."""

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half of the signing key."""
        ...

    @property
    def verification_method(self) -> str:
        """The verification-method URL proofs made by this signer carry."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``data``."""
        ...


@dataclass(frozen=True)
class Ed25519Signer:
    """A ``Signer`` holding its private key in memory.

    ``verification_method`` defaults to the key's ``did:key`` URL.
    """

    private_key: Ed25519PrivateKey = field(repr=False)
    public_key: Ed25519PublicKey = field(init=False, repr=False)
    verification_method: str = ""

    def __post_init__(self) -> None:
        public = self.private_key.public_key()
        object.__setattr__(self, "public_key", public)
        if not self.verification_method:
            object.__setattr__(self, "verification_method", did_key_verification_method(public))

    @classmethod
    def generate(cls) -> Ed25519Signer:
        """A signer with a fresh random key."""
        return cls(private_key=Ed25519PrivateKey.generate())

    @property
    def public_key_multibase(self) -> str:
        """The public key as a Multikey string."""
        return encode_public_multikey(self.public_key)

    def sign(self, data: bytes) -> bytes:
        """Return the Ed25519 signature of ``data``."""
        return self.private_key.sign(data)


@dataclass(frozen=True)
class KeyLocation:
    """Where a private key is: the file ``name`` in the key store (``token`` is
    ``None``), or the key labelled ``name`` in the PKCS#11 token labelled ``token``."""

    name: str
    token: str | None = None

    def __str__(self) -> str:
        if self.token is None:
            return f"file keys/{self.name}.pem"
        return f"PKCS#11 token {self.token!r}, label {self.name!r}"


class KeyStore:
    """Encrypted PKCS#8 Ed25519 keys in one owner-only directory, and the PKCS#11
    module (if the node has one) whose tokens hold the others.

    File keys are addressed by a file-safe name. ``create`` refuses to overwrite, so
    a key, once written, is never replaced. A key once decrypted is kept in memory
    for as long as its file is unchanged: decrypting costs far more than a signature.
    """

    def __init__(
        self, directory: Path, *, passphrase: bytes, hardware: Pkcs11Module | None = None
    ) -> None:
        if not passphrase:
            raise KeyStoreError("the key passphrase is empty")
        self._directory = directory
        self._passphrase = passphrase
        self._hardware = hardware
        self._loaded: dict[str, tuple[bytes, Ed25519Signer]] = {}
        self._tokens: dict[KeyLocation, Signer] = {}

    @property
    def directory(self) -> Path:
        """The directory of the file keys."""
        return self._directory

    def _module(self, location: KeyLocation) -> Pkcs11Module:
        if self._hardware is None:
            raise KeyStoreError(
                f"the key in {location} needs the token's module: set REGISTRY_PKCS11_MODULE "
                "and its PIN (REGISTRY_PKCS11_PIN or REGISTRY_PKCS11_PIN_FILE)"
            )
        return self._hardware

    def create_in_token(self, token: str, label: str) -> Signer:
        """Generate a key inside the PKCS#11 token ``token``, labelled ``label``; its
        private half never leaves the token. Raises ``KeyStoreError`` if the node has no
        module, the token fails, or it holds a key of that label."""
        location = KeyLocation(label, token)
        signer = self._module(location).generate(token, label)
        self._tokens[location] = signer
        return signer

    def signer(self, location: KeyLocation) -> Signer:
        """The signer of the key at ``location``: decrypted from its file, or reached in
        its token. Raises ``KeyStoreError`` if it cannot be (``load``, or the token's
        failures: missing token or key, wrong PIN, no module)."""
        if location.token is None:
            return self.load(location.name)
        found = self._tokens.get(location)
        if found is None:
            found = self._module(location).signer(location.token, location.name)
            self._tokens[location] = found
        return found

    def holds(self, location: KeyLocation) -> bool:
        """Whether the node holds the key at ``location``: its file exists, or its token
        can be reached and has it."""
        if location.token is None:
            return self.exists(location.name)
        try:
            self.signer(location)
        except KeyStoreError:
            return False
        return True

    def _path(self, name: str) -> Path:
        if not _KEY_NAME.match(name):
            raise KeyStoreError(f"invalid key name {name!r}")
        return self._directory / f"{name}.pem"

    def create(self, name: str) -> Ed25519Signer:
        """Generate a key, write it encrypted under ``name``, and return its signer.

        Raises ``KeyStoreError`` if a key of that name exists or cannot be written.
        """
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path(name)
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(self._passphrase)
        )
        try:
            # O_EXCL: two processes seeding at once never overwrite each other's key.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError as exc:
            raise KeyStoreError(f"a key named {name!r} already exists") from exc
        except OSError as exc:
            raise KeyStoreError(f"cannot write key {name!r}: {exc}") from exc
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return Ed25519Signer(private_key=private_key)

    def load(self, name: str) -> Ed25519Signer:
        """Decrypt and return the key stored under ``name``.

        Raises ``KeyStoreError`` if it is missing, unreadable, not Ed25519, or the
        passphrase is wrong.
        """
        path = self._path(name)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read key {name!r}: {exc.strerror}") from exc
        cached = self._loaded.get(name)
        if cached is not None and cached[0] == pem:
            return cached[1]
        try:
            key = load_pem_private_key(pem, password=self._passphrase)
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(
                f"cannot decrypt key {name!r}: wrong passphrase or damaged file"
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"key {name!r} is not an Ed25519 key")
        signer = Ed25519Signer(private_key=key)
        self._loaded[name] = (pem, signer)
        return signer

    def exists(self, name: str) -> bool:
        """Whether a key of that name is stored."""
        return self._path(name).exists()


def replace_private_file(path: Path, data: bytes) -> None:
    """Write ``path`` whole, owner-only, in place of the old file: beside it, flushed,
    then renamed over it, and the rename flushed with the directory. A crash leaves
    the old file or the new one, never half of one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
