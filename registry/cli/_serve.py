"""Serving the API: one process, or several that the kernel shares connections between.

With several, each worker process listens on its own socket bound to the same port
with ``SO_REUSEPORT``, and the kernel spreads new connections evenly across them.
(With one socket shared by every process, as uvicorn's ``--workers`` does, the
process that wakes first takes a whole burst of connections: 30 of 32, measured,
leaving the other nearly idle.) The supervising process starts the workers,
starts a worker again if one dies, and stops them all on SIGINT or SIGTERM; a worker
whose supervisor was killed outright stops by itself.

The serving process also follows the other members' logs and tells them when its own
grow (``registry.federation.poller``, ``notices``). It runs the webhook deliveries
(``registry.enforcement.dispatcher``): a round every two seconds, on a few threads of
their own; and, before each round, applies the status changes dated ahead whose day
has come (``registry.issuing.scheduled.apply_due_changes``), signing the new
status-list versions.

What it does is written to standard error as ``Settings.log_format`` says
(``registry.node_log``): uvicorn's access log is replaced by the API's own line per
request. With several workers, each writes its request figures for ``/metrics`` into
``<data dir>/metrics``, emptied at start (``api.metrics``); a worker's live figures
(requests in flight) are dropped when it exits.

A request's head must arrive within ``header_timeout_seconds`` (``_slow_clients``);
its body within ``body_timeout_seconds`` and above ``body_min_bytes_per_second``
(``api.limits.BodyGate``, in the app).
"""

from __future__ import annotations

import logging
import logging.config
import multiprocessing
import os
import shutil
import signal
import socket
import threading
import time
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from types import FrameType
from typing import Literal

import uvicorn
from prometheus_client.multiprocess import mark_process_dead
from sqlalchemy import Engine

from registry.cli._slow_clients import header_timeout_protocol
from registry.datadir import DataDir
from registry.enforcement.addresses import AddressPolicy
from registry.enforcement.dispatcher import Dispatcher
from registry.federation.cosigning import Cosigner
from registry.federation.notices import Notifier
from registry.federation.poller import Poller
from registry.federation.standing import Standing, check_standing, holds
from registry.issuing import IssuingContext
from registry.issuing.scheduled import apply_due_changes, due_authorities
from registry.node_log import log_config
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope

__all__ = ["report_standing", "serve_api"]

_APP = "api.app:app_from_environment"  # by import string: the factory reads REGISTRY_*
_BACKLOG = 2048
_STOP_SECONDS = 30.0
_METRICS = "PROMETHEUS_MULTIPROC_DIR"  # where prometheus_client's workers write figures
_log = logging.getLogger("registry.serve")


def serve_api(host: str, port: int, workers: int, *, settings: Settings) -> None:
    """Serve until interrupted: in this process if ``workers`` is 1, else in that
    many worker processes with a socket each; webhook deliveries run on threads of
    this process. Raises ``OSError`` if the port is taken."""
    logging.config.dictConfig(log_config(settings.log_format))
    threading.Thread(
        target=_deliver_forever, args=(settings,), name="webhooks", daemon=True
    ).start()
    threading.Thread(
        target=_federate_forever, args=(settings,), name="federation", daemon=True
    ).start()
    seconds = settings.header_timeout_seconds
    if workers == 1:
        uvicorn.run(
            _APP,
            factory=True,
            host=host,
            port=port,
            log_config=log_config(settings.log_format),
            access_log=False,
            http=header_timeout_protocol(seconds),
        )
        return
    # The port must be free: bound without SO_REUSEPORT, this fails if anything holds
    # it, another server's workers included (with SO_REUSEPORT, a second server
    # would silently share the port's connections with the first).
    _socket(host, port, shared=False).close()
    # Held, bound but not listening, until the end: it keeps the port ours while
    # workers restart. Only listening sockets get connections.
    metrics = _metrics_directory(settings)
    with _socket(host, port, shared=True) as held:
        _supervise(held.getsockname()[:2], workers, settings.log_format, metrics, seconds)


