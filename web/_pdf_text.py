"""What a verification report's PDF says, in Chinese and in English: one table of its
labels, and the values of a report (verdicts, regions, states, hours, times) put into
words. Only what the report states is said: it carries masked ID numbers, never
whole ones, and so does the PDF."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from registry.calendar import CHINA
from registry.errors import InvalidInput, RegistryError
from registry.ids import province
from registry.labels import CATEGORY, CE_KIND, MEASURE, RELATED_ROLE, STATE, Enumeration
from registry.verification.batch import verdict_label
from web.i18n import N_, translate

__all__ = [
    "Language",
    "category",
    "ce_kind",
    "hours",
    "language_of",
    "measure",
    "moment",
    "region",
    "role",
    "say",
    "state",
    "verdict_kind",
    "verdict_label",
]

Language = Literal["zh", "en"]

_TEXT: dict[str, str] = {
    "title": N_("Engineer verification report"),
    "subtitle": N_("Junior registered safety engineer · Yangtze River Delta registry"),
    "verdict": N_("Verdict"),
    "person": N_("Person verified"),
    "name": N_("Name"),
    "masked": N_("Resident ID (masked)"),
    "asked-by": N_("Asked by"),
    "by-resident-id": N_("resident ID number"),
    "by-registration-number": N_("registration number and name"),
    "region": N_("Region of work"),
    "date": N_("Day judged"),
    "category": N_("Category"),
    "employer": N_("Employer asked about (credit code)"),
    "reasons": N_("Reasons"),
    "met": N_("met"),
    "not-met": N_("not met"),
    "note": N_("note"),
    "info": N_("info"),
    "reasons-key": N_(
        "“met” and “not met” decide the verdict; “note” and “info” are stated beside it."
    ),
    "records": N_("Records relied on"),
    "record": N_("Record"),
    "issuer": N_("Issuing authority"),
    "number": N_("Number"),
    "valid": N_("Valid"),
    "state": N_("State"),
    "counts": N_("Counts"),
    "qualification": N_("Qualification"),
    "registration": N_("Registration"),
    "other-registration": N_("Other registration"),
    "lifelong": N_("from {day}, lifelong"),
    "from-until": N_("{start} to {end}"),
    "from-open": N_("from {start}"),
    "yes": N_("yes"),
    "no": N_("no"),
    "by-agreement": N_("yes (under an agreement)"),
    "no-records": N_("The registry holds no record of this person."),
    "agreements": N_("Recognition agreements relied on"),
    "agreement": N_("{title} ({number}), between {parties}"),
    "ce": N_("Continuing education"),
    "ce-term": N_("This registration term"),
    "ce-previous": N_("The previous term"),
    "period": N_("Period"),
    "rule": N_("Rule"),
    "official": N_("{authority}'s official rule (v{version})"),
    "provisional": N_("{authority} has no official rule: hours are reported only (v{version})"),
    "counted": N_("Hours counted"),
    "counted-hours": N_("{total} hours ({general} general, {professional} professional)"),
    "required": N_("Hours required"),
    "required-hours": N_(
        "at least {hours} hours, {professional} of them professional, {year} a year"
    ),
    "ce-met": N_("Requirement met"),
    "credits": N_("Credits"),
    "completed": N_("Completed"),
    "kind": N_("Kind"),
    "hours": N_("Hours"),
    "credit-counts": N_("Counted"),
    "listings": N_("Untrustworthiness listings"),
    "no-listings": N_("No listing in force on the day names this person."),
    "listing": N_("Listing {n}"),
    "listed-by": N_("Listed by"),
    "listing-decision": N_("Listing decision document"),
    "penalty-decision": N_("Penalty decision"),
    "role": N_("Named as"),
    "listed-party": N_("the listed party"),
    "listed-on": N_("Listed on"),
    "earliest-removal": N_("Earliest removal"),
    "expires": N_("Expires on"),
    "measures": N_("Measures"),
    "measure-codes": N_("Measures by code"),
    "restricts": N_("Restricts practice"),
    "legal-basis": N_("Legal basis"),
    "explanation": N_("Explanation"),
    "logs": N_("Logs checked against"),
    "log": N_("Log"),
    "tree-size": N_("Tree size"),
    "root": N_("Root hash (first 12)"),
    "witnessed": N_("Witnessed"),
    "confirmed": N_("Confirmed with origin"),
    "cosigned": N_("{n} cosignatures ({required} required)"),
    "stale": N_("(stale)"),
    "evidence": N_(
        "The report carries {checkpoints} signed checkpoints and inclusion proofs for "
        "{credentials} credentials."
    ),
    "about": N_("About this report"),
    "report-id": N_("Report id"),
    "report-issuer": N_("Report issued by"),
    "report-time": N_("Issued at"),
    "key": N_("Signing key"),
    "authoritative": N_(
        "This is a print of a signed verification report; the signed report is what counts. "
        "Scan the QR code to open the report's page, which checks its signature, or check the "
        "signed file offline with registry verify."
    ),
    "scan": N_("Scan to verify"),
    "page": N_("Page {n}"),
    "beijing": N_("{time} (Beijing time)"),
    "list": N_("; "),
    "because": N_("{answer}: {why}"),
    "parties": N_(", "),
}


def language_of(language: str) -> Language:
    """``language`` as one of the two the report is written in; raises ``InvalidInput``
    for any other."""
    if language == "zh":
        return "zh"
    if language == "en":
        return "en"
    raise InvalidInput("a report is printed in zh or en")


def say(key: str, lang: Language, **values: object) -> str:
    """The label ``key`` in ``lang``, its ``{placeholders}`` filled from ``values``."""
    text = translate(lang, _TEXT[key])
    return text.format(**values) if values else text


def verdict_kind(subject: Mapping[str, Any]) -> str:
    """What the verdict means for the person asked about: ``qualified``,
    ``not-qualified``, or (when nothing was found) ``not-found`` or ``name-mismatch``."""
    codes = {r.get("code") for r in subject.get("reasons", ()) if isinstance(r, Mapping)}
    if subject.get("verdict") == "qualified":
        return "qualified"
    if "name-mismatch" in codes:
        return "name-mismatch"
    if "no-records" in codes:
        return "not-found"
    return "not-qualified"


def region(code: object, lang: Language, *, coded: bool = True) -> str:
    """A province by name, with its code unless ``coded`` is false (``浙江省 (CN-ZJ)``);
    an unknown code as given."""
    try:
        found = province(str(code))
    except RegistryError:
        return str(code)
    name = found.name_zh if lang == "zh" else found.name_en
    return f"{name} ({found.iso})" if coded else name


def _label(table: Enumeration, code: object, lang: Language) -> str:
    text = str(code)
    if lang == "en":
        return text
    try:
        return table.label(text)
    except KeyError:
        return text


def category(code: object, lang: Language) -> str:
    """A category's Chinese label (``化工安全``), or its code in English."""
    return _label(CATEGORY, code, lang)


def ce_kind(code: object, lang: Language) -> str:
    """A kind of hours: ``公需`` or ``专业``; ``general`` or ``professional``."""
    return _label(CE_KIND, code, lang)


def state(code: object, lang: Language) -> str:
    """Where a record stands: ``有效``, ``暂停执业``...; the code in English."""
    return _label(STATE, code, lang)


def role(code: object, lang: Language) -> str:
    """Whom a listing names the person as."""
    if code == "listed":
        return say("listed-party", lang)
    return _label(RELATED_ROLE, code, lang)


def measure(code: object, lang: Language) -> str:
    """A listing's coded measure."""
    return _label(MEASURE, code, lang)


def hours(value: object) -> str:
    """Hours as the report states them (``44.5``, ``12``)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def moment(stamp: object, lang: Language) -> str:
    """A report's UTC timestamp in Beijing time, to the second; as given if it is not
    a timestamp."""
    try:
        parsed = datetime.fromisoformat(str(stamp))
    except ValueError:
        return str(stamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    local = parsed.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")
    return say("beijing", lang, time=local)
