"""Verifying many people at once: one verdict per row, or that row's error.

Rows by ID number are looked up together (three queries per 1,000 people); the
agreements and rules are read once for the whole batch. No report is signed: a
batch answers with verdicts and reasons, and a signed report on any one person is
one request to ``/v1/verify/engineer`` away.
"""

from __future__ import annotations

from typing import Any

from registry.verification.dossier import Dossier
from registry.verification.judge import Judgement
from registry.verification.report import reason_of

__all__ = ["MAX_BATCH", "verdict_row"]

MAX_BATCH = 10_000
"""The most people one batch verifies."""


def verdict_row(result: tuple[Dossier, Judgement]) -> dict[str, Any]:
    """One row's answer: the verdict, who, and every reason."""
    dossier, judgement = result
    row: dict[str, Any] = {
        "verdict": "qualified" if judgement.qualified else "not-qualified",
        "region": judgement.region,
        "date": judgement.on.isoformat(),
    }
    if dossier.records:
        row["name"] = dossier.name
        row["residentIdMasked"] = dossier.masked
    row["reasons"] = [reason_of(reason, holds) for holds, reason in judgement.reasons]
    return row
