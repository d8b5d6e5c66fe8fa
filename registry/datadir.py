"""The node's data directory: created owner-only, holding generated secrets and keys."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import tempfile
from typing import TYPE_CHECKING

from pydantic import SecretStr

from registry.crypto.keys import KeyStore, replace_private_file
from registry.errors import KeyStoreError
from registry.ids import LookupSecrets
from registry.settings import Settings

if TYPE_CHECKING:
    from registry.crypto.pkcs11 import Pkcs11Module

__all__ = ["DataDir"]

_MIN_SECRET = 16
_LOOKUP_FILE = "federation-lookup-secrets"
_PEER_TOKENS_FILE = "peer-tokens.json"


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
        if not path.exists():
            self.ensure()
            # Written whole to a temporary file, then linked into place: a reader never
            # sees a half-written secret, and of two racing processes one link wins.
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{name}.")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secrets.token_urlsafe(32).encode("ascii"))
                    handle.flush()
                    os.fsync(handle.fileno())
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                os.unlink(temporary)
        value = path.read_bytes().strip()
        if len(value) < _MIN_SECRET:
            raise KeyStoreError(f"{path} holds fewer than {_MIN_SECRET} bytes: restore it")
        return value

    def key_passphrase(self) -> bytes:
        """The passphrase that encrypts private keys."""
        if self._settings.key_passphrase is not None:
            return _configured(self._settings.key_passphrase, "REGISTRY_KEY_PASSPHRASE")
        return self._secret("key-passphrase")

    def node_secret(self) -> bytes:
        """The HMAC key for identifier lookups."""
        if self._settings.node_secret is not None:
            return _configured(self._settings.node_secret, "REGISTRY_NODE_SECRET")
        return self._secret("node-secret")

    def lookup_secrets(self) -> LookupSecrets:
        """The federation's look-up secrets: from settings, else the owner-only file,
        generated at the first run (the genesis of a federation; a member node imports
        the federation's instead, ``replace_lookup_secrets``)."""
        if self._settings.federation_lookup_secret is not None:
            text = self._settings.federation_lookup_secret.get_secret_value()
            return LookupSecrets.parse(text)
        stored = self.read_private(_LOOKUP_FILE)
        if stored is None:
            with contextlib.suppress(FileExistsError):
                self.write_private(_LOOKUP_FILE, LookupSecrets.generate().text())
            stored = self.read_private(_LOOKUP_FILE) or ""
        return LookupSecrets.parse(stored)

    def stored_lookup_secrets(self) -> LookupSecrets | None:
        """The look-up secrets in the owner-only file, if it exists (none generated)."""
        stored = self.read_private(_LOOKUP_FILE)
        return LookupSecrets.parse(stored) if stored is not None else None

    def replace_lookup_secrets(self, secrets_: LookupSecrets) -> None:
        """Write the look-up secrets whole, in place of the file (owner-only, atomic)."""
        self._replace(_LOOKUP_FILE, secrets_.text())

    def peer_tokens(self) -> dict[str, str]:
        """The ``federation`` tokens the peers granted this node, by authority code:
        from settings, else the owner-only file ``registry federation peer-token``
        writes (none yet: empty)."""
        if self._settings.peer_tokens:
            return {
                code: token.get_secret_value() for code, token in self._settings.peer_tokens.items()
            }
        return self._stored_peer_tokens()

    def set_peer_token(self, code: str, token: str) -> None:
        """Keep the token ``code``'s node granted this node, beside the others."""
        tokens = self._stored_peer_tokens()
        tokens[code] = token
        self._replace(_PEER_TOKENS_FILE, json.dumps(tokens, indent=2, sort_keys=True))

    def _stored_peer_tokens(self) -> dict[str, str]:
        stored = self.read_private(_PEER_TOKENS_FILE)
        if stored is None:
            return {}
        value = json.loads(stored)
        if not isinstance(value, dict) or not all(
            isinstance(code, str) and isinstance(token, str) for code, token in value.items()
        ):
            raise KeyStoreError(f"secrets/{_PEER_TOKENS_FILE} is not a JSON object of tokens")
        return value

    def _replace(self, name: str, content: str) -> None:
        """Write a file under ``secrets/`` whole, in place of the old (owner-only, atomic)."""
        self.ensure()
        path = self.root / "secrets" / name
        replace_private_file(path, content.encode("utf-8"))

    def write_private(self, name: str, content: str) -> None:
        """Write an owner-only file under ``secrets/``, never over an existing one."""
        self.ensure()
        path = self.root / "secrets" / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)

    def read_private(self, name: str) -> str | None:
        """An owner-only file under ``secrets/``, if it exists."""
        path = self.root / "secrets" / name
        return path.read_text(encoding="utf-8") if path.exists() else None

    def key_store(self) -> KeyStore:
        """The encrypted key store under ``keys/``, with the PKCS#11 module if the node
        has one (``REGISTRY_PKCS11_MODULE``)."""
        return KeyStore(
            self.root / "keys", passphrase=self.key_passphrase(), hardware=self.hardware()
        )

    def hardware(self) -> Pkcs11Module | None:
        """The PKCS#11 module with its PIN, if ``REGISTRY_PKCS11_MODULE`` is set.

        Raises ``KeyStoreError`` if it is set without a PIN, or the PIN file is not
        owner-only or cannot be read.
        """
        module = self._settings.pkcs11_module
        if module is None:
            return None
        # Imported here: a node without a token never loads the PKCS#11 binding.
        from registry.crypto.pkcs11 import Pkcs11Module, read_pin_file  # noqa: PLC0415

        if self._settings.pkcs11_pin is not None:
            pin = self._settings.pkcs11_pin.get_secret_value()
        elif self._settings.pkcs11_pin_file is not None:
            pin = read_pin_file(self._settings.pkcs11_pin_file)
        else:
            raise KeyStoreError(
                "REGISTRY_PKCS11_MODULE is set without a PIN: set REGISTRY_PKCS11_PIN_FILE "
                "(or REGISTRY_PKCS11_PIN)"
            )
        return Pkcs11Module(module, pin=pin)

    def uses_generated_passphrase(self) -> bool:
        """Whether the key passphrase is the generated file's (no
        ``REGISTRY_KEY_PASSPHRASE``)."""
        return self._settings.key_passphrase is None

    def replace_key_passphrase(self, passphrase: bytes) -> None:
        """Write the generated key passphrase's file anew (owner-only, atomic).

        Raises ``KeyStoreError`` when the node's passphrase is set in
        ``REGISTRY_KEY_PASSPHRASE`` instead, which no file can change.
        """
        if not self.uses_generated_passphrase():
            raise KeyStoreError("the key passphrase is set in REGISTRY_KEY_PASSPHRASE, not a file")
        self._replace("key-passphrase", passphrase.decode("utf-8"))


def _configured(secret: SecretStr, variable: str) -> bytes:
    value = secret.get_secret_value().encode("utf-8")
    if len(value) < _MIN_SECRET:
        raise KeyStoreError(f"{variable} must have at least {_MIN_SECRET} bytes")
    return value
