"""The authority's console: importing a spreadsheet (checked, confirmed, watched), and the
imports' history with their receipts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
