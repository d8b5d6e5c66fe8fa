"""Disclosures: the salts of the bindings in the credentials this node issued.

A credential binds a person by SHA-256(salt || number) and does not carry the salt
(``registry.ids.PersonIdentifier``). The issuing authority keeps it, sealed with
AES-256-GCM under a key derived from the node secret (HKDF-SHA256) and bound to the
credential and the person's position in it, so that a copy of the database without
the node's secrets tests no guess, and a sealed salt moved to another row does not
open. It is handed only to the issuing authority, for the person: printed on their
certificate and carried by their QR code.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, col, select

from registry.errors import Inconsistency
from registry.ids import PersonIdentifier, disclosure_text
from registry.storage.models import Disclosure, RecordParty

__all__ = ["DisclosureSeal", "HeldDisclosure", "disclosures_of"]

_INFO = b"yrd-registry disclosure seal v1"
_NONCE = 12


class DisclosureSeal:
    """Seals and opens disclosures under the node secret."""

    def __init__(self, node_secret: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(node_secret)
        self._aead = AESGCM(key)

    @staticmethod
    def _bound_to(credential_id: str, position: int) -> bytes:
        return f"{credential_id}\n{position}".encode()

    def seal(self, credential_id: str, position: int, salt: bytes) -> bytes:
        """The sealed form of ``salt``: a fresh nonce and the ciphertext with its tag."""
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._aead.encrypt(nonce, salt, self._bound_to(credential_id, position))

    def open(self, credential_id: str, position: int, sealed: bytes) -> bytes:
        """The salt; raises ``Inconsistency`` if ``sealed`` was not sealed for this
        credential and position under this node's secret."""
        try:
            return self._aead.decrypt(
                sealed[:_NONCE], sealed[_NONCE:], self._bound_to(credential_id, position)
            )
        except InvalidTag as exc:
            raise Inconsistency(
                f"the disclosure of {credential_id} #{position} does not open under this "
                "node's secret: it was altered, moved, or sealed by another node"
            ) from exc


@dataclass(frozen=True)
class HeldDisclosure:
    """One person's disclosure for one credential, as the authority hands it out."""

    credential_id: str
    position: int
    role: str
    name: str
    masked: str
    salt: bytes

    @property
    def text(self) -> str:
        """The disclosure as printed: ``registry.ids.disclosure_text``."""
        return disclosure_text(self.salt)


def disclosures_of(
    session: Session,
    seal: DisclosureSeal,
    credential_id: str,
    identifiers: Sequence[tuple[int, PersonIdentifier]],
) -> list[HeldDisclosure]:
    """The disclosures of the people a credential names (``identifiers``: each person's
    party position and identifier as the credential gives them), each checked to open
    and to bind... nothing: the number is not here, so only the seal is checked."""
    rows = session.exec(
        select(Disclosure, RecordParty)
        .join(
            RecordParty,
            (col(RecordParty.credential_id) == col(Disclosure.credential_id))
            & (col(RecordParty.position) == col(Disclosure.position)),
        )
        .where(col(Disclosure.credential_id) == credential_id)
        .order_by(col(Disclosure.position))
    ).all()
    masked = {position: identifier.masked for position, identifier in identifiers}
    return [
        HeldDisclosure(
            credential_id=credential_id,
            position=row.position,
            role=party.role,
            name=party.name,
            masked=masked.get(row.position, ""),
            salt=seal.open(credential_id, row.position, row.sealed),
        )
        for row, party in rows
    ]
