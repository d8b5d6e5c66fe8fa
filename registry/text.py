"""The characters each kind of text may hold, checked once at the door.

People and offices type names, legal bases and measures that the registry signs,
logs and writes into spreadsheets for years. A character nobody can see or print
does harm there: a NUL made the public XLSX fail for every region, a right-to-left
override (U+202E) shows a name backwards, a zero-width space makes two equal names
differ. So every text field of every input is one of these types, and a value with
a character its kind does not allow is refused, naming the character by its code
point (never echoing the value, which may be an ID number):

``Printable`` (codes, ID numbers, regions, URLs; the domain's parsers decide the rest)
    no character in ``REFUSED``: no C0 or C1 control (tab, line breaks and DEL
    included), no format character (the bidi controls U+202A-U+202E, U+2066-U+2069,
    U+200E, U+200F, U+061C, the zero-width U+200B-U+200D, U+2060, U+FEFF and the
    soft hyphen among them), no line or paragraph separator, no private-use,
    surrogate or unassigned code point.
``Text`` (reasons, legal bases, measures, decision numbers, course titles)
    a ``Printable`` line: letters, marks, digits, punctuation, symbols and spaces,
    Chinese punctuation included. No line break: each of these is one cell of the
    public list and one line of a signed record, and at most a few hundred characters.
``PersonName``
    letters and combining marks, spaces, the middle dots of minority and foreign
    names (``阿卜杜拉·买买提``: U+00B7, U+2022, U+2027, U+30FB, U+FF65), and the hyphen,
    apostrophe and full stop of Latin names (``Jean-Luc O'Neil Jr.``).
``OrganisationName``
    what a person's name may hold, and digits, brackets half- and full-width
    (``()（）[]【】〔〕``), ``&``, ``＆``, ``/``, dashes, commas and ``、``.
``Reference``
    a credential id or certificate number: visible ASCII, no space.

Every name holds at least one letter. Each is normalised to NFC before it is
checked: NFC changes no character a reader sees, only how it is encoded (``é`` as
one code point rather than ``e`` and a combining accent), so one name is one string
of bytes in the signed record, the look-up index and every export, whichever
keyboard typed it. NFKC would go further and fold full-width letters and brackets,
which changes what the issuer wrote; matching folds them instead (``ids.name_key``).

``export_cell`` is the other side: what an export writes for a value stored before
these rules (or by any other way in), every refused character but tab and line
breaks replaced by U+FFFD, so that no spreadsheet chokes on it and no reader is
misled by it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from registry.errors import FieldError, InvalidInput

__all__ = [
    "REPLACEMENT",
    "OrganisationName",
    "PersonName",
    "Printable",
    "Reference",
    "Text",
    "TextKind",
    "check_text",
    "export_cell",
    "refused",
]

REPLACEMENT = "\ufffd"
"""What an export writes in place of a refused character."""

# Cc: C0 and C1 controls and DEL; Cf: format characters (bidi controls, zero-width
# characters, the byte-order mark, the soft hyphen...); Zl, Zp: U+2028, U+2029;
# Co: private use; Cs: surrogates (only a lone one reaches a str); Cn: unassigned in
# the Unicode version Python carries.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"})

_MIDDLE_DOTS = frozenset("\u00b7\u2022\u2027\u30fb\uff65")
_PERSON_PUNCTUATION = _MIDDLE_DOTS | frozenset(" \u3000-'\u2019.\u2010")
_ORGANISATION_PUNCTUATION = _PERSON_PUNCTUATION | frozenset(
    "()（）[]【】〔〕&＆/,，、\u2013\u2014－．"
)


def refused(char: str) -> bool:
    """Whether ``char`` is one no text the registry takes may hold."""
    return unicodedata.category(char) in _REFUSED_CATEGORIES


def _describe(char: str) -> str:
    point = f"U+{ord(char):04X}"
    name = unicodedata.name(char, "")
    if name:
        return f"{point} ({name})"
    kind = {
        "Cc": "a control character",
        "Co": "a private-use character",
        "Cs": "a lone surrogate",
        "Cn": "an unassigned code point",
    }.get(unicodedata.category(char), "an invisible character")
    return f"{point}, {kind}"


class TextKind:
    """One kind of text: what it is called in messages and which characters it holds
    besides letters (and marks)."""

    def __init__(
        self,
        what: str,
        *,
        allows: Callable[[str], bool],
        needs_letter: bool = False,
        normalise: bool = True,
    ) -> None:
        self.what = what
        self._allows = allows
        self._needs_letter = needs_letter
        self._normalise = normalise

    def check(self, value: str) -> str:
        """``value`` normalised to NFC, or ``ValueError`` naming the first character
        this kind does not allow, and where it is (from 1)."""
        if self._normalise:
            value = unicodedata.normalize("NFC", value)
        for position, char in enumerate(value, start=1):
            if refused(char) or not self._allows(char):
                raise ValueError(f"{self.what} cannot hold {_describe(char)}, character {position}")
        if self._needs_letter and value and not any(c.isalpha() for c in value):
            raise ValueError(f"{self.what} has at least one letter")
        return value


def _letter_or_mark(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


_PRINTABLE = TextKind("text", allows=lambda char: True, normalise=False)
_TEXT = TextKind("text", allows=lambda char: True)
_PERSON = TextKind(
    "a person's name",
    allows=lambda char: _letter_or_mark(char) or char in _PERSON_PUNCTUATION,
    needs_letter=True,
)
_ORGANISATION = TextKind(
    "an organisation's name",
    allows=lambda char: (
        _letter_or_mark(char)
        or unicodedata.category(char) == "Nd"
        or char in _ORGANISATION_PUNCTUATION
    ),
    needs_letter=True,
)
_REFERENCE = TextKind("a reference", allows=lambda char: "!" <= char <= "~", normalise=False)

Printable = Annotated[
    str, AfterValidator(_PRINTABLE.check), Field(json_schema_extra={"format": "printable"})
]
"""A code, an ID number, a region, a URL: no refused character, not normalised (the
domain's parser normalises what it reads)."""
Text = Annotated[
    str, AfterValidator(_TEXT.check), Field(json_schema_extra={"format": "registry-text"})
]
"""One line of free text: a reason, a legal basis, a measure, a course title."""
PersonName = Annotated[
    str, AfterValidator(_PERSON.check), Field(json_schema_extra={"format": "person-name"})
]
"""A person's name, Chinese (with a minority name's middle dot) or Latin."""
OrganisationName = Annotated[
    str,
    AfterValidator(_ORGANISATION.check),
    Field(json_schema_extra={"format": "organisation-name"}),
]
"""An organisation's name, brackets and digits included."""
Reference = Annotated[
    str, AfterValidator(_REFERENCE.check), Field(json_schema_extra={"format": "reference"})
]
"""A credential id (``urn:uuid:...``) or a certificate number: visible ASCII."""

_KINDS = {
    "printable": _PRINTABLE,
    "text": _TEXT,
    "person": _PERSON,
    "organisation": _ORGANISATION,
    "reference": _REFERENCE,
}


def check_text(
    value: str,
    kind: Literal["text", "person", "organisation", "reference", "printable"],
    *,
    field: str,
) -> str:
    """``value`` checked (and normalised) as ``kind``, for the inputs that are not a
    model (a command's options, a member's entry). Raises ``InvalidInput`` naming
    ``field`` and the character."""
    try:
        return _KINDS[kind].check(value)
    except ValueError as exc:
        raise InvalidInput(
            f"the {field} is invalid", errors=(FieldError(field, str(exc)),)
        ) from None


_CELL_WHITESPACE = frozenset("\t\n\r")


def _unshowable(char: str) -> bool:
    return refused(char) and char not in _CELL_WHITESPACE


def export_cell(value: str) -> str:
    """``value`` for a CSV or XLSX cell: every refused character but tab and line
    breaks (which a cell holds as they are) replaced by U+FFFD, so that what was
    stored is shown, and nothing in it breaks the file (an XLSX cell cannot hold a
    NUL) or misleads its reader (a right-to-left override)."""
    if not any(_unshowable(char) for char in value):
        return value
    return "".join(REPLACEMENT if _unshowable(char) else char for char in value)
