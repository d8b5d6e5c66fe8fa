"""The application factory: everything is built here, nothing at import time."""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.limits import BodyGate
from api.metrics import RequestMetrics
from api.metrics import router as metrics_router
from api.observe import Observed
from api.openapi import exact_openapi
from api.rates import RateLimits
from api.recorder import AccessRecorder
from api.routes import (
    audit,
    authorities,
    blacklist,
    changes,
    credentials,
    federation,
    health,
    logs,
    recognition,
    records,
    status_lists,
    subscriptions,
    trust,
    verify,
    witness,
)
from registry.ce import load_policies
from registry.enforcement.addresses import AddressPolicy
from registry.issuing import IssuingContext
from registry.issuing.grouping import SingleIssues
from registry.settings import Settings
from registry.storage.db import make_engine
from registry.storage.replica import Reads, ReplicaState
from registry.verification import EngineerVerifier
from web.app import install_pages

__all__ = ["app_from_environment", "create_app"]

_DESCRIPTION = """\
Signed records of junior registered safety engineers and production-safety
untrustworthiness listings, issued by the emergency-management authorities of the
Yangtze River Delta. Every record is a W3C Verifiable Credential signed with
Ed25519 (`eddsa-jcs-2022`). Errors are RFC 9457 `application/problem+json`.

Languages: problem details (`title`, `detail` and each field error's `message`) come
in Chinese or English by `Accept-Language`. A request that sends JSON is answered in
English unless `Accept-Language` prefers Chinese (a `zh` tag weighted above every
`en` tag); one that sends a file (CSV or XLSX, raw or as a form upload) is answered in
Chinese unless it prefers English. `Content-Language` says which. The English text is
the stable one; a message the Chinese catalogue does not know stays in English.
"""


_REPLICA_CONNECT_TIMEOUT = 2
"""Seconds a connection to the read replica may take to open before the read goes to
the primary."""


def create_app(settings: Settings, *, metrics_dir: Path | None = None) -> FastAPI:
    """Build the API for one node: its engine, its routes and its error handling.
    ``metrics_dir``: where each worker process of the node writes its request figures
    (``api.metrics``), when there are several."""
    busy, queue = settings.sqlite_busy_timeout_seconds, settings.database_pool_timeout_seconds
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        pool_timeout=queue,
        busy_timeout=busy,
    )
    # Reads made on the event loop's own thread (a single verification) have their
    # own connection: were they to wait for one from the shared pool, the loop would
    # stop, and with it the requests that would give one back.
    loop_engine = make_engine(
        settings.database_url, pool_size=1, pool_timeout=queue, busy_timeout=busy
    )
    # The read-only work reads from the replica when there is one (registry.storage.
    # replica), each engine beside its primary one; the two share what they know of
    # the replica's failures. A replica that does not answer is given up on sooner
    # than the primary: the primary can answer instead, and a single verification
    # waits for it on the event loop's own thread.
    replica_url = settings.database_replica_url
    pool, wait = settings.database_pool_size, _REPLICA_CONNECT_TIMEOUT
    replica = (
        make_engine(replica_url, pool_size=pool, pool_timeout=queue, connect_timeout=wait)
        if replica_url
        else None
    )
    loop_replica = (
        make_engine(replica_url, pool_size=1, pool_timeout=queue, connect_timeout=wait)
        if replica_url
        else None
    )
    replica_state = ReplicaState(
        retry_after=settings.database_replica_retry_seconds,
        max_lag=settings.database_replica_max_lag_seconds,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await app.state.recorder.aclose()
        for each in (engine, loop_engine, replica, loop_replica):
            if each is not None:
                each.dispose()

    app = FastAPI(
        title="Yangtze River Delta safety-engineer registry",
        version="0.1.0",
        description=_DESCRIPTION,
        lifespan=lifespan,
        # The API reference is a page of the node's own (web), its assets served
        # here rather than fetched from a CDN that a government intranet blocks.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.loop_engine = loop_engine
    app.state.reads = Reads(primary=engine, replica=replica, state=replica_state)
    app.state.loop_reads = Reads(primary=loop_engine, replica=loop_replica, state=replica_state)
    app.state.issuing = IssuingContext.for_node(settings)
    app.state.singles = SingleIssues(engine, app.state.issuing, scope=credentials.SINGLE_SCOPE)
    app.state.recorder = AccessRecorder(engine)
    app.state.verifier = EngineerVerifier(
        key_store=app.state.issuing.key_store,
        lookup=app.state.issuing.lookup,
        policies=load_policies(settings.ce_rules_dir),
        demo=settings.demo,
        stale_after=timedelta(seconds=settings.federation_stale_seconds),
    )
    app.state.rate_limits = RateLimits(settings)
    app.state.webhook_policy = AddressPolicy(allowed=settings.webhook_allowed_networks)
    install_error_handlers(app)
    # The token and the body's size, checked before a route reads the body; the body's
    # pace, while it arrives.
    app.add_middleware(
        BodyGate,
        seconds=settings.body_timeout_seconds,
        min_rate=settings.body_min_bytes_per_second,
    )
    app.include_router(health.router)
    app.include_router(authorities.router)
    app.include_router(trust.router)
    app.include_router(logs.router)
    app.include_router(credentials.router)
    app.include_router(records.records)
    app.include_router(records.imports)
    app.include_router(status_lists.router)
    app.include_router(recognition.router)
    app.include_router(verify.router)
    app.include_router(blacklist.router)
    app.include_router(audit.router)
    app.include_router(changes.router)
    app.include_router(subscriptions.router)
    app.include_router(federation.router)
    app.include_router(witness.router)
    app.include_router(metrics_router)
    install_pages(app)
    # Outermost: every answer, a 500 and the security headers' included, has its id,
    # its log line and its figures.
    app.state.metrics = RequestMetrics(multiprocess_dir=metrics_dir)
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: Observed(build(), app.state.metrics)  # type: ignore[method-assign]
    app.openapi = lambda: exact_openapi(app)  # type: ignore[method-assign]
    return app


def app_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory``: settings read once from the environment."""
    # Set by ``registry serve`` for its workers (``api.metrics``); prometheus_client
    # reads the same variable when imported.
    shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    app = create_app(Settings(), metrics_dir=Path(shared) if shared else None)
    _tune_collector()
    return app


def _tune_collector() -> None:
    """Tune Python's cycle collector for a long-running server.

    What exists at start (modules, the app) leaves the collector's scans for good,
    and it runs a seventieth as often: a 10,000-item batch allocates millions of
    short-lived objects, and with the defaults collecting took a sixth of its time.
    Reference counting still frees almost everything at once.
    """
    gc.freeze()
    gc.set_threshold(50_000, 10, 10)
