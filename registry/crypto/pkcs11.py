"""Ed25519 keys held in a PKCS#11 token (a hardware security module, or SoftHSM2).

A ``Pkcs11Module`` opens one PKCS#11 library (a ``.so``) with the user PIN; its
``Pkcs11Signer`` signs with CKM_EDDSA by a private key the token generated
(CKK_EC_EDWARDS, sensitive, never extractable), so the private half never leaves
the token. The public half is read from the token, and a key pair whose halves do
not match, or whose private half could be extracted, is refused.

The library is loaded once per process and every call into it is serialised by one
lock per library: a module initialised without locking callbacks may assume one
thread at a time, and the server signs from several. A token's session is kept open
and logged in; a call that fails (the token was unplugged, the library reset) closes
it, and the next call opens a new one. Failures are ``KeyStoreError`` naming the
token and key, never the PIN.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pkcs11 as p11
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass

from registry.crypto.multikey import did_key_verification_method
from registry.errors import KeyStoreError

__all__ = ["Pkcs11Module", "Pkcs11Signer", "read_pin_file"]

_T = TypeVar("_T")

# DER of the OID id-Ed25519 (1.3.101.112), RFC 8410: the curve of CKK_EC_EDWARDS keys.
_ED25519_PARAMS = bytes.fromhex("06032b6570")
_PROBE = b"registry pkcs11 key pair check"


def read_pin_file(path: Path) -> str:
    """The PIN in an owner-only file (its first line).

    Raises ``KeyStoreError`` if the file cannot be read, is empty, or others than its
    owner may read or write it.
    """
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyStoreError(f"cannot read the PKCS#11 PIN file {path}") from exc
    if mode & 0o077:
        raise KeyStoreError(
            f"the PKCS#11 PIN file {path} may be read by others than its owner: chmod 600 it"
        )
    pin = text.splitlines()[0].strip() if text.strip() else ""
    if not pin:
        raise KeyStoreError(f"the PKCS#11 PIN file {path} is empty")
    return pin


@dataclass
class _Library:
    # One loaded PKCS#11 library in this process: its lock, and an open session per
    # token with the PIN it was logged in with.
    path: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    sessions: dict[str, tuple[p11.Session, str]] = field(default_factory=dict)
    private_keys: dict[tuple[str, str], p11.SignMixin] = field(default_factory=dict)


_LIBRARIES: dict[str, _Library] = {}
_LIBRARIES_LOCK = threading.Lock()


def _library(path: str) -> _Library:
    with _LIBRARIES_LOCK:
        found = _LIBRARIES.get(path)
        if found is None:
            found = _LIBRARIES[path] = _Library(path)
        return found


def _public_key(point: bytes, where: str) -> Ed25519PublicKey:
    # CKA_EC_POINT of an Edwards key: the 32 bytes as a DER OCTET STRING (PKCS#11
    # 3.0), or bare (some modules).
    raw = point[2:] if len(point) == 34 and point[:2] == b"\x04\x20" else point
    if len(raw) != 32:
        raise KeyStoreError(f"{where} is not an Ed25519 key")
    return Ed25519PublicKey.from_public_bytes(raw)


class Pkcs11Module:
    """A PKCS#11 module (its library's path) and the user PIN its tokens open with."""

    def __init__(self, module: Path, *, pin: str) -> None:
        if not pin:
            raise KeyStoreError("the PKCS#11 PIN is empty")
        self._path = str(module)
        self._pin = pin
        self._library = _library(self._path)

    def __repr__(self) -> str:
        return f"Pkcs11Module({self._path!r})"

    @property
    def path(self) -> str:
        """The module library's path."""
        return self._path

    def signer(self, token: str, label: str) -> Pkcs11Signer:
        """The signer of the Ed25519 key labelled ``label`` in ``token``.

        Raises ``KeyStoreError`` if the module cannot be loaded, the token is missing,
        the PIN is wrong, the key is missing, is not Ed25519, could be extracted, or
        its public half does not match its private half.
        """
        where = f"key {label!r} in PKCS#11 token {token!r}"

        def load(session: p11.Session) -> Ed25519PublicKey:
            private = self._private(session, token, label)
            public = self._public(session, where, label)
            self._check_kept_inside(private, where)
            point = bytes(public[Attribute.EC_POINT])
            key = _public_key(point, where)
            signature = bytes(private.sign(_PROBE, mechanism=Mechanism.EDDSA))
            try:
                key.verify(signature, _PROBE)
            except InvalidSignature as exc:
                raise KeyStoreError(f"the public and private halves of {where} differ") from exc
            return key

        return Pkcs11Signer(
            module=self, token=token, label=label, public_key=self._call(token, load)
        )

    def holds(self, token: str, label: str) -> bool:
        """Whether ``token`` holds a private key labelled ``label``.

        Raises ``KeyStoreError`` if the module, the token or the PIN fails.
        """

        def find(session: p11.Session) -> bool:
            return bool(
                list(
                    session.get_objects(
                        {
                            Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                            Attribute.LABEL: label,
                        }
                    )
                )
            )

        return self._call(token, find)

    def generate(self, token: str, label: str) -> Pkcs11Signer:
        """Generate an Ed25519 key pair inside ``token``, labelled ``label``, whose private
        half is sensitive and never extractable, and return its signer.

        Raises ``KeyStoreError`` if a key of that label exists, or as ``signer`` does.
        """
        if not label or len(label.encode("utf-8")) > 128:
            raise KeyStoreError("a key's label in a token is 1 to 128 bytes")
        if self.holds(token, label):
            raise KeyStoreError(f"PKCS#11 token {token!r} already holds a key labelled {label!r}")
        key_id = secrets.token_bytes(16)

        def generate(session: p11.Session) -> None:
            session.generate_keypair(
                KeyType.EC_EDWARDS,
                mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                store=True,
                label=label,
                id=key_id,
                public_template={
                    Attribute.EC_PARAMS: _ED25519_PARAMS,
                    Attribute.TOKEN: True,
                    Attribute.VERIFY: True,
                    Attribute.PRIVATE: False,
                },
                private_template={
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.SENSITIVE: True,
                    Attribute.EXTRACTABLE: False,
                    Attribute.SIGN: True,
                    Attribute.DECRYPT: False,
                    Attribute.UNWRAP: False,
                    Attribute.DERIVE: False,
                },
            )

        self._call(token, generate)
        return self.signer(token, label)

    def sign(self, token: str, label: str, data: bytes) -> bytes:
        """The Ed25519 signature of ``data`` by the key ``label`` in ``token``.

        Raises ``KeyStoreError`` as ``signer`` does, or if the token fails twice.
        """

        def sign(session: p11.Session) -> bytes:
            # The key's handle is kept with the session: finding it again for every
            # signature would double the calls into the token.
            key = self._library.private_keys.get((token, label))
            if key is None:
                key = self._private(session, token, label)
                self._library.private_keys[(token, label)] = key
            return bytes(key.sign(data, mechanism=Mechanism.EDDSA))

        return self._call(token, sign)

    def _private(self, session: p11.Session, token: str, label: str) -> p11.SignMixin:
        try:
            key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)
        except p11.NoSuchKey as exc:
            raise KeyStoreError(
                f"PKCS#11 token {token!r} holds no private key labelled {label!r}"
            ) from exc
        except p11.MultipleObjectsReturned as exc:
            raise KeyStoreError(
                f"PKCS#11 token {token!r} holds several private keys labelled {label!r}"
            ) from exc
        if key.key_type != KeyType.EC_EDWARDS or not isinstance(key, p11.SignMixin):
            raise KeyStoreError(
                f"key {label!r} in PKCS#11 token {token!r} is not an Ed25519 signing key"
            )
        return key

    def _public(self, session: p11.Session, where: str, label: str) -> p11.Key:
        try:
            return session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
        except (p11.NoSuchKey, p11.MultipleObjectsReturned) as exc:
            raise KeyStoreError(f"{where} has no single public key beside it") from exc

    @staticmethod
    def _check_kept_inside(private: p11.SignMixin, where: str) -> None:
        if not private[Attribute.SENSITIVE] or private[Attribute.EXTRACTABLE]:
            raise KeyStoreError(
                f"{where} could leave the token (not sensitive, or extractable): "
                "generate one inside it (registry key generate --token)"
            )

    def _session(self, token: str) -> p11.Session:
        # Under the library's lock. A session logged in with another PIN (another
        # configuration in this process) is closed first: the PIN is checked anew.
        open_ = self._library.sessions.get(token)
        if open_ is not None:
            if hmac.compare_digest(open_[1].encode(), self._pin.encode()):
                return open_[0]
            self._drop(token)
        try:
            library = p11.lib(self._path)
        except p11.PKCS11Error as exc:
            raise KeyStoreError(f"cannot load the PKCS#11 module {self._path}") from exc
        try:
            found = library.get_token(token_label=token)
        except p11.NoSuchToken as exc:
            raise KeyStoreError(
                f"no PKCS#11 token labelled {token!r} in module {self._path}"
            ) from exc
        except p11.MultipleTokensReturned as exc:
            raise KeyStoreError(f"several PKCS#11 tokens are labelled {token!r}") from exc
        try:
            session = found.open(rw=True, user_pin=self._pin)
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange) as exc:
            raise KeyStoreError(f"the PIN of PKCS#11 token {token!r} is wrong") from exc
        except p11.PinLocked as exc:
            raise KeyStoreError(f"the PIN of PKCS#11 token {token!r} is locked") from exc
        self._library.sessions[token] = (session, self._pin)
        return session

    def _drop(self, token: str) -> None:
        open_ = self._library.sessions.pop(token, None)
        for held in [k for k in self._library.private_keys if k[0] == token]:
            del self._library.private_keys[held]
        if open_ is not None:
            # A token gone already cannot close it; the next call opens anew.
            with contextlib.suppress(p11.PKCS11Error):
                open_[0].close()

    def _call(self, token: str, action: Callable[[p11.Session], _T]) -> _T:
        # Runs ``action`` in the token's session, under the library's lock; on a
        # failure of the token (not of the request), the session is closed and the
        # action tried once more in a new one.
        with self._library.lock:
            for attempt in (1, 2):
                try:
                    return action(self._session(token))
                except KeyStoreError:
                    raise
                except p11.PKCS11Error as exc:
                    self._drop(token)
                    if attempt == 2:
                        raise KeyStoreError(
                            f"PKCS#11 token {token!r} failed: {type(exc).__name__}"
                        ) from exc
        raise AssertionError("unreachable")  # pragma: no cover


@dataclass(frozen=True)
class Pkcs11Signer:
    """A ``Signer`` whose Ed25519 private key stays in a PKCS#11 token."""

    module: Pkcs11Module = field(repr=False)
    token: str
    label: str
    public_key: Ed25519PublicKey = field(repr=False)
    verification_method: str = ""

    def __post_init__(self) -> None:
        if not self.verification_method:
            object.__setattr__(
                self, "verification_method", did_key_verification_method(self.public_key)
            )

    def sign(self, data: bytes) -> bytes:
        """Return the Ed25519 signature of ``data``, made inside the token.

        Raises ``KeyStoreError`` if the token cannot sign.
        """
        return self.module.sign(self.token, self.label, data)
