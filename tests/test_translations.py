"""Every text of the pages and PDF reports is in the one catalogue, in Chinese."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

import web
from web.i18n import catalogue_files, translate

WEB = Path(web.__file__).resolve().parent
_METHODS = [("templates/**.html", "jinja2"), ("**.py", "python")]


def _used() -> dict[str, list[str]]:
    """Each message the templates and code of ``web/`` use, with where."""
    found: dict[str, list[str]] = {}
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    for filename, line, message, _, _ in extract_from_dir(
        str(WEB), method_map=_METHODS, keywords=keywords
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, []).append(f"{filename}:{line}")
    return found


def test_every_message_has_its_chinese_and_the_catalogue_nothing_else() -> None:
    translated: dict[str, str] = {}
    twice: list[str] = []
    for path in catalogue_files():
        with path.open("rb") as source:
            part = read_po(source, locale="zh_CN")
        for m in part:
            if m.id:
                if m.id in translated:
                    twice.append(f"{path.name}: {m.id}")
                translated[str(m.id)] = str(m.string)
    assert twice == [], "each message once, in one of the .po files"
    used = _used()
    assert len(used) > 100
    missing = {m: where for m, where in used.items() if not translated.get(m)}
    assert missing == {}, "add these to a .po file with their Chinese"
    assert sorted(set(translated) - set(used)) == [], "no longer used: take them out"


def test_a_message_reads_in_chinese_unless_english_is_chosen() -> None:
    assert translate("zh", "Sign in") == "登录"
    assert translate("en", "Sign in") == "Sign in"
    assert translate("zh", "Please wait %(n)s seconds.", n=3) == "Please wait 3 seconds."
