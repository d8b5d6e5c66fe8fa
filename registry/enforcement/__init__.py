"""Enforcement: the untrustworthiness list across the federation, as inspectors use it."""

from registry.enforcement.timeline import (
    TERMS,
    ListingStatus,
    listing_status,
    listing_terms,
    status_on,
)

__all__ = ["TERMS", "ListingStatus", "listing_status", "listing_terms", "status_on"]
