"""The inspector's desk: the untrustworthiness list searched across the federation, a
listing's file, a list of companies checked, and companies followed with their recent
changes."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
