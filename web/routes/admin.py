"""Administration: users, API tokens, the access audit and the node's health."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
