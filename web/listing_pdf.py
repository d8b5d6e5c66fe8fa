"""The check of an untrustworthiness listing as an A4 PDF, for the inspection file.

It prints what the exported check states (``registry.enforcement.listing_file``):
the listed party, the listing's status on the day and since when, who checked it and
when, the decision (authority, decision numbers, basis, dates), the measures, the
history of signed changes, and the proof (where its authority's log holds it, at
which checkpoint), with a QR code of the listing's public page, where a browser
verifies the signature and the inclusion proof. Chinese by default, or English; its
text is text (``STSong-Light``, as ``web.pdf``), so it can be searched and copied.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Image, SimpleDocTemplate, Spacer

from registry.labels import RELATED_ROLE
from registry.tlog.checkpoint import parse_checkpoint
from web._pdf_layout import HEADING, MUTED, STATUS_COLOURS, WIDTH, Writer, fonts, split_table
from web._pdf_text import Language, moment
from web.i18n import N_, translate

__all__ = ["listing_check_pdf"]

_STATUS = {
    "in-force": N_("In force"),
    "not-yet-in-force": N_("Not yet in force"),
    "lifted": N_("Lifted by credit repair"),
    "expired": N_("Expired"),
    "withdrawn": N_("Withdrawn"),
    "revoked": N_("Revoked"),
    "superseded": N_("Replaced by a correction"),
}
_ACTION = {
    "lift": N_("Lifted by credit repair"),
    "reverse-lift": N_("Credit repair reversed"),
    "withdraw": N_("Withdrawn"),
    "revoke": N_("Revoked"),
    "supersede": N_("Replaced by a correction"),
    "cancel-scheduled": N_("Scheduled change cancelled"),
}
_TITLE = N_("Check of an untrustworthiness listing")
_KIND = {"organisation": N_("Organisation"), "person": N_("Person")}


def _day(value: object, lang: Language) -> str:
    try:
        day = date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value or "")
    return f"{day.year}年{day.month}月{day.day}日" if lang == "zh" else day.isoformat()


def _qr(url: str) -> Image:
    png = io.BytesIO()
    segno.make(url, error="m", micro=False).save(png, kind="png", scale=4, border=4)
    png.seek(0)
    return Image(png, width=32 * mm, height=32 * mm)


def _decision(
    w: Writer, subject: Mapping[str, Any], authority: str, say: Any
) -> list[tuple[str, object]]:
    listed = subject.get("listed") or {}
    kind = str(listed.get("kind", ""))
    rows: list[tuple[str, object]] = [(say("Kind of party"), say(_KIND.get(kind, kind)))]
    if kind == "organisation":
        rows.append((say("Credit code"), listed.get("creditCode", "")))
    else:
        rows.append((say("ID number (masked)"), (listed.get("identifier") or {}).get("masked", "")))
    roles = RELATED_ROLE.labels if w.lang == "zh" else {}
    persons = [
        f"{roles.get(p.get('role', ''), p.get('role', ''))} {p.get('name', '')}"
        for p in subject.get("relatedPersons") or []
    ]
    if persons:
        rows.append((say("Persons responsible"), "; ".join(persons)))
    rows += [
        (say("Decided by"), authority),
        (say("Listing decision number"), subject.get("listingDecisionNumber", "")),
        (say("Penalty decision number"), subject.get("penaltyDecisionNumber", "")),
        (say("Basis of listing"), subject.get("legalBasis", "")),
        (say("Listed on"), _day(subject.get("listedOn"), w.lang)),
        (say("Earliest removal date"), _day(subject.get("earliestRemovalOn"), w.lang)),
        (say("Removed on expiry"), _day(subject.get("expiresOn"), w.lang)),
    ]
    return rows


def _pairs(w: Writer, rows: Sequence[tuple[str, object]]) -> Flowable:
    data = [[w.para(key, 8.5, colour=MUTED), w.para(value)] for key, value in rows]
    return split_table(data, [40 * mm, WIDTH - 40 * mm])


def listing_check_pdf(
    check: Mapping[str, Any], *, language: Language, authority: str, public_url: str
) -> bytes:
    """The check ``check`` (``check_document``'s) as an A4 PDF in ``language``;
    ``authority`` names the deciding authority as the language does, ``public_url``
    is the listing's public page (printed, and as a QR code)."""

    def say(message: str, **values: object) -> str:
        return translate(language, message, **values)

    fonts()
    w = Writer(language)
    subject = check["credential"]["credentialSubject"]
    status = check.get("status") or {}
    tone = "not-met" if status.get("status") == "in-force" else "met"
    story: list[Flowable] = [
        w.para(say(_TITLE), 18, colour=HEADING, bold=True),
        Spacer(0, 2 * mm),
        w.para((subject.get("listed") or {}).get("name", ""), 14, bold=True),
        Spacer(0, 2 * mm),
        w.para(
            say(_STATUS.get(status.get("status", ""), status.get("status", ""))),
            16,
            colour=STATUS_COLOURS[tone],
            bold=True,
        ),
        w.para(
            say(
                "As of %(day)s, since %(since)s.",
                day=_day(check.get("date"), language),
                since=_day(status.get("since"), language),
            )
        ),
        w.para(
            say(
                "Checked by %(name)s at %(moment)s on this node.",
                name=check["checkedBy"]["name"],
                moment=moment(check["checkedAt"], language),
            )
        ),
        w.para(check.get("node", ""), 8, colour=MUTED),
        w.para(say("The decision"), 12, colour=HEADING, bold=True, space=4, keep=True),
        _pairs(w, _decision(w, subject, authority, say)),
        w.para(say("Disciplinary measures"), 12, colour=HEADING, bold=True, space=4, keep=True),
        *(w.para(f"· {m}") for m in subject.get("measures") or []),
        w.para(say("History of signed changes"), 12, colour=HEADING, bold=True, space=4, keep=True),
    ]
    history = check.get("history") or []
    if history:
        rows = [
            [w.para(say(h)) for h in ("Effective from", "Change", "Decision number", "Reason")],
            *(
                [
                    w.para(_day(c["effectiveOn"], language)),
                    w.para(say(_ACTION.get(c["action"], c["action"]))),
                    w.para(c.get("decisionNumber") or ""),
                    w.para(c.get("reason") or ""),
                ]
                for c in history
            ),
        ]
        story.append(split_table(rows, [WIDTH * f for f in (0.18, 0.2, 0.25, 0.37)], header=True))
    else:
        story.append(w.para(say("No change has been signed since the listing.")))
    story.append(w.para(say("Proof"), 12, colour=HEADING, bold=True, space=4, keep=True))
    proof = check.get("proof")
    rows_proof: list[tuple[str, object]] = [(say("Credential"), check["listingId"])]
    if proof:
        head = parse_checkpoint(proof["checkpoint"].partition("\n\n")[0] + "\n")
        rows_proof += [
            (say("Position in the log"), proof["leafIndex"]),
            (say("Checkpoint"), f"{head.origin}: {say('%(size)d entries', size=head.size)}"),
            (say("Root hash"), head.text().split("\n")[2]),
        ]
    rows_proof.append((say("Public page"), public_url))
    story += [_pairs(w, rows_proof), Spacer(0, 4 * mm), _qr(public_url)]
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=14 * mm,
        bottomMargin=17 * mm,
        title=say(_TITLE),
        subject=str(check["listingId"]),
        creator="yrd-registry",
        lang="zh-CN" if language == "zh" else "en",
    )
    doc.build(story)
    return out.getvalue()
