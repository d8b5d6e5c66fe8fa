"""What a checked file says, for the employer reading it: the lines printed first.

A ``VerificationReport`` is summed up as its verdict, the person (name and masked ID
number, never the number), the region and the day; a credential (or a proof bundle's)
as whose it is, what it is, who issued it and when it holds. Chinese or English.
The summary states what the file claims; whether the claims hold is the checks' part.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from registry.credentials import CredentialType, authority_of, credential_type
from registry.errors import RegistryError
from registry.ids import province

__all__ = ["Language", "phrase", "summary_lines"]

Language = Literal["zh", "en"]

_TYPES: dict[str, tuple[str, str]] = {
    CredentialType.QUALIFICATION: (
        "初级注册安全工程师资格",
        "junior safety-engineer qualification",
    ),
    CredentialType.REGISTRATION: ("注册安全工程师注册", "safety-engineer registration"),
    CredentialType.CE_CREDIT: ("继续教育学时", "continuing-education credit"),
    CredentialType.LISTING: ("安全生产严重失信主体名单", "untrustworthiness listing"),
    CredentialType.STATUS_CHANGE: ("状态变更", "status change"),
    CredentialType.STATUS_LIST: ("状态列表", "status list"),
    CredentialType.RECOGNITION_AGREEMENT: ("互认协议", "recognition agreement"),
    CredentialType.TRUST_LIST: ("信任列表", "trust list"),
    CredentialType.VERIFICATION_REPORT: ("核验报告", "verification report"),
}

_LABELS: dict[str, tuple[str, str]] = {
    "verdict": ("结论", "Verdict"),
    "person": ("人员", "Person"),
    "region": ("执业地区", "Region"),
    "day": ("核验日期", "Day"),
    "why": ("原因", "Why"),
    "note": ("另请注意", "Also"),
    "whose": ("持有人", "Whose"),
    "what": ("内容", "What"),
    "issuer": ("签发机关", "Issued by"),
    "from": ("有效期自", "Valid from"),
    "until": ("有效期至", "Valid until"),
    "open": ("长期", "open-ended"),
    "unknown": ("（未载明）", "(not stated)"),
}

_VERDICTS: dict[str, tuple[str, str]] = {
    "qualified": ("合格", "qualified"),
    "not-qualified": ("不合格", "not qualified"),
    "not-found": ("未查到", "no record found"),
}


_PHRASES: dict[str, tuple[str, str]] = {
    "unverified": (
        "以下为文件所述内容，尚未通过核验，请看下方各项检查",
        "what the file says; it does NOT verify: see the checks below",
    ),
    "checks": ("检查", "Checks"),
    "holds": ("核验通过：各项检查均成立", "verifies: every check holds"),
    "fails": ("核验不通过", "does not verify"),
    "unpinned": (
        "核验通过，但创世信任列表未固定（取自文件本身，未经核对）",
        "every check holds, but the genesis was NOT pinned: taken from the file itself, unchecked",
    ),
}


def phrase(key: str, lang: Language) -> str:
    """One of `registry verify`'s own lines in ``lang``."""
    zh, en = _PHRASES[key]
    return zh if lang == "zh" else en


def _say(key: str, lang: Language) -> str:
    zh, en = _LABELS[key]
    return zh if lang == "zh" else en


def _pick(pair: tuple[str, str], lang: Language) -> str:
    return pair[0] if lang == "zh" else pair[1]


def _region(code: object, lang: Language) -> str:
    try:
        found = province(str(code))
    except RegistryError:
        return str(code)
    return f"{found.name_zh if lang == 'zh' else found.name_en} ({found.iso})"


def _person(value: object) -> str | None:
    if not isinstance(value, Mapping):
        return None
    name = str(value.get("name", "")).strip()
    identifier = value.get("identifier")
    masked = (
        value.get("residentIdMasked")
        or (identifier.get("masked") if isinstance(identifier, Mapping) else None)
        or value.get("creditCode")
    )
    return " ".join(part for part in (name, str(masked or "")) if part) or None


