"""The authority's console: its listings and the days that matter, recognition agreements
and the trust list (signing from the page), and the federation's state."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
