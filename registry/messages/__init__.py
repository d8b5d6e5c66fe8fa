"""Messages in Chinese: the translation catalogue of what the registry says to people.

Every message the code raises keeps its stable English text (logs, tests and clients
match on it). This catalogue maps each English template to a Chinese template with
the same parameters: ``{name}`` stands for any text, matched in the English and put
back in the Chinese. ``translate`` tries the whole message, then its parts: a
``"; "``-separated list part by part, a ``"field: reason"`` with the reason
translated (and the field renamed, if asked), and pydantic's ``"Value error, "``
dropped. A message the catalogue does not know is answered in English: untranslated,
never lost.

The catalogue covers the errors of the main paths: problem titles and details,
tokens and roles, ID numbers, credit codes, provinces, categories, days and times,
the questions of a verification, uploaded tables and import files, not found and
conflicts, and pydantic's own messages (missing, too long, wrong type, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Literal

from registry.messages.catalogue import CATALOGUE

__all__ = ["Language", "translate", "translated"]

Language = Literal["zh", "en"]

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@cache
def _compiled() -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = []
    for english, chinese in CATALOGUE:
        pattern, position = "", 0
        for found in _PLACEHOLDER.finditer(english):
            pattern += re.escape(english[position : found.start()])
            pattern += f"(?P<{found.group(1)}>.+?)"
            position = found.end()
        pattern += re.escape(english[position:])
        compiled.append((re.compile(pattern, re.DOTALL), chinese))
    return tuple(compiled)


@lru_cache(maxsize=4096)  # a batch of 10,000 rows repeats its few messages
def _whole(message: str) -> str | None:
    for pattern, chinese in _compiled():
        found = pattern.fullmatch(message)
        if found is not None:
            return chinese.format(**found.groupdict())
    return None


def translated(message: str, *, fields: Mapping[str, str] | None = None) -> str | None:
    """``message`` in Chinese, or ``None`` if the catalogue does not know it (or a part
    of it). ``fields`` renames the field a ``"field: reason"`` message starts with."""
    text = message.strip()
    if text.startswith("Value error, "):
        text = text.removeprefix("Value error, ")
    whole = _whole(text)
    if whole is not None:
        return whole
    if "; " in text:
        parts = [translated(part, fields=fields) for part in text.split("; ")]
        if all(part is not None for part in parts):
            return "；".join(part for part in parts if part is not None)
    if ": " in text:
        field, reason = text.split(": ", 1)
        rest = translated(reason, fields=fields)
        if rest is not None:
            named = (fields or {}).get(field, field)
            return f"{named}：{rest}"
    return None


def translate(message: str, lang: Language, *, fields: Mapping[str, str] | None = None) -> str:
    """``message`` in ``lang``: English as written, Chinese from the catalogue where it
    knows the message, else English."""
    if lang != "zh":
        return message
    return translated(message, fields=fields) or message
