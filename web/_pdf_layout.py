"""How a verification report's PDF is set: its fonts, colours, paragraphs and tables.

Chinese is set in Adobe's CID font ``STSong-Light`` (every PDF reader has it; nothing
is embedded) and what is Latin only in Helvetica, so that all of it is text. Tables
split between rows and, for a row taller than what is left of a page, within it, so
a long report flows on to further pages instead of being cut.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Flowable, Paragraph, Table

from web._pdf_text import Language, say

__all__ = [
    "CID",
    "HEADING",
    "INK",
    "LATIN",
    "MUTED",
    "STATUS_COLOURS",
    "VERDICT_COLOURS",
    "WIDTH",
    "Writer",
    "fonts",
    "latin",
    "mapping",
    "mappings",
    "said_in",
    "split_table",
]

CID = "STSong-Light"
LATIN = "Helvetica"
WIDTH = A4[0] - 36 * mm  # the frame between 18 mm margins

INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#595959")
RULE = colors.HexColor("#c8c8c8")
SHADE = colors.HexColor("#f2f2f2")
HEADING = colors.HexColor("#123c69")
VERDICT_COLOURS = {
    "qualified": colors.HexColor("#1b6e34"),
    "not-qualified": colors.HexColor("#a4161a"),
    "not-found": colors.HexColor("#595959"),
    "name-mismatch": colors.HexColor("#a4161a"),
}
STATUS_COLOURS = {
    "met": colors.HexColor("#1b6e34"),
    "not-met": colors.HexColor("#a4161a"),
    "note": colors.HexColor("#8a5a00"),
    "info": MUTED,
}


@cache
def fonts() -> None:
    """Register the CID font ``STSong-Light`` with ReportLab (once)."""
    # Registered once, when the first PDF is made: a CID font is named, not embedded.
    pdfmetrics.registerFont(UnicodeCIDFont(CID))


def latin(value: str) -> bool:
    """Whether Helvetica (WinAnsi) can print every character of ``value``."""
    try:
        value.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


class Writer:
    """Paragraphs in one language: the font chosen by what each string holds."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang

    def para(
        self,
        value: object,
        size: float = 9,
        *,
        colour: colors.Color = INK,
        bold: bool = False,
        align: int = 0,
        space: float = 0,
        keep: bool = False,
    ) -> Paragraph:
        """``value`` as a paragraph of ``size`` points: in Helvetica if it is Latin
        only, else in ``STSong-Light``; ``space`` below it (and more above); ``keep``
        keeps it on the page of what follows it."""
        content = str(value)
        only_latin = latin(content)
        font = (LATIN + "-Bold" if bold else LATIN) if only_latin else CID
        style = ParagraphStyle(
            "report",
            fontName=font,
            fontSize=size,
            leading=size * 1.35,
            textColor=colour,
            alignment=align,
            spaceBefore=space * 2,
            spaceAfter=space,
            keepWithNext=keep,
            # Text with Chinese breaks between any two Chinese characters (keeping
            # punctuation off a line's start) and between Latin words; Latin alone
            # between words, a word longer than the line split.
            wordWrap=None if only_latin else "CJK",
            splitLongWords=True,
        )
        return Paragraph(escape(content), style)

    def say(self, key: str, size: float = 9, **values: object) -> Paragraph:
        """The text ``key`` of the text table as a paragraph."""
        return self.para(say(key, self.lang, **values), size)

    def heading(self, key: str) -> Paragraph:
        """A section's heading, on the page of what follows it."""
        return self.para(say(key, self.lang), 12, colour=HEADING, bold=True, space=4, keep=True)

    def caption(self, key: str, **values: object) -> Paragraph:
        """A part's caption, small, on the page of what follows it."""
        text = say(key, self.lang, **values)
        return self.para(text, 9, colour=HEADING, space=2, keep=True)

    def label(self, key: str, **values: object) -> Paragraph:
        """A label or a note: the text ``key``, small and grey."""
        return self.para(say(key, self.lang, **values), 8.5, colour=MUTED)

    def pairs(self, rows: Sequence[tuple[str, object]], key_width: float = 48 * mm) -> Table:
        """A two-column table of labels (keys of the text table) and values."""
        data = [[self.label(key), self.para(value)] for key, value in rows]
        return split_table(data, [key_width, WIDTH - key_width])

    def grid(
        self, header: Sequence[str], rows: Sequence[Sequence[Flowable]], widths: Sequence[float]
    ) -> Table:
        """A table with a header row (keys of the text table), repeated on each page;
        ``widths`` are relative, scaled to the frame's width."""
        scale = WIDTH / sum(widths)
        return split_table(
            [[self.label(key) for key in header], *rows],
            [w * scale for w in widths],
            header=True,
        )


_GRID: list[tuple[Any, ...]] = [
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
    ("LEFTPADDING", (0, 0), (-1, -1), 3),
    ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ("TOPPADDING", (0, 0), (-1, -1), 2.5),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
]


def split_table(
    data: Sequence[Sequence[Flowable | str]], widths: Sequence[float], *, header: bool = False
) -> Table:
    """A table of the frame's width that splits between rows and, for a row taller
    than what is left of a page, within it; a header row repeats on each page."""
    style = [*_GRID, ("BACKGROUND", (0, 0), (-1, 0), SHADE)] if header else _GRID
    return Table(data, colWidths=list(widths), style=style, repeatRows=int(header), splitInRow=1)


def mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def mappings(value: object) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def said_in(reason: object, lang: Language) -> str:
    """A reason (``{"code", "zh", "en"}``) in ``lang``; its code if it has no text."""
    found = mapping(reason)
    return str(found.get(lang) or found.get("code") or "")
