"""A listing's coded measures (``measureCodes``), read as the enforcement answers and
the verifier use them.

A listing states its measures in full (``measures``) and, when the deciding office
coded them, as ``registry.labels.MEASURE`` codes. A listing issued before codes
existed, or without them, carries no ``measureCodes``: it is read as none coded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.labels import MEASURE

__all__ = ["RESTRICT_PRACTICE", "measure_codes", "measure_labels", "restricts_practice"]

RESTRICT_PRACTICE = "restrict-practice"
"""依法限制或禁止从事相关职业（执业）: the measure that bars the listed from practice."""


def measure_codes(subject: Mapping[str, Any]) -> list[str]:
    """The codes a listing's ``credentialSubject`` states, in its order (none: ``[]``)."""
    codes = subject.get("measureCodes", [])
    return [code for code in codes if isinstance(code, str)] if isinstance(codes, list) else []


def measure_labels(subject: Mapping[str, Any]) -> list[str]:
    """The Chinese label of each coded measure; a code this node does not know is
    shown as written."""
    return [MEASURE.labels.get(code, code) for code in measure_codes(subject)]


def restricts_practice(subject: Mapping[str, Any]) -> bool:
    """Whether the listing restricts or bars the listed from practice: its
    ``measureCodes`` hold ``restrict-practice``."""
    return RESTRICT_PRACTICE in measure_codes(subject)
