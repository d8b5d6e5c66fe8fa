"""The authority's console: finding its records, opening one, acting on it (suspend, lift,
revoke, correct, scheduled or today) and issuing one record from a form."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
