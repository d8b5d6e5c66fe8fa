"""Re-encrypting every file key of the node under a new passphrase, crash-safely.

Each key's new file is written beside the old one (``replace_private_file``), flushed
to disk, then renamed over it, and the directory flushed: at every moment each key
file is whole and readable under the old passphrase or the new one. A run finds
which of the two opens each key, so a run interrupted after some keys is finished by
running it again with the same two passphrases; nothing is written until every key
has been opened by one of them, so a wrong old passphrase changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    PrivateFormat,
    load_pem_private_key,
)

from registry.crypto.keys import replace_private_file
from registry.errors import InvalidInput, KeyStoreError

__all__ = ["MIN_PASSPHRASE", "Rewrapped", "rewrap_keys"]

MIN_PASSPHRASE = 16
"""The fewest bytes a key passphrase may have (as ``REGISTRY_KEY_PASSPHRASE``)."""


@dataclass(frozen=True)
class Rewrapped:
    """What a run did: the keys it re-encrypted, and those a run before had."""

    rewrapped: tuple[str, ...]
    already: tuple[str, ...]


def _open(pem: bytes, passphrase: bytes) -> Ed25519PrivateKey | None:
    try:
        key = load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError):
        return None
    return key if isinstance(key, Ed25519PrivateKey) else None


def rewrap_keys(directory: Path, *, old: bytes, new: bytes) -> Rewrapped:
    """Re-encrypt every key file (``*.pem``) in ``directory`` from ``old`` to ``new``.

    Keys that ``new`` opens already (an interrupted run's) are left as they are.
    Raises ``InvalidInput`` if ``new`` is shorter than ``MIN_PASSPHRASE`` bytes or is
    ``old``, and ``KeyStoreError``, having written nothing, if a key opens under
    neither passphrase or cannot be read; a failure while writing leaves every key
    readable under one of the two.
    """
    if len(new) < MIN_PASSPHRASE:
        raise InvalidInput(f"the new passphrase must have at least {MIN_PASSPHRASE} bytes")
    if new == old:
        raise InvalidInput("the new passphrase is the old one")
    paths = sorted(directory.glob("*.pem")) if directory.is_dir() else []
    pending: list[tuple[Path, Ed25519PrivateKey]] = []
    already: list[str] = []
    # 1. Open every key first: a wrong old passphrase is found before anything is written.
    for path in paths:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read key {path.stem!r}: {exc.strerror}") from exc
        key = _open(pem, old)
        if key is not None:
            pending.append((path, key))
        elif _open(pem, new) is not None:
            already.append(path.stem)
        else:
            raise KeyStoreError(
                f"key {path.stem!r} opens under neither passphrase: nothing was changed "
                "(is the old passphrase right?)"
            )
    # 2. Write each anew, one at a time, each whole before the next.
    for path, key in pending:
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(new))
        try:
            replace_private_file(path, pem)
        except OSError as exc:
            raise KeyStoreError(
                f"cannot write key {path.stem!r}: {exc.strerror}; every key opens under "
                "the old or the new passphrase: run the rewrap again to finish"
            ) from exc
    return Rewrapped(rewrapped=tuple(p.stem for p, _ in pending), already=tuple(already))