def _report(subject: Mapping[str, Any], lang: Language) -> list[tuple[str, str]]:
    query = subject.get("query") if isinstance(subject.get("query"), Mapping) else {}
    assert isinstance(query, Mapping)  # noqa: S101 - narrowed above, for mypy
    verdict = str(subject.get("verdict", ""))
    reasons = [r for r in subject.get("reasons", ()) if isinstance(r, Mapping)]
    if verdict == "not-qualified" and any(r.get("code") == "no-records" for r in reasons):
        verdict = "not-found"
    label = _pick(_VERDICTS.get(verdict, (verdict, verdict)), lang)
    text = subject.get("verdictText")
    if isinstance(text, Mapping) and text.get(lang):
        label = f"{label}: {text[lang]}" if lang == "en" else f"{label}：{text[lang]}"
    person = _person(subject.get("holder")) or " ".join(
        str(query[k]) for k in ("name", "registrationNumber", "residentIdMasked") if query.get(k)
    )
    lines = [
        (_say("verdict", lang), label),
        (_say("person", lang), person or _say("unknown", lang)),
        (_say("region", lang), _region(query.get("region", ""), lang)),
        (_say("day", lang), str(query.get("date", ""))),
    ]
    # What decided against, then what is reported beside the verdict without deciding
    # it (a listing whose measures do not restrict practice, hours short of a rule).
    blocking = [r for r in reasons if r.get("holds") is False and r.get("decides", True)]
    noted = [r for r in reasons if r.get("holds") is False and r.get("decides") is False]
    lines.extend((_say("why", lang), str(r.get(lang, r.get("code", "")))) for r in blocking)
    lines.extend((_say("note", lang), str(r.get(lang, r.get("code", "")))) for r in noted)
    return lines


def _whose(subject: Mapping[str, Any]) -> str | None:
    for key in ("holder", "listed"):
        person = _person(subject.get(key))
        if person:
            return person
    return None


def _what(kind: str, subject: Mapping[str, Any], lang: Language) -> str:
    label = _pick(_TYPES.get(kind, (kind, kind)), lang)
    details = [
        str(subject[key])
        for key in ("certificateNumber", "registrationNumber", "category")
        if subject.get(key)
    ]
    course = subject.get("course")
    if isinstance(course, Mapping) and course.get("title"):
        details.append(str(course["title"]))
    if subject.get("hours") is not None:
        details.append(f"{subject['hours']} {'学时' if lang == 'zh' else 'hours'}")
    return f"{label} ({', '.join(details)})" if details else label


def _credential(document: Mapping[str, Any], lang: Language) -> list[tuple[str, str]]:
    try:
        kind = credential_type(document)
    except RegistryError:
        kind = None
    subject = document.get("credentialSubject")
    subject = subject if isinstance(subject, Mapping) else {}
    try:
        issuer = _region(authority_of(document.get("issuer")), lang)
    except RegistryError:
        issuer = str(document.get("issuer", _say("unknown", lang)))
    return [
        (_say("whose", lang), _whose(subject) or _say("unknown", lang)),
        (_say("what", lang), _what(str(kind or ""), subject, lang)),
        (_say("issuer", lang), issuer),
        (_say("from", lang), str(document.get("validFrom") or _say("unknown", lang))),
        (_say("until", lang), str(document.get("validUntil") or _say("open", lang))),
    ]


def summary_lines(document: object, lang: Language) -> list[tuple[str, str]]:
    """(label, value) lines summing ``document`` up in ``lang``; none for what is
    neither a credential nor a proof bundle."""
    if not isinstance(document, Mapping):
        return []
    if isinstance(document.get("credential"), Mapping) and "checkpoint" in document:
        document = document["credential"]
        assert isinstance(document, Mapping)  # noqa: S101 - checked above, for mypy
    subject = document.get("credentialSubject")
    if not isinstance(subject, Mapping):
        return []
    types = document.get("type")
    if isinstance(types, list) and CredentialType.VERIFICATION_REPORT in types:
        return _report(subject, lang)
    return _credential(document, lang)
