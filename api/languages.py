"""The language of an answer: Chinese or English, by the request's ``Accept-Language``.

The JSON API answers in English unless ``Accept-Language`` prefers Chinese (any
``zh`` tag weighted above every ``en`` tag); tables (CSV and XLSX) answer in Chinese
unless it prefers English. A language tag other than these two is ignored.
"""

from __future__ import annotations

from typing import Literal

from starlette.requests import HTTPConnection

__all__ = ["Language", "preferred_language"]

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
