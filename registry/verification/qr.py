"""QR codes for credentials: what they carry and how it is read back.

A code carries the address of the credential's own page on the node that printed it,
with what the page checks it against in the fragment, which a browser never sends to
the server::

    https://<node>/c/<credential id>#a=<authority>&h=<digest>[&d=<disclosure>]

A phone's camera opens it as a link. The page (``web``) fetches the credential
and its proofs and checks them in the visitor's browser, its digest against ``h``:
the SHA-256 of the credential's canonical (RFC 8785) bytes, the same digest the
registry stores and the log's leaf is built from, in unpadded base64url (43
characters). The code printed on a person's own certificate adds their disclosure
(``d``: ``registry.ids.disclosure_text``, 22 characters), with which the number on
their ID card can be checked against the credential, in the browser too.

Codes printed before carry one line of ASCII text instead, still read::

    YRD1 <authority> <credential id> <digest> [<disclosure>]

Either way, ``registry verify FILE --qr TEXT`` checks a credential fetched from any
node against the code.
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

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

    def _digest_text(self) -> str:
        return base64.urlsafe_b64encode(bytes.fromhex(self.digest)).rstrip(b"=").decode()

    def text(self) -> str:
        """The line codes printed before carry (``YRD1 ...``)."""
        line = f"{_PREFIX} {self.authority} {self.credential_id} {self._digest_text()}"
        if self.disclosure is not None:
            line += f" {disclosure_text(self.disclosure)}"
        return line

    def url(self, node_url: str) -> str:
        """The address the code carries: the credential's page on ``node_url``, what it
        is checked against in the fragment."""
        fragment = f"a={self.authority}&h={self._digest_text()}"
        if self.disclosure is not None:
            fragment += f"&d={disclosure_text(self.disclosure)}"
        return f"{node_url.rstrip('/')}/c/{self.credential_id}#{fragment}"


def _from_url(text: str) -> QrPayload:
    parts = urlsplit(text)
    path = parts.path
    if "/c/" not in path:
        raise InvalidInput("not a registry QR code: its address names no credential page (/c/)")
    credential_id = path.rsplit("/c/", 1)[1]
    fields = {k: v[0] for k, v in parse_qs(parts.fragment, keep_blank_values=True).items()}
    if "a" not in fields or "h" not in fields:
        raise InvalidInput(
            "the QR code's address lacks what it is checked against (#a=<authority>&h=<digest>)"
        )
    line = f"{_PREFIX} {fields['a']} {credential_id} {fields['h']}"
    if "d" in fields:
        line += f" {fields['d']}"
    return parse_qr_payload(line)


def parse_qr_payload(text: str) -> QrPayload:
    """Read what a registry QR code carries, its address or the line codes printed
    before carry; raises ``InvalidInput``."""
    if text.strip().lower().startswith(("https://", "http://")):
        return _from_url(text.strip())
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


def qr_image(payload: QrPayload, image_format: str, *, node_url: str, scale: int = 4) -> bytes:
    """The QR code of ``payload``'s address on ``node_url`` as SVG or PNG bytes (error
    correction M, quiet zone of 4)."""
    if image_format not in QR_FORMATS:
        raise InvalidInput(f"a QR code is drawn as {' or '.join(QR_FORMATS)}, not {image_format}")
    code = segno.make(payload.url(node_url), error="m", micro=False)
    out = io.BytesIO()
    code.save(out, kind=image_format, scale=scale, border=4)
    return out.getvalue()
