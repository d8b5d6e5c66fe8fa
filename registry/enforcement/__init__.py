"""Enforcement: the untrustworthiness list across the federation, as inspectors use it."""

from registry.enforcement.measures import (
    RESTRICT_PRACTICE,
    measure_codes,
    measure_labels,
    restricts_practice,
)
from registry.enforcement.timeline import (
    TERMS,
    ListingStatus,
    listing_status,
    listing_terms,
    status_on,
)

__all__ = [
    "RESTRICT_PRACTICE",
    "TERMS",
    "ListingStatus",
    "listing_status",
    "listing_terms",
    "measure_codes",
    "measure_labels",
    "restricts_practice",
    "status_on",
]
