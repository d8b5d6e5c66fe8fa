"""The language of an answer: Chinese or English, by the request's ``Accept-Language``.

The JSON API answers in English unless ``Accept-Language`` prefers Chinese (any
``zh`` tag weighted above every ``en`` tag); a request that sends a file (a CSV or
XLSX table) and the tables answered are in Chinese unless it prefers English. A
language tag other than these two is ignored.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import HTTPConnection

__all__ = ["Language", "answer_language", "chinese_by_default", "preferred_language"]

Language = Literal["zh", "en"]


def _weights(header: str) -> dict[Language, float]:
    weights: dict[Language, float] = {}
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("zh", "en"):
            continue
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language: Language = "zh" if primary == "zh" else "en"
        weights[language] = max(weights.get(language, 0.0), weight)
    return weights


def preferred_language(request: HTTPConnection, default: Language = "en") -> Language:
    """The language ``request`` prefers of Chinese and English; ``default`` when it
    names neither or weighs them the same."""
    weights = _weights(request.headers.get("accept-language", "")[:1000])
    zh, en = weights.get("zh", 0.0), weights.get("en", 0.0)
    if zh > en:
        return "zh"
    if en > zh:
        return "en"
    return default


_DEFAULT = "registry.language_default"  # in the request's scope


def chinese_by_default(request: HTTPConnection) -> None:
    """Mark ``request`` as one answered in Chinese unless it prefers English: it sent
    a file, as people do, rather than JSON, as programs do."""
    request.scope[_DEFAULT] = "zh"


def answer_language(request: HTTPConnection) -> Language:
    """The language of ``request``'s answers, problems included."""
    default: Language = "zh" if request.scope.get(_DEFAULT) == "zh" else "en"
    return preferred_language(request, default)
