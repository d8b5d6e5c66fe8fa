"""Verifying an engineer: what the registry holds on them, whether they may work in a
region on a day and why, and the signed report that proves it offline."""

from registry.verification.dossier import Dossier, Held, find_dossier
from registry.verification.judge import Finding, Judgement, judge
from registry.verification.service import (
    EngineerQuery,
    EngineerVerifier,
    Verified,
    access_criteria,
)

__all__ = [
    "Dossier",
    "EngineerQuery",
    "EngineerVerifier",
    "Finding",
    "Held",
    "Judgement",
    "Verified",
    "access_criteria",
    "find_dossier",
    "judge",
]
