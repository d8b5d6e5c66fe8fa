"""The pages' one translation catalogue: every piece of text people read on a page or
in a PDF, written once in English in the code and the templates (``_("...")``, or
``N_("...")`` where it is only named), and in Chinese in
``translations/zh_CN/LC_MESSAGES/*.po`` (gettext, read with Babel): ``messages.po``
for the public pages and the employer's desk, one file for each other desk
(``console.po``, ``inspect.po``, ``admin.po``), read together as one catalogue.

The pages are Chinese first: a visitor sees Chinese unless they chose English.
Values that carry both languages themselves (an authority's names, the reasons of a
verification) are data, not catalogue text: ``in_lang(zh, en)`` picks one.
tests/test_translations.py extracts every message and requires its translation.
"""

from __future__ import annotations

import gettext as gnu
import io
from functools import cache
from pathlib import Path
from typing import Literal

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

__all__ = ["CATALOGUE", "N_", "Language", "catalogue", "catalogue_files", "translate"]

Language = Literal["zh", "en"]
CATALOGUE_DIR = Path(__file__).resolve().parent / "translations" / "zh_CN" / "LC_MESSAGES"
CATALOGUE = CATALOGUE_DIR / "messages.po"


def N_(message: str) -> str:  # noqa: N802 (gettext's name for a marker)
    """Mark ``message`` for the catalogue where it is named, not yet translated."""
    return message


def catalogue_files() -> list[Path]:
    """The catalogue's ``.po`` files, ``messages.po`` first."""
    return [CATALOGUE, *sorted(p for p in CATALOGUE_DIR.glob("*.po") if p != CATALOGUE)]


@cache
def catalogue() -> gnu.GNUTranslations:
    """The Chinese catalogue, read once from its ``.po`` files."""
    merged: Catalog | None = None
    for path in catalogue_files():
        with path.open("rb") as source:
            part = read_po(source, locale="zh_CN")
        if merged is None:
            merged = part
            continue
        for message in part:
            if message.id:
                merged[message.id] = message
    compiled = io.BytesIO()
    write_mo(compiled, merged or Catalog(locale="zh_CN"))
    compiled.seek(0)
    return gnu.GNUTranslations(compiled)


def translate(lang: Language, message: str, **values: object) -> str:
    """``message`` in ``lang``; ``values`` fill its ``%(name)s`` placeholders."""
    text = catalogue().gettext(message) if lang == "zh" else message
    return text % values if values else text
