"""Enforcement: the untrustworthiness list across the federation, as inspectors use it."""

from registry.enforcement.timeline import ListingStatus, listing_status

__all__ = ["ListingStatus", "listing_status"]
