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
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlmodel import Session, col, select

from registry.credentials.records import named_people
from registry.errors import Forbidden, Inconsistency
from registry.ids import disclosure_text
from registry.storage.credentials import document_of, get_credential
from registry.storage.models import Disclosure, RecordParty
from registry.tokens import Caller

__all__ = ["DisclosureSeal", "HeldDisclosure", "read_disclosures"]

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


def read_disclosures(
    session: Session, seal: DisclosureSeal, credential_id: str, *, caller: Caller
) -> list[HeldDisclosure]:
    """The disclosures of the people a credential names, for its issuing authority to
    hand to them; the caller records the reading in the access audit (action
    ``disclosure``). Writes nothing.

    Raises ``NotFound`` for a credential this node does not hold, ``Forbidden`` unless
    the caller issues for the credential's authority (whose disclosures these are),
    and ``Inconsistency`` for a disclosure that does not open.
    """
    stored = get_credential(session, credential_id)
    if caller.role != f"issuer:{stored.issuer_code}":
        raise Forbidden(
            f"role {caller.role} may not read the disclosures of {stored.issuer_code}'s "
            f"records: only issuer:{stored.issuer_code} hands them to the people named"
        )
    people = named_people(stored.type, document_of(stored))
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
    return [
        HeldDisclosure(
            credential_id=credential_id,
            position=row.position,
            role=party.role,
            name=party.name,
            masked=people[row.position].masked if row.position in people else "",
            salt=seal.open(credential_id, row.position, row.sealed),
        )
        for row, party in rows
    ]
