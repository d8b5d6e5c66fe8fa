"""A decision waiting for its confirmation: sealed, so that a page can carry it.

An official fills in a form, reads what will be signed, and confirms. Between the two
steps the decision travels in the confirmation page itself, sealed with AES-256-GCM
under a key derived from the node secret (HKDF-SHA256) and bound to the account's
role: the page can neither read it (an ID number typed in it stays out of sight) nor
alter it (what is confirmed is exactly what was shown), and another authority's
official cannot confirm it. A seal holds for ``PENDING_MINUTES``, and carries a
one-time key: confirming twice (a double click, the back button) repeats the first
answer through the idempotency keys (``registry.issuing.idempotency``) instead of
signing twice.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from registry.errors import FieldError, InvalidInput

__all__ = ["PENDING_MINUTES", "Pending", "PendingSeal"]

PENDING_MINUTES = 30
"""How long a decision waits for its confirmation."""

_INFO = b"yrd-registry pending decision v1"
_NONCE = 12
_FIELD = "pending"


@dataclass(frozen=True)
class Pending:
    """A decision opened from its seal: what it is (``kind``, e.g. ``change``), its
    terms, and its one-time key."""

    kind: str
    terms: dict[str, Any]
    key: str


class PendingSeal:
    """Seals and opens pending decisions under the node secret."""

    def __init__(self, node_secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(node_secret)
        self._aead = AESGCM(key)

    def seal(self, kind: str, terms: dict[str, Any], *, role: str, now: datetime) -> str:
        """The sealed decision as text for a form field (base64url), for ``role`` alone,
        with a fresh one-time key, valid ``PENDING_MINUTES`` from ``now``."""
        body = {
            "kind": kind,
            "terms": terms,
            "key": secrets.token_urlsafe(24),
            "until": (now + timedelta(minutes=PENDING_MINUTES)).isoformat(),
        }
        nonce = secrets.token_bytes(_NONCE)
        sealed = self._aead.encrypt(nonce, json.dumps(body).encode(), role.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode("ascii")

    def open(self, text: str, *, kind: str, role: str, now: datetime) -> Pending:
        """The decision sealed in ``text``; raises ``InvalidInput`` (field ``pending``)
        if it was not sealed by this node for ``role`` and ``kind``, was altered, or has
        waited too long."""
        try:
            raw = base64.urlsafe_b64decode(text.encode("ascii"))
            opened = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], role.encode())
        except (ValueError, binascii.Error, InvalidTag, UnicodeEncodeError):
            raise _refused("the decision to confirm is not one this page showed") from None
        body = json.loads(opened)
        if body.get("kind") != kind:
            raise _refused("the decision to confirm is not one this page showed")
        if datetime.fromisoformat(str(body["until"])) < now:
            raise _refused("the decision waited too long: fill in the form again")
        return Pending(kind=kind, terms=dict(body["terms"]), key=str(body["key"]))


def _refused(reason: str) -> InvalidInput:
    return InvalidInput(reason, errors=(FieldError(_FIELD, reason),))
