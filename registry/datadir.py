"""The node's data directory: created owner-only, holding generated secrets and keys."""

from __future__ import annotations

import os
import secrets

from registry.crypto.keys import KeyStore
from registry.errors import KeyStoreError
from registry.settings import Settings

__all__ = ["DataDir"]


class DataDir:
    """Owner-only directory with ``secrets/`` and ``keys/`` under it.

    A secret given in settings wins; otherwise the first run generates it once and
    every later run reads the same file.
    """

    def __init__(self, settings: Settings) -> None:
        self.root = settings.data_dir
        self._settings = settings

    def ensure(self) -> None:
        """Create the directory tree with mode 0700."""
        for path in (self.root, self.root / "secrets", self.root / "keys"):
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(path, 0o700)

    def _secret(self, name: str) -> bytes:
        path = self.root / "secrets" / name
        try:
            return path.read_bytes().strip()
        except FileNotFoundError:
            pass
        self.ensure()
        value = secrets.token_urlsafe(32).encode("ascii")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            # Another process won the race: use what it wrote.
            return path.read_bytes().strip()
        with os.fdopen(fd, "wb") as handle:
            handle.write(value)
        return value

    def key_passphrase(self) -> bytes:
        """The passphrase that encrypts private keys."""
        if self._settings.key_passphrase is not None:
            value = self._settings.key_passphrase.get_secret_value().encode("utf-8")
            if not value:
                raise KeyStoreError("REGISTRY_KEY_PASSPHRASE is set but empty")
            return value
        return self._secret("key-passphrase")

    def node_secret(self) -> bytes:
        """The HMAC key for identifier lookups."""
        if self._settings.node_secret is not None:
            return self._settings.node_secret.get_secret_value().encode("utf-8")
        return self._secret("node-secret")

    def key_store(self) -> KeyStore:
        """The encrypted key store under ``keys/``."""
        return KeyStore(self.root / "keys", passphrase=self.key_passphrase())
