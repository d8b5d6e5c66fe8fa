"""Uploaded tables: what kind of file a request body holds, sent raw or from a form.

A table comes as a raw body (``Content-Type: text/csv``, with an optional
``charset``, or the XLSX media type) or as a browser's ``multipart/form-data``
upload whose field ``file`` holds it; the part's own type, else its file name's
ending, else its first bytes (a workbook is a zip archive) say whether it is CSV or
XLSX. The body was already bounded by the
route's limit (``api.limits``) before it is parsed here.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Literal

from registry.errors import FieldError, InvalidInput
from registry.spreadsheets import XLSX_MEDIA_TYPE

__all__ = ["Upload", "file_upload", "upload_of"]

Kind = Literal["json", "csv", "xlsx"]


@dataclass(frozen=True)
class Upload:
    """A body's kind, its bytes, and the charset it was sent with (if named)."""

    kind: Kind
    body: bytes
    charset: str | None = None


def _media(content_type: str) -> tuple[str, dict[str, str]]:
    media, *params = content_type.split(";")
    named = {}
    for param in params:
        key, _, value = param.strip().partition("=")
        named[key.strip().lower()] = value.strip().strip('"')
    return media.strip().lower(), named


def _kind(media: str, filename: str = "") -> Kind | None:
    if media in ("text/csv", "application/csv", "text/comma-separated-values"):
        return "csv"
    if media == XLSX_MEDIA_TYPE:
        return "xlsx"
    ending = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    if ending in ("csv", "xlsx"):
        return "csv" if ending == "csv" else "xlsx"
    if media in ("application/json", ""):
        return "json" if not filename else None
    return None


def _form_file(body: bytes, content_type: str) -> Upload:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message: Message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise InvalidInput("the form has no parts")
    for part in message.iter_parts() if isinstance(message, EmailMessage) else ():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        filename = part.get_filename() or ""
        media = part.get_content_type() if part.get("content-type") else ""
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        charset = part.get_content_charset() if media else None
        return file_upload(payload, filename=filename, media=media, charset=charset)
    raise InvalidInput(
        "the form has no field named file",
        errors=(FieldError("file", "upload the table in the form field `file`"),),
    )


def file_upload(payload: bytes, *, filename: str, media: str, charset: str | None = None) -> Upload:
    """A file uploaded from a form: CSV or XLSX by its type, else its name's ending,
    else its first bytes; raises ``InvalidInput`` for any other file."""
    media = media.split(";", maxsplit=1)[0].strip().lower()
    kind = _kind(media, filename)
    if kind is None and media in ("", "application/octet-stream"):
        # A browser that knows nothing of the file: a workbook is a zip archive.
        kind = "xlsx" if payload.startswith(b"PK\x03\x04") else "csv"
    if kind is None or kind == "json":
        raise InvalidInput(
            "the uploaded file is neither CSV nor XLSX",
            errors=(FieldError("file", "upload a .csv or .xlsx file"),),
        )
    return Upload(kind, payload, charset if media else None)


def upload_of(body: bytes, content_type: str) -> Upload:
    """What ``body`` holds, by its ``Content-Type``; raises ``InvalidInput`` for a
    type that is none of JSON, CSV, XLSX and a form with a ``file`` field."""
    media, params = _media(content_type or "application/json")
    if media == "multipart/form-data":
        return _form_file(body, content_type)
    kind = _kind(media)
    if kind is None:
        raise InvalidInput(
            f"send JSON, CSV (text/csv), XLSX ({XLSX_MEDIA_TYPE}) or a form upload "
            f"(multipart/form-data), not {media}"
        )
    return Upload(kind, body, params.get("charset"))
