"""The sections of a verification report's PDF, each from the report's subject: the
person, the reasons, the records relied on, continuing education, listings, the logs
checked against, and the report itself. Each prints only what the report states."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Spacer

from registry.credentials import authority_of
from registry.errors import RegistryError
from web import _pdf_text as text
from web._pdf_layout import (
    STATUS_COLOURS,
    WIDTH,
    Writer,
    mapping,
    mappings,
    said_in,
    split_table,
)
from web._pdf_text import say

__all__ = ["sections"]


def _person(w: Writer, subject: Mapping[str, Any]) -> list[Flowable]:
    lang = w.lang
    query = mapping(subject.get("query"))
    holder = mapping(subject.get("holder"))
    rows: list[tuple[str, object]] = []
    name = holder.get("name") or query.get("name")
    if name:
        rows.append(("name", name))
    masked = holder.get("residentIdMasked") or query.get("residentIdMasked")
    if masked:
        rows.append(("masked", masked))
    by = "by-registration-number" if query.get("by") == "registration-number" else "by-resident-id"
    asked = say(by, lang)
    if query.get("registrationNumber"):
        asked += f" {query['registrationNumber']}"
    rows.append(("asked-by", asked))
    rows.append(("region", text.region(query.get("region", ""), lang)))
    rows.append(("date", query.get("date", "")))
    if query.get("category"):
        rows.append(("category", text.category(query["category"], lang)))
    if query.get("employer"):
        rows.append(("employer", query["employer"]))
    return [w.heading("person"), w.pairs(rows)]


def _reasons(w: Writer, subject: Mapping[str, Any]) -> list[Flowable]:
    rows = []
    for reason in mappings(subject.get("reasons")):
        holds, decides = reason.get("holds", True), reason.get("decides", True)
        # Deciding reasons are met or not; the others inform, a failing one as a note.
        status = ("met" if holds else "not-met") if decides else ("info" if holds else "note")
        mark = w.para(say(status, w.lang), 9, colour=STATUS_COLOURS[status], bold=True)
        rows.append([mark, w.para(said_in(reason, w.lang))])
    table = split_table(rows or [["", ""]], [20 * mm, WIDTH - 20 * mm])
    return [w.heading("reasons"), table, Spacer(0, 1.5 * mm), w.label("reasons-key")]


def _record_row(w: Writer, kind: str, record: Mapping[str, Any]) -> list[Flowable]:
    lang = w.lang
    what = [say(kind, lang), text.category(record.get("category", ""), lang)]
    employer = mapping(record.get("employer"))
    if employer.get("name"):
        code = f" ({employer['creditCode']})" if employer.get("creditCode") else ""
        what.append(f"{employer['name']}{code}")
    if kind == "qualification":
        number = record.get("certificateNumber", "")
        valid = say("lifelong", lang, day=record.get("issuedOn", ""))
    else:
        number = record.get("registrationNumber", "")
        start = record.get("validFrom", "")
        valid = (
            say("from-until", lang, start=start, end=record["validUntil"])
            if record.get("validUntil")
            else say("from-open", lang, start=start)
        )
    counts = say("no", lang)
    if record.get("counts"):
        counts = say("by-agreement" if record.get("agreement") else "yes", lang)
    return [
        w.para(" · ".join(what)),
        w.para(text.region(record.get("issuer", ""), lang)),
        w.para(number),
        w.para(valid),
        w.para(text.state(record.get("state", ""), lang)),
        w.para(counts),
    ]


def _records(w: Writer, subject: Mapping[str, Any]) -> list[Flowable]:
    rows = []
    for kind in ("qualification", "registration"):
        if isinstance(subject.get(kind), Mapping):
            rows.append(_record_row(w, kind, subject[kind]))
    for other in mappings(subject.get("otherRegistrations")):
        rows.append(_record_row(w, "other-registration", other))
    found: list[Flowable] = [w.heading("records")]
    if not rows:
        return [*found, w.say("no-records")]
    header = ("record", "issuer", "number", "valid", "state", "counts")
    found.append(w.grid(header, rows, (42, 24, 30, 34, 18, 26)))
    agreements = mappings(subject.get("agreements"))
    if agreements:
        found.append(w.caption("agreements"))
        for agreement in agreements:
            basis = mapping(agreement.get("legalBasis"))
            named = [text.region(p, w.lang, coded=False) for p in agreement.get("parties", ())]
            line = say(
                "agreement",
                w.lang,
                title=basis.get("title", ""),
                number=basis.get("documentNumber", ""),
                parties=say("parties", w.lang).join(named),
            )
            found.append(w.para(line, 8.5))
    return found


def _term(w: Writer, key: str, term: Mapping[str, Any]) -> list[Flowable]:
    lang = w.lang
    rule = mapping(term.get("rule"))
    period = mapping(term.get("period"))
    counted = mapping(term.get("counted"))
    standing = "official" if rule.get("standing") == "official" else "provisional"
    authority = text.region(rule.get("authority", ""), lang, coded=False)
    rows: list[tuple[str, object]] = [
        ("period", say("from-until", lang, start=period.get("from"), end=period.get("until"))),
        ("rule", say(standing, lang, authority=authority, version=rule.get("version", ""))),
        (
            "counted",
            say(
                "counted-hours",
                lang,
                total=text.hours(counted.get("total", 0)),
                general=text.hours(counted.get("general", 0)),
                professional=text.hours(counted.get("professional", 0)),
            ),
        ),
    ]
    required = mapping(term.get("required"))
    if required:
        rows.append(
            (
                "required",
                say(
                    "required-hours",
                    lang,
                    hours=text.hours(required.get("hours")),
                    professional=text.hours(required.get("professionalHours")),
                    year=text.hours(required.get("hoursPerYear")),
                ),
            )
        )
    if "met" in term:
        shortfalls = say("list", lang).join(
            said_in(r, lang) for r in mappings(term.get("shortfalls"))
        )
        met = say("yes" if term["met"] else "no", lang)
        rows.append(("ce-met", f"{met} {shortfalls}".strip()))
    found: list[Flowable] = [w.caption(key), w.pairs(rows)]
    credits = []
    for credit in mappings(term.get("credits")):
        counts = say("yes" if credit.get("counts") else "no", lang)
        if not credit.get("counts"):
            counts = say("because", lang, answer=counts, why=said_in(credit.get("reason"), lang))
        credits.append(
            [
                w.para(credit.get("completedOn", "")),
                w.para(text.region(credit.get("issuer", ""), lang)),
                w.para(text.ce_kind(credit.get("kind", ""), lang)),
                w.para(text.hours(credit.get("hours", "")), align=2),
                w.para(counts),
            ]
        )
    if credits:
        header = ("completed", "issuer", "kind", "hours", "credit-counts")
        found += [Spacer(0, 2 * mm), w.grid(header, credits, (24, 30, 22, 14, 84))]
    return found


def _continuing_education(w: Writer, subject: Mapping[str, Any]) -> list[Flowable]:
    ce = mapping(subject.get("continuingEducation"))
    if not ce:
        return []
    found: list[Flowable] = [w.heading("ce")]
    if "period" in ce:
        found += _term(w, "ce-term", ce)
    previous = mapping(ce.get("previousPeriod"))
    if previous:
        found += _term(w, "ce-previous", previous)
    return found


def _listings(w: Writer, subject: Mapping[str, Any]) -> list[Flowable]:
    lang = w.lang
    listings = mappings(subject.get("listings"))
    found: list[Flowable] = [w.heading("listings")]
    if not listings:
        return [*found, w.say("no-listings")]
    for n, listing in enumerate(listings, start=1):
        measures = [str(m) for m in listing.get("measures", ())]
        coded = [text.measure(code, lang) for code in listing.get("measureCodes", ())]
        rows: list[tuple[str, object]] = [
            ("listed-by", text.region(listing.get("issuer", ""), lang)),
            ("role", text.role(listing.get("role", ""), lang)),
            ("listing-decision", listing.get("listingDecisionNumber", "")),
            ("penalty-decision", listing.get("penaltyDecisionNumber", "")),
            ("listed-on", listing.get("listedOn", "")),
            ("earliest-removal", listing.get("earliestRemovalOn", "")),
            ("expires", listing.get("expiresOn", "")),
            ("measures", say("list", lang).join(measures)),
            ("measure-codes", say("list", lang).join(coded)),
            ("restricts", say("yes" if listing.get("restrictsPractice") else "no", lang)),
            ("state", text.state(listing.get("state", ""), lang)),
            ("legal-basis", listing.get("legalBasis", "")),
            ("explanation", said_in(listing.get("reason"), lang)),
        ]
        found += [w.caption("listing", n=n), w.pairs(rows)]
    return found


def _logs(w: Writer, subject: Mapping[str, Any]) -> list[Flowable]:
    lang = w.lang
    rows = []
    for log in mappings(subject.get("logs")):
        witnessed = ""
        if "cosignatures" in log:
            witnessed = say(
                "cosigned", lang, n=log["cosignatures"], required=log.get("cosignaturesRequired")
            )
        confirmed = text.moment(log["confirmedAt"], lang) if log.get("confirmedAt") else ""
        if log.get("current") is False:
            confirmed += say("stale", lang)
        rows.append(
            [
                w.para(text.region(log.get("authority", ""), lang)),
                w.para(log.get("treeSize", ""), align=2),
                w.para(str(log.get("rootHash", ""))[:12]),
                w.para(witnessed),
                w.para(confirmed),
            ]
        )
    found: list[Flowable] = [w.heading("logs")]
    if rows:
        header = ("log", "tree-size", "root", "witnessed", "confirmed")
        found.append(w.grid(header, rows, (34, 18, 30, 38, 54)))
    evidence = mapping(subject.get("evidence"))
    found += [
        Spacer(0, 1.5 * mm),
        w.label(
            "evidence",
            checkpoints=len(mappings(evidence.get("checkpoints"))),
            credentials=len(mappings(evidence.get("credentials"))),
        ),
    ]
    return found


def _about(w: Writer, report: Mapping[str, Any]) -> list[Flowable]:
    lang = w.lang
    try:
        issuer = text.region(authority_of(report.get("issuer")), lang)
    except RegistryError:
        issuer = str(report.get("issuer", ""))
    created = report.get("validFrom") or mapping(report.get("proof")).get("created", "")
    rows: list[tuple[str, object]] = [
        ("report-id", report.get("id", "")),
        ("report-issuer", issuer),
        ("report-time", f"{text.moment(created, lang)} · {created}"),
    ]
    return [w.heading("about"), w.pairs(rows), Spacer(0, 2 * mm), w.label("authoritative")]


def sections(w: Writer, report: Mapping[str, Any]) -> list[Flowable]:
    """Every section of ``report`` (a ``VerificationReport``) after its header."""
    subject = mapping(report.get("credentialSubject"))
    return [
        *_person(w, subject),
        *_reasons(w, subject),
        *_records(w, subject),
        *_continuing_education(w, subject),
        *_listings(w, subject),
        *_logs(w, subject),
        *_about(w, report),
    ]
