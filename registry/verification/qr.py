"""QR codes for credentials: what they carry and how it is read back.

The code carries one line of ASCII text::

    YRD1 <authority> <credential id> <digest> [<disclosure>]

``YRD1`` names this format (version 1); the digest is the SHA-256 of the
credential's canonical (RFC 8785) bytes, the same digest the registry stores and
the log's leaf is built from, in unpadded base64url (43 characters). The public
code carries exactly 100 bytes (QR version 6 at error-correction level M, 41 x 41
modules). The code printed on a person's own certificate adds their disclosure
(``registry.ids.disclosure_text``, 22 characters: 123 bytes, version 8), with which
the number on their ID card can be checked against the credential.
Whoever scans it fetches the credential or its proof bundle by id from any node and
checks that its digest is the one in the code: ``registry verify FILE --qr TEXT``.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass

import segno

from registry.errors import InvalidInput
from registry.ids import disclosure_text, parse_disclosure, province

__all__ = ["QR_FORMATS", "QrPayload", "parse_qr_payload", "qr_image"]

QR_FORMATS = ("svg", "png")
_PREFIX = "YRD1"
_ID = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class QrPayload:
    """What a registry QR code names: a credential, its authority, its digest (hex),
    and on a person's own certificate their disclosure."""

    authority: str
    credential_id: str
    digest: str
    disclosure: bytes | None = None

    def __post_init__(self) -> None:
        if province(self.authority).iso != self.authority:
            raise InvalidInput("a QR code names its authority by ISO 3166-2 code")
        if not _ID.match(self.credential_id):
            raise InvalidInput("a QR code names a credential by its urn:uuid id")
        if not re.fullmatch(r"[0-9a-f]{64}", self.digest):
            raise InvalidInput("a credential digest is 64 lower-case hex characters")

    def text(self) -> str:
        """The line the code carries."""
        digest = base64.urlsafe_b64encode(bytes.fromhex(self.digest)).rstrip(b"=").decode()
        line = f"{_PREFIX} {self.authority} {self.credential_id} {digest}"
        if self.disclosure is not None:
            line += f" {disclosure_text(self.disclosure)}"
        return line


def parse_qr_payload(text: str) -> QrPayload:
    """Read the line a registry QR code carries; raises ``InvalidInput``."""
    parts = text.strip().split(" ")
    if len(parts) not in (4, 5) or parts[0] != _PREFIX:
        raise InvalidInput(
            f"not a registry QR code: it reads '{_PREFIX} <authority> <id> <digest>', "
            "and on a person's certificate their disclosure after it"
        )
    _, authority, credential_id, encoded = parts[:4]
    disclosure = parse_disclosure(parts[4]) if len(parts) == 5 else None
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("the QR code's digest is not base64url") from exc
    if len(raw) != 32:
        raise InvalidInput("the QR code's digest is not 32 bytes")
    return QrPayload(authority, credential_id, raw.hex(), disclosure)


def qr_image(payload: QrPayload, image_format: str, *, scale: int = 4) -> bytes:
    """The QR code as SVG or PNG bytes (error correction M, quiet zone of 4)."""
    if image_format not in QR_FORMATS:
        raise InvalidInput(f"a QR code is drawn as {' or '.join(QR_FORMATS)}, not {image_format}")
    code = segno.make(payload.text(), error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind=image_format, scale=scale, border=4)
    return out.getvalue()
