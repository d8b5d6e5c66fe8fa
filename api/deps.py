"""Request dependencies: the database session and the node's services."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from registry.storage.db import session_scope

__all__ = ["DbSession", "engine_of", "get_session", "loop_engine_of"]


def engine_of(request: Request) -> Engine:
    """The engine ``create_app`` built for this application."""
    engine = request.app.state.engine
    if not isinstance(engine, Engine):
        raise TypeError("app.state.engine is not set: build the app with create_app")
    return engine


def loop_engine_of(request: Request) -> Engine:
    """The engine for reads made on the event loop's own thread (see ``create_app``)."""
    engine = request.app.state.loop_engine
    if not isinstance(engine, Engine):
        raise TypeError("app.state.loop_engine is not set: build the app with create_app")
    return engine


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed if the route returns and rolled back if it raises."""
    with session_scope(engine_of(request)) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]
