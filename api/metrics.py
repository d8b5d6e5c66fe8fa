"""``/metrics``: the node's figures in the Prometheus text format, for its operators.

- **Requests** (``RequestMetrics``, counted by ``api.observe``): latency by route
  template (never the path a client sent: no identifier reaches a label), method and
  status class; requests in flight.
- **The database** (``NodeCollector``), read at each scrape (``registry.administration
  .readings``): each log's size, entries appended, newest checkpoint's size and age,
  witnessed size and cosignatures against the quorum; each followed peer's lag,
  time since confirmed and state; the webhook queue; staged imports by state.
- **The process**: prometheus_client's process, platform and garbage-collector
  figures, when the node is one process.

With several worker processes (``registry serve --workers N``) each worker writes its
request figures to files in a directory the server empties at start
(prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``): whichever
worker answers the scrape adds up every worker's. The process figures are then left
out: each would be only the answering worker's.

Who may read it: a client whose address is in ``Settings.metrics_networks``
(loopback by default); anyone else is answered 403. It is not in the OpenAPI
document, which describes the API for its users.
"""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_address
from pathlib import Path
from time import perf_counter

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Gauge,
    Histogram,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from api.errors import problem_response
from registry.administration.readings import IMPORT_STATES, PEER_STATES, Readings, read_node

__all__ = ["NodeCollector", "RequestMetrics", "router"]

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds: a verification takes milliseconds, an import of 10,000 rows tens of seconds."""


class RequestMetrics:
    """The request figures of one app, in a registry of its own (with
    ``multiprocess_dir``, also written to that directory for the scrape to add up)."""

    def __init__(self, *, multiprocess_dir: Path | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry(auto_describe=True)
        self.duration = Histogram(
            "registry_http_request_duration_seconds",
            "Time from a request's arrival to its answer's last byte, by route template, "
            "method and status class.",
            ("route", "method", "status"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "registry_http_requests_in_flight",
            "Requests being served now.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request (``status`` 0: it failed before answering)."""
        status_class = f"{status // 100}xx" if status else "none"
        self.duration.labels(route, method, status_class).observe(seconds)

    def exposition(self, engine: Engine) -> bytes:
        """Every figure, read now, in the text format (version 0.0.4)."""
        scrape = CollectorRegistry(auto_describe=False)
        if self.multiprocess_dir is not None:
            # prometheus_client leaves this one constructor unannotated.
            MultiProcessCollector(scrape, path=str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        else:
            scrape.register(_Registered(self.registry))
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                scrape.register(collector)
        scrape.register(NodeCollector(engine))
        return generate_latest(scrape)


class _Registered(Collector):
    """Another registry's figures, as one collector of the scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> list[Metric]:
        return list(self._registry.collect())


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


class NodeCollector(Collector):
    """The database's figures, read when scraped (``registry.administration.readings``)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def collect(self) -> list[Metric]:
        started = perf_counter()
        readings = read_node(self._engine, now=datetime.now(UTC))
        families = [*_log_families(readings), *_peer_families(readings)]
        families += [*_webhook_families(readings), _import_family(readings)]
        took = _gauge(
            "registry_metrics_read_seconds", "Time this scrape took to read the database."
        )
        took.add_metric([], perf_counter() - started)
        return [*families, took]


def _log_families(readings: Readings) -> list[Metric]:
    labels = ("authority", "origin")
    size = _gauge("registry_log_size", "Entries in the log.", labels)
    appended = CounterMetricFamily(
        "registry_log_appended",
        "Entries appended to the log since it began (rate() gives the append rate).",
        labels=list(labels),
    )
    checkpoint = _gauge(
        "registry_log_checkpoint_size", "Entries the log's newest checkpoint holds.", labels
    )
    age = _gauge(
        "registry_log_checkpoint_age_seconds",
        "Seconds since the log's newest checkpoint was signed (it signs one with each "
        "append, so an idle log's grows).",
        labels,
    )
    witnessed = _gauge(
        "registry_log_witnessed_size",
        "Entries the log's newest checkpoint cosigned by the witness quorum holds (0: none).",
        labels,
    )
    cosignatures = _gauge(
        "registry_log_cosignatures",
        "Cosignatures held on the log's newest checkpoint that count under the trust list.",
        labels,
    )
    required = _gauge(
        "registry_log_cosignatures_required",
        "Cosignatures the trust list's witnessing policy requires of the log's checkpoints.",
        labels,
    )
    for log in readings.logs:
        values = [log.authority, log.origin]
        size.add_metric(values, log.size)
        appended.add_metric(values, log.size)
        checkpoint.add_metric(values, log.checkpoint_size)
        if log.checkpoint_at is not None:
            age.add_metric(values, (readings.now - log.checkpoint_at).total_seconds())
        witnessed.add_metric(values, log.witnessed_size)
        cosignatures.add_metric(values, log.cosignatures)
        required.add_metric(values, log.required)
    return [size, appended, checkpoint, age, witnessed, cosignatures, required]


def _peer_families(readings: Readings) -> list[Metric]:
    labels = ("authority", "origin")
    behind = _gauge(
        "registry_federation_entries_behind",
        "Entries of the peer's newest checkpoint seen that the mirror has not verified yet.",
        labels,
    )
    since = _gauge(
        "registry_federation_seconds_since_confirmed",
        "Seconds since the peer's node last confirmed this node's mirror of its log.",
        labels,
    )
    state = _gauge(
        "registry_federation_state",
        "1 for the state following the peer's log is in (current, behind, unreachable, "
        "forked), 0 for the others.",
        (*labels, "state"),
    )
    for peer in readings.peers:
        values = [peer.authority, peer.origin]
        if peer.behind is not None:
            behind.add_metric(values, peer.behind)
        if peer.since_confirmed is not None:
            since.add_metric(values, peer.since_confirmed)
        for known in PEER_STATES:
            state.add_metric([*values, known], 1 if peer.state == known else 0)
    return [behind, since, state]


def _webhook_families(readings: Readings) -> list[Metric]:
    hooks = readings.webhooks
    waiting = _gauge("registry_webhook_queue_depth", "Webhook deliveries waiting to be delivered.")
    waiting.add_metric([], hooks.waiting)
    failing = _gauge(
        "registry_webhook_failing",
        "Webhook deliveries waiting whose last attempt failed (they are retried with backoff).",
    )
    failing.add_metric([], hooks.failing)
    attempts = _gauge(
        "registry_webhook_attempts",
        "Attempts made of the webhook deliveries the database holds, by outcome "
        "(removing a subscription removes its deliveries).",
        ("outcome",),
    )
    attempts.add_metric(["delivered"], hooks.delivered)
    attempts.add_metric(["failed"], hooks.failed_attempts)
    return [waiting, failing, attempts]


def _import_family(readings: Readings) -> Metric:
    imports = _gauge(
        "registry_imports",
        "Staged imports by state: checking, rejected, checked (waiting to be confirmed), "
        "running (being issued), done, failed.",
        ("state",),
    )
    for state in IMPORT_STATES:
        imports.add_metric([state], readings.imports.get(state, 0))
    return imports


router = APIRouter()


def _allowed(request: Request) -> bool:
    networks = request.app.state.settings.metrics_networks
    host = request.client.host if request.client is not None else ""
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    """The figures, to a client whose address ``metrics_networks`` allows."""
    if not _allowed(request):
        return problem_response(
            request,
            status=403,
            slug="forbidden",
            title="Not allowed from this address",
            detail="this address may not read the metrics",
        )
    body = request.app.state.metrics.exposition(request.app.state.engine)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)
