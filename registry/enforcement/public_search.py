"""Searching the public untrustworthiness list: by words of a name, a credit code, the
deciding authority, the kind of party and the listing date.

It searches what ``read_public_list`` publishes (the listings in force on the day)
and nothing else, so a search can show no more than the list itself. A name is
searched by its words: every word given must occur in the listed party's name or in
the name of a person the listing names, width, spacing and case aside (``矿业``
finds ``浙江丽水某矿业有限公司``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from registry.enforcement.public import PublicEntry
from registry.errors import FieldError, InvalidInput
from registry.ids import name_key
from registry.labels import LISTED_KIND

__all__ = ["MAX_WORDS", "PublicPage", "PublicQuery", "page_of", "search_public_list"]

MAX_WORDS = 8
"""Words in one search at most: a name is rarely more, and each is a scan."""


@dataclass(frozen=True)
class PublicQuery:
    """A search of the public list; validated when built (raises ``InvalidInput``
    naming each field that is wrong).

    ``words`` must all occur in a name; ``credit_code`` is a normalised unified
    social credit code (``registry.ids.parse_credit_code``); ``decided_by`` an ISO
    3166-2 code; ``kind`` ``organisation`` or ``person``; ``listed_from`` and
    ``listed_to`` bound the listing date, both days included.
    """

    words: tuple[str, ...] = ()
    credit_code: str | None = None
    decided_by: str | None = None
    kind: str | None = None
    listed_from: date | None = None
    listed_to: date | None = None

    def __post_init__(self) -> None:
        errors = []
        if len(self.words) > MAX_WORDS:
            errors.append(FieldError("q", f"search with at most {MAX_WORDS} words"))
        if self.kind is not None and self.kind not in LISTED_KIND.labels:
            errors.append(FieldError("kind", "the kind of party is organisation or person"))
        if self.listed_from and self.listed_to and self.listed_from > self.listed_to:
            errors.append(FieldError("to", "the last day comes before the first"))
        if errors:
            raise InvalidInput("; ".join(e.message for e in errors), errors=tuple(errors))

    @property
    def empty(self) -> bool:
        """Whether it asks for the whole list."""
        return self == PublicQuery()


def _keys(entry: PublicEntry) -> list[str]:
    values = entry.values
    return [name_key(values["name"])] + [
        name_key(person["name"]) for person in values["relatedPersons"]
    ]


def _matches(entry: PublicEntry, query: PublicQuery, words: Sequence[str]) -> bool:
    values = entry.values
    listed_on = date.fromisoformat(values["listedOn"])
    checks = (
        query.decided_by is None or values["decidedBy"] == query.decided_by,
        query.kind is None or values["kind"] == query.kind,
        query.listed_from is None or listed_on >= query.listed_from,
        query.listed_to is None or listed_on <= query.listed_to,
        # A credit code names an organisation; a person is never found by one.
        query.credit_code is None
        or (values["kind"] == "organisation" and values["identifier"] == query.credit_code),
    )
    if not all(checks):
        return False
    names = _keys(entry)
    return all(any(word in name for name in names) for word in words)


def search_public_list(entries: Sequence[PublicEntry], query: PublicQuery) -> list[PublicEntry]:
    """The entries of the public list that ``query`` finds, in the list's order."""
    words = [key for key in (name_key(word) for word in query.words) if key]
    return [entry for entry in entries if _matches(entry, query, words)]


@dataclass(frozen=True)
class PublicPage:
    """One page of a result: its entries, its number (from 1) and how many there are."""

    entries: list[PublicEntry]
    number: int
    pages: int
    total: int


def page_of(entries: Sequence[PublicEntry], number: int, *, size: int) -> PublicPage:
    """Page ``number`` (from 1) of ``size`` entries; a number past the last page gives
    the last page. Raises ``InvalidInput`` for a number below 1 or a size below 1."""
    if number < 1:
        raise InvalidInput("pages are numbered from 1", errors=(FieldError("page", "from 1"),))
    if size < 1:
        raise InvalidInput("a page holds at least one entry")
    pages = max(1, -(-len(entries) // size))
    number = min(number, pages)
    start = (number - 1) * size
    return PublicPage(list(entries[start : start + size]), number, pages, len(entries))
