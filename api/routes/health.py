"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import engine_of
from api.errors import problem_responses
from api.limits import GatedRoute
from api.schemas.federation import Liveness, Readiness
from registry.errors import DatabaseNotReady
from registry.storage.db import schema_status

__all__ = ["router"]

router = APIRouter(tags=["health"], route_class=GatedRoute)


@router.get("/healthz", summary="The process is up")
def healthz() -> Liveness:
    """Always 200 while the process serves requests; it does not touch the database."""
    return Liveness(status="ok")


@router.get(
    "/readyz",
    summary="The database is reachable and migrated to head",
    response_model=Readiness,
    responses=problem_responses(503),
)
def readyz(request: Request) -> Readiness:
    """200 when the database answers and its schema is at the latest migration, else 503."""
    engine = engine_of(request)
    status = schema_status(engine)
    if not status.at_head:
        raise DatabaseNotReady(
            f"schema at {list(status.current) or 'no revision'}, expected {list(status.head)}: "
            "run `registry db upgrade`"
        )
    return Readiness(
        status="ready",
        database=engine.dialect.name,
        revision=list(status.current),
        head=list(status.head),
    )