def _metrics_directory(settings: Settings) -> str:
    """``<data dir>/metrics``, emptied: the workers' request figures, for the workers
    started from here on (they inherit the variable naming it)."""
    directory = settings.data_dir / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(mode=0o700, parents=True)
    os.environ[_METRICS] = str(directory)
    return str(directory)


_DELIVERY_INTERVAL = 2.0


def _deliver_forever(settings: Settings) -> None:
    # Start a round of webhook deliveries every few seconds, for as long as the server
    # runs (daemon threads: they end with the process). A round does not wait for the
    # one before: a subscription still in hand is skipped, the others are served. An
    # error is reported and the next round tries again; what was queued stays queued.
    # A connection for each delivery thread, and one to list the subscriptions.
    pool_size = settings.webhook_concurrency + 1
    context = IssuingContext.for_node(settings)
    with (
        engine_scope(settings.database_url, pool_size=pool_size) as engine,
        Dispatcher(
            engine,
            clock=lambda: datetime.now(UTC),
            deadline=settings.webhook_deadline_seconds,
            concurrency=settings.webhook_concurrency,
            policy=AddressPolicy(allowed=settings.webhook_allowed_networks),
        ) as dispatcher,
    ):
        while True:
            _sweep(engine, context)
            try:
                dispatcher.start_round()
            except Exception as exc:
                # The type and traceback, not the message: a database error's quotes
                # the statement's parameters, a delivery's body among them.
                _log.error("webhook deliveries: %s", type(exc).__name__, exc_info=exc)
            time.sleep(_DELIVERY_INTERVAL)


_NOTICE_INTERVAL = 0.2


def _federate_forever(settings: Settings) -> None:
    # Follow every peer's log (a thread each: ``registry.federation.poller``), tell
    # the peers when a log hosted here grows (``registry.federation.notices``) and
    # have their witnesses cosign its checkpoints (``registry.federation.cosigning``),
    # for as long as the server runs. A node that hosts every member has no peer:
    # then only the cosigner works, its own witnesses cosigning in-process.
    data_dir = DataDir(settings)

    def report(message: str) -> None:
        _log.warning("federation: %s", message)

    with (
        engine_scope(settings.database_url, pool_size=8) as engine,
        Notifier(engine, data_dir.peer_tokens, report=report) as notifier,
        Cosigner(engine, key_store=data_dir.key_store(), report=report) as cosigner,
    ):
        poller = Poller(
            engine,
            tokens=data_dir.peer_tokens,
            interval=settings.follow_interval_seconds,
            report=report,
        )
        last_tick = 0.0
        while True:
            notice_due = time.monotonic() + _NOTICE_INTERVAL
            try:
                if time.monotonic() - last_tick >= settings.follow_interval_seconds:
                    poller.tick()  # a member that joined the trust list is followed
                    last_tick = time.monotonic()
                    _recheck_holds(engine)
                notifier.tick()
            except Exception as exc:
                report(f"{type(exc).__name__}: {exc}")
            # Until the next notices, the cosigner ticks whenever a round of its settles:
            # the next round starts at once, not at the next notices.
            while (left := notice_due - time.monotonic()) > 0:
                try:
                    cosigner.tick()
                except Exception as exc:
                    report(f"cosigning: {type(exc).__name__}: {exc}")
                cosigner.wait(left)


def report_standing(standings: list[Standing]) -> None:
    """Say, in the server's log, which hosted logs are held from signing and why."""
    for standing in standings:
        if standing.hold is not None:
            _log.warning(
                f"the log of {standing.authority} signs nothing ({standing.hold.reason}): "
                f"{standing.hold.detail}; confirmed by {len(standing.confirmed_by)} of "
                f"{standing.needed} peers needed: see `registry log standing`"
            )
        elif standing.size and standing.answers and not standing.confirmed_by:
            _log.warning(
                f"no peer confirmed the log of {standing.authority} at size {standing.size}; "
                "it signs, having lost nothing it knows of"
            )


