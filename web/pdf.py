"""A verification report as an A4 PDF, for the hiring file of the employer who asked.

The PDF prints what a ``VerificationReport`` states (``POST /v1/verify/engineer``):
the verdict as one large line with the report's own sentence under it, the person
(name and masked ID number: the report carries no whole number, and neither does
the PDF), every reason, the records relied on with their state, the continuing
education of the term, every listing in force, the logs the answer was checked
against, when and by whom the report was issued, and a QR code of the report's own
web page with its address printed under it. Chinese by default, or English.

Its text is text: Chinese in Adobe's CID font ``STSong-Light`` (every PDF reader has
it; nothing is embedded), what is Latin only in Helvetica, so the words can be
searched, copied and read aloud. Tables split across pages, repeating their header
row, so a long record flows on instead of being cut.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from typing import Any

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Image, SimpleDocTemplate, Spacer, Table
from reportlab.platypus.doctemplate import BaseDocTemplate

from registry.credentials import CredentialType
from registry.errors import InvalidInput
from web import _pdf_text as text
from web._pdf_layout import (
    CID,
    HEADING,
    LATIN,
    MUTED,
    VERDICT_COLOURS,
    WIDTH,
    Writer,
    fonts,
    latin,
    said_in,
)
from web._pdf_sections import sections
from web._pdf_text import Language, say

__all__ = ["report_pdf"]

_QR_WIDTH = 40 * mm


def _qr(page_url: str) -> Image:
    """The QR code of ``page_url`` as a PNG image, four pixels a module."""
    code = segno.make(page_url, error="m", micro=False)
    png = io.BytesIO()
    code.save(png, kind="png", scale=4, border=4)
    png.seek(0)
    return Image(png, width=_QR_WIDTH - 4 * mm, height=_QR_WIDTH - 4 * mm)


def _header(w: Writer, subject: Mapping[str, Any], page_url: str) -> Table:
    lang = w.lang
    kind = text.verdict_kind(subject)
    colour = VERDICT_COLOURS[kind]
    verdict = Table(
        [[w.para(text.verdict_label(kind)[lang], 26, colour=colors.white, bold=True)]],
        colWidths=[WIDTH - _QR_WIDTH - 6 * mm],
    )
    verdict.setStyle(
        [
            ("BACKGROUND", (0, 0), (-1, -1), colour),
            ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ("TOPPADDING", (0, 0), (-1, -1), 6),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
        ]
    )
    left: list[Flowable] = [
        w.para(say("title", lang), 20, colour=HEADING, bold=True),
        Spacer(0, 2 * mm),
        w.para(say("subtitle", lang), 8.5, colour=MUTED),
        Spacer(0, 3 * mm),
        w.label("verdict"),
        Spacer(0, 1 * mm),
        verdict,
        Spacer(0, 2 * mm),
        w.para(said_in(subject.get("verdictText"), lang), 11, colour=colour),
    ]
    right: list[Flowable] = [
        _qr(page_url),
        w.para(say("scan", lang), 7.5, colour=MUTED, align=1),
        w.para(page_url, 6.5, align=1),
    ]
    table = Table([[left, right]], colWidths=[WIDTH - _QR_WIDTH, _QR_WIDTH])
    table.setStyle(
        [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (0, 0), 6 * mm),
        ]
    )
    return table


def _decorate(lang: Language, report_id: str) -> Callable[[Canvas, BaseDocTemplate], None]:
    def footer(canvas: Canvas, doc: BaseDocTemplate) -> None:
        canvas.saveState()
        canvas.setFillColor(MUTED)
        left = f"{say('title', lang)} · {report_id}"
        canvas.setFont(LATIN if latin(left) else CID, 7.5)
        canvas.drawString(18 * mm, 10 * mm, left)
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, say("page", lang, n=doc.page))
        canvas.restoreState()

    return footer


def report_pdf(report: Mapping[str, Any], *, language: str, page_url: str) -> bytes:
    """The verification report ``report`` (a ``VerificationReport`` credential, as
    ``POST /v1/verify/engineer`` answers) as an A4 PDF in ``language`` (``zh`` or
    ``en``), with a QR code of ``page_url``, the report's own web page.

    Raises ``InvalidInput`` for another language, an empty ``page_url``, or a document
    that is not a verification report."""
    lang = text.language_of(language)
    if not page_url.strip():
        raise InvalidInput("a report's PDF names the report's page")
    types = report.get("type")
    subject = report.get("credentialSubject")
    if (
        not isinstance(types, list)
        or CredentialType.VERIFICATION_REPORT not in types
        or not isinstance(subject, Mapping)
    ):
        raise InvalidInput("the document is not a verification report")
    fonts()
    w = Writer(lang)
    story: list[Flowable] = [_header(w, subject, page_url), *sections(w, report)]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=14 * mm,
        bottomMargin=17 * mm,
        title=say("title", lang),
        subject=str(report.get("id", "")),
        author=str(report.get("issuer", "")),
        creator="yrd-registry",
        lang="zh-CN" if lang == "zh" else "en",
    )
    footer = _decorate(lang, str(report.get("id", "")))
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
