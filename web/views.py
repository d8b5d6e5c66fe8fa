"""What the desk's pages show of a verification: a verdict's colour, a report's parts,
a list's results in the order people read them (failures first), and the QR code of a
page's own address."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import segno

from registry.ids import PROVINCES
from registry.messages import Language, translate
from registry.verification.batch import BATCH_COLUMNS
from registry.verification.history import report_verdict

__all__ = [
    "COLUMN_NAMES",
    "Region",
    "ordered_results",
    "qr_svg",
    "regions",
    "report_view",
    "row_tone",
    "said",
]

COLUMN_NAMES = {column: aliases[0] for column, aliases in BATCH_COLUMNS.items()}
"""Each column of a list as its Chinese header names it."""

_TONES = {
    "qualified": "good",
    "attention": "warn",
    "not-qualified": "bad",
    "not-found": "bad",
}


Region = tuple[str, str, str]
"""A region to choose: its ISO 3166-2 code, its Chinese and its English name."""


def regions(codes: Iterable[str]) -> list[Region]:
    """The regions of ``codes``, in the order of the national table."""
    wanted = set(codes)
    return [(p.iso, p.name_zh, p.name_en) for p in PROVINCES if p.iso in wanted]


def _tone(verdict: str) -> str:
    return _TONES.get(verdict, "bad")


def report_view(report: Mapping[str, Any]) -> dict[str, Any]:
    """A signed report's parts as the report page shows them."""
    subject = report["credentialSubject"]
    verdict = report_verdict(report)
    reasons = subject.get("reasons", [])
    return {
        "id": report.get("id"),
        "issuer": report.get("issuer", "").rsplit(":", 1)[-1],
        "created": report.get("validFrom"),
        "verdict": verdict,
        "tone": _tone(verdict),
        "verdict_text": subject.get("verdictText", {}),
        "query": subject.get("query", {}),
        "holder": subject.get("holder"),
        "deciding": [r for r in reasons if r.get("decides", True)],
        "informing": [r for r in reasons if not r.get("decides", True)],
        "qualification": subject.get("qualification"),
        "registration": subject.get("registration"),
        "other_registrations": subject.get("otherRegistrations", []),
        "ce": subject.get("continuingEducation"),
        "listings": subject.get("listings", []),
        "agreements": subject.get("agreements", []),
        "logs": subject.get("logs", []),
    }


def row_tone(result: Mapping[str, Any]) -> str:
    """The colour of a list's row: bad for an error, not qualified or not found, warn
    for qualified with a reason beside it that does not hold, good otherwise."""
    if "error" in result or result.get("verdict") != "qualified" or not result.get("found"):
        return "bad"
    if any(r.get("holds") is False for r in result.get("reasons", [])):
        return "warn"
    return "good"


_ORDER = {"bad": 0, "warn": 1, "good": 2}


def ordered_results(results: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A list's results, failures first, then those to look at, then the qualified;
    in the file's order within each."""
    return sorted(results, key=lambda r: (_ORDER[row_tone(r)], r["row"]))


def said(results: Sequence[Mapping[str, Any]], lang: Language) -> list[dict[str, Any]]:
    """A list's results with their errors in ``lang`` (each kept in English)."""
    out = []
    for result in results:
        row = dict(result)
        if "error" in row:
            row["error"] = translate(row["error"], lang, fields=COLUMN_NAMES)
        out.append(row)
    return out


def qr_svg(url: str) -> str:
    """The QR code of ``url`` as an inline SVG element (error correction M)."""
    code = segno.make(url, error="m", micro=False)
    svg: str = code.svg_inline(scale=3, border=2, omitsize=True)
    return svg