def _recheck_holds(engine: Engine) -> None:
    # A held log asks its peers again at every poll: a restored one signs again once
    # they confirm it, without a restart.
    with session_scope(engine) as session:
        held = {hold.authority_code: hold.reason for hold in holds(session)}
    if not held:
        return
    for standing in check_standing(engine):
        before, now = held.get(standing.authority), standing.hold
        if before is not None and now is None:
            _log.info(
                f"the log of {standing.authority} signs again: {', '.join(standing.confirmed_by)} "
                "confirmed its newest checkpoint"
            )
        elif now is not None and now.reason != before:
            report_standing([standing])


def _sweep(engine: Engine, context: IssuingContext) -> None:
    """Apply the scheduled changes that are due, each authority in a transaction of its
    own: one that fails (its status list full, say) holds back no other."""
    now = datetime.now(UTC)
    try:
        with session_scope(engine) as session:
            authorities = due_authorities(session, now=now)
    except Exception as exc:
        _log.error("scheduled status changes: %s", type(exc).__name__, exc_info=exc)
        return
    for authority in authorities:
        try:
            with session_scope(engine) as session:
                apply_due_changes(session, context, now=now, authorities=[authority])
        except Exception as exc:
            _log.error(
                "scheduled status changes of %s: %s", authority, type(exc).__name__, exc_info=exc
            )


def _socket(host: str, port: int, *, shared: bool) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if shared:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(
    host: str, port: int, log_format: Literal["text", "json"], header_seconds: float
) -> None:
    _stop_with_parent()
    # Bound, not listening: uvicorn listens once the app has started, so the kernel
    # sends this worker connections only when it can answer them.
    sock = _socket(host, port, shared=True)
    config = uvicorn.Config(
        _APP,
        factory=True,
        host=host,
        port=port,
        backlog=_BACKLOG,
        log_config=log_config(log_format),
        access_log=False,
        http=header_timeout_protocol(header_seconds),
    )
    uvicorn.Server(config).run(sockets=[sock])


def _stop_with_parent() -> None:
    # A supervisor killed outright (kill -9: no handler runs to stop its workers)
    # would leave them serving on, holding the port, so that the server started
    # again could not listen. Each worker watches its parent, and once it is gone
    # stops as on SIGTERM: it finishes what it serves, then exits.
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_SECONDS)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent", daemon=True).start()


_PARENT_CHECK_SECONDS = 1.0


def _supervise(
    address: tuple[str, int],
    workers: int,
    log_format: Literal["text", "json"],
    metrics: str,
    header_seconds: float,
) -> None:
    context = multiprocessing.get_context("spawn")
    # A plain flag, polled: a handler must not take a lock the interrupted code holds.
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    processes: list[BaseProcess] = []
    arguments = (*address, log_format, header_seconds)
    try:
        for _ in range(workers):
            processes.append(_start(context, arguments))
        while not stopping:
            time.sleep(0.2)
            for slot, process in enumerate(processes):
                if not stopping and not process.is_alive():
                    _log.warning(
                        "worker %s exited with %s; starting another", process.pid, process.exitcode
                    )
                    # Its requests in flight are over; its counts and latencies stay.
                    mark_process_dead(process.pid, metrics)  # type: ignore[no-untyped-call]
                    time.sleep(1)  # a worker that cannot start is not restarted in a tight loop
                    processes[slot] = _start(context, arguments)
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes what it serves, then exits
        deadline = time.monotonic() + _STOP_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start(
    context: multiprocessing.context.SpawnContext, arguments: tuple[str, int, str, float]
) -> BaseProcess:
    process = context.Process(target=_worker, args=arguments, name="registry-worker")
    process.start()
    return process
