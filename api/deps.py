"""Request dependencies: the database session, a read snapshot, and the node's services
that ``create_app`` builds once.

Each service is one typed dependency (``NodeSettings``, ``Issuing``, ``Verifier``), so
no route reads ``app.state`` itself. They are ``async``: FastAPI runs a plain
function dependency on a worker thread, and the hop costs more than the lookup.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlmodel import Session

from api.recorder import AccessRecorder
from registry.enforcement.addresses import AddressPolicy
from registry.errors import FieldError, InvalidInput
from registry.issuing import IssuingContext
from registry.issuing.grouping import SingleIssues
from registry.settings import Settings
from registry.storage.db import begin_snapshot, session_scope
from registry.storage.replica import Reads
from registry.verification import EngineerVerifier

__all__ = [
    "DbSession",
    "Issuing",
    "NodeSettings",
    "ReadOnly",
    "Recorder",
    "Snapshot",
    "Verifier",
    "WebhookPolicy",
    "WritingSnapshot",
    "engine_of",
    "get_session",
    "loop_engine_of",
    "loop_reads_of",
    "only_query",
    "reads_of",
    "replica_reads_of",
]

_T = TypeVar("_T")


def _state(request: Request, name: str, kind: type[_T]) -> _T:
    value = getattr(request.app.state, name, None)
    if not isinstance(value, kind):
        raise TypeError(f"app.state.{name} is not set: build the app with create_app")
    return value


def engine_of(request: Request) -> Engine:
    """The engine ``create_app`` built for this application."""
    return _state(request, "engine", Engine)


def loop_engine_of(request: Request) -> Engine:
    """The engine for reads made on the event loop's own thread (see ``create_app``)."""
    return _state(request, "loop_engine", Engine)


def reads_of(request: Request) -> Reads:
    """Where read-only work reads: the replica if the node has one, else the primary
    (``registry.storage.replica``)."""
    return _state(request, "reads", Reads)


def loop_reads_of(request: Request) -> Reads:
    """``reads_of`` for reads made on the event loop's own thread (``loop_engine_of``)."""
    return _state(request, "loop_reads", Reads)


def replica_reads_of(request: Request) -> Reads | None:
    """``reads_of`` if the node has a replica, else ``None``: work that reads and
    writes in one transaction on a node without one keeps doing so."""
    reads = reads_of(request)
    return reads if reads.replica is not None else None


async def _reads(request: Request) -> Reads:
    return reads_of(request)


async def _settings(request: Request) -> Settings:
    return _state(request, "settings", Settings)


async def _issuing(request: Request) -> IssuingContext:
    return _state(request, "issuing", IssuingContext)


async def _singles(request: Request) -> SingleIssues:
    return _state(request, "singles", SingleIssues)


async def _recorder(request: Request) -> AccessRecorder:
    return _state(request, "recorder", AccessRecorder)


async def _verifier(request: Request) -> EngineerVerifier:
    return _state(request, "verifier", EngineerVerifier)


async def _webhook_policy(request: Request) -> AddressPolicy:
    return _state(request, "webhook_policy", AddressPolicy)


NodeSettings = Annotated[Settings, Depends(_settings)]
"""The settings the node was started with."""

Issuing = Annotated[IssuingContext, Depends(_issuing)]
"""The node's signing keys, lookup secret, log origin prefix and URL."""

Singles = Annotated[SingleIssues, Depends(_singles)]
"""The process's single issuances, issued together while their log is busy
(``registry.issuing.grouping``)."""

Recorder = Annotated[AccessRecorder, Depends(_recorder)]
"""The process's access-audit writer (``api.recorder``)."""

Verifier = Annotated[EngineerVerifier, Depends(_verifier)]
"""The node's verifier, with its report key and its caches."""

WebhookPolicy = Annotated[AddressPolicy, Depends(_webhook_policy)]
"""Which addresses the node's webhooks may go to."""

ReadOnly = Annotated[Reads, Depends(_reads)]
"""Where the route's read-only work reads (``reads_of``): give it the request's own
session for a node without a replica (``Reads.read``)."""


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed once the route returns and before the answer
    is sent (so a client never hears of a write that did not commit), rolled back if
    the route raises."""
    with session_scope(engine_of(request)) as session:
        yield session


DbSession = Annotated[Session, Depends(get_session, scope="function")]
"""The request's session."""


def _snapshot(*, writes: bool) -> Callable[[Session], Session]:
    def dependency(session: DbSession) -> Session:
        # On a worker thread: taking a connection may wait for the pool. Should the
        # session have read already, its transaction ends here: the snapshot begins
        # after.
        if session.in_transaction():
            session.commit()
        begin_snapshot(session, writes=writes)
        return session

    return dependency


Snapshot = Annotated[Session, Depends(_snapshot(writes=False))]
"""The request's session, reading from one snapshot from here on (``begin_snapshot``):
records, log heads and proofs agree with each other. For routes that only read."""

WritingSnapshot = Annotated[Session, Depends(_snapshot(writes=True))]
"""``Snapshot`` for a route that also writes (an access-audit entry beside its
answer): what it writes commits with what it read, before the answer is sent, and
never fails because another request wrote in between (``begin_snapshot``'s
``writes``)."""


def only_query(*known: str) -> Any:
    """A dependency refusing a query parameter the operation does not take (422): a
    typo (`limt=10`) would otherwise silently answer the default page."""

    def check(request: Request) -> None:
        unknown = sorted(set(request.query_params) - set(known))
        if unknown:
            raise InvalidInput(
                "unknown query parameter(s)",
                errors=tuple(
                    FieldError(name, "is not a parameter of this operation") for name in unknown
                ),
            )

    return Depends(check)
