"""Soak: a node of the real federation under mixed load for half an hour, at 70% of
the capacity measured first in the same run.

Run: ``.venv/bin/python bench/soak.py [--minutes 30] [--fraction 0.7]`` (or ``make
bench-soak``). It starts a throwaway PostgreSQL cluster (durable defaults) with a
database per node and the demo federation of four real nodes on loopback
(``registry demo federation``'s own code: each ``registry serve`` holds only its own
keys, follows the others' logs every ``--follow-interval`` seconds and acts on their
notices, witnesses them and has its own checkpoints cosigned).

The node measured is Shanghai's (``--workers`` server processes). The mix, drawn in a
fixed order from a seeded generator, is what a province's node does all day:

- issuing: single CE credits of Shanghai (``POST /v1/credentials``), 20%, each to one
  of a growing population of people, ``_CREDITS_EACH`` at most (a real engineer
  takes a few courses a year; credits piled on ten people would make every report of
  theirs longer by the minute, which no real day does);
- verifying an engineer (``POST /v1/verify/engineer``, in each region), 45%: two in
  three of the demo's engineers, one in three of the people who took a course in the
  soak so far;
- searching the untrustworthiness list (``POST /v1/blacklist/search`` by credit code,
  ID number or name), 30%;
- and, 5%, single CE credits issued on Jiangsu's node, which Shanghai's then catches
  up with (federation catch-up), as the other three catch up with Shanghai's.

First, ``--capacity-seconds`` (3 minutes) of the mix closed-loop (``--concurrency``
requests in flight): the capacity, in requests a second over its last two thirds.
Then the soak: the mix open-loop at ``--fraction`` of that rate for ``--minutes``,
each request sent at its scheduled time whatever the answers' pace, its latency counted
from that time (a request that waits for a free connection waits on the clock). Every
10 s the resident memory of Shanghai's server (the process and its workers) is read
from ``/proc``.

Printed, against the targets: the server errors (5xx, and requests not answered at
all), the resident memory's growth from the end of the first five minutes (once the
caches are warm) to the end, and p99 of the last five minutes against p99 of the first
five; then the answers by status, per-minute p50/p99, and each follower's lag behind
Shanghai's log at the end. First, the machine's reference figures of the same run.

Targets: no server error; resident memory growth under 10%; p99 within 20% from the
first to the last five minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._harness.federation import four_nodes
from bench._harness.server import UNLIMITED
from bench._harness.stats import mark, percentile
from bench.issue import ce_credit, person
from registry.demo import DEMO_ENGINEERS, DEMO_LISTED_ORGANISATIONS
from registry.demo.network import DemoNode
from registry.storage.models import PeerLog

TARGET_ERRORS = 0
TARGET_MEMORY_GROWTH = 0.10
TARGET_P99_DRIFT = 0.20

_ORIGIN, _OTHER = "CN-SH", "CN-JS"
_REGIONS = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
_WINDOW_S = 300.0  # the first and the last five minutes
_MEMORY_EVERY_S = 10.0
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
_IDLE_S = 3.0  # a kept-alive connection idle this long is not reused
_MIX = (("issue", 20), ("verify", 45), ("search", 30), ("issue-other", 5))
_CREDITS_EACH = 3  # the most CE credits any one person gets in the soak


_Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@dataclass(frozen=True)
class Request:
    """One request of the mix: its kind, where it goes, and its bytes."""

    kind: str
    port: int
    data: bytes


@dataclass
class Answers:
    """Each answer's scheduled time (s from the start), latency (ms), kind and status."""

    times: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    shown: Counter[str] = field(default_factory=Counter)

    def add(self, at: float, latency_ms: float, kind: str, status: str, body: bytes) -> None:
        self.times.append(at)
        self.latencies.append(latency_ms)
        self.kinds.append(kind)
        self.statuses[status] += 1
        if not status.startswith("2") and self.shown[status] < 3:
            self.shown[status] += 1
            print(f"  {kind} answered {status}: {body[:300]!r}", flush=True)

    @property
    def server_errors(self) -> int:
        """Answers 5xx, and requests the server never answered."""
        return sum(n for status, n in self.statuses.items() if status[0] not in "1234")


class Mix:
    """The mix's requests, in a fixed order from a seeded generator."""

    def __init__(self, origin: DemoNode, other: DemoNode, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311 - picks what to ask, not secrets
        self._origin, self._other = origin, other
        self._credits = 0  # CE credits asked for so far
        self._kinds = [kind for kind, weight in _MIX for _ in range(weight)]
        self._codes = [code for _, code in DEMO_LISTED_ORGANISATIONS.values()]
        self._names = [name for name, _ in DEMO_LISTED_ORGANISATIONS.values()]

    def next(self) -> Request:
        kind = self._rng.choice(self._kinds)
        if kind == "issue":
            return self._post(self._origin, "/v1/credentials", "issuer:CN-SH", self._credit())
        if kind == "issue-other":
            credit = {**self._credit(), "authority": _OTHER}
            credit["provider"] = {**credit["provider"], "name": "江苏省安全生产培训中心"}
            return self._post(self._other, "/v1/credentials", f"issuer:{_OTHER}", credit, kind)
        if kind == "verify":
            region = self._rng.choice(_REGIONS)
            if self._credits >= _CREDITS_EACH and self._rng.randrange(3) == 0:
                taker = person(self._rng.randrange(self._credits // _CREDITS_EACH))
                question = {"id_number": taker["id_number"], "region": region}
            else:
                engineer = self._rng.choice(DEMO_ENGINEERS)
                question = {"id_number": engineer.id_number, "region": region}
            return self._post(self._origin, "/v1/verify/engineer", "verifier", question)
        way = self._rng.randrange(3)
        if way == 0:
            search: dict[str, str] = {"credit_code": self._rng.choice(self._codes)}
        elif way == 1:
            search = {"id_number": self._rng.choice(DEMO_ENGINEERS).id_number}
        else:
            search = {"name": self._rng.choice(self._names)[:4]}
        return self._post(self._origin, "/v1/blacklist/search", "enforcement", search)

    def _credit(self) -> dict[str, Any]:
        self._credits += 1
        n = self._credits
        return {**ce_credit(n), "holder": person(n // _CREDITS_EACH)}

    def _post(
        self, node: DemoNode, path: str, role: str, body: object, kind: str | None = None
    ) -> Request:
        content = json.dumps(body, ensure_ascii=False).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n"
            f"Authorization: Bearer {node.tokens[role]}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n\r\n"
        ).encode()
        return Request(kind or path.rsplit("/", 1)[-1], node.port, head + content)


class Connections:
    """Kept-alive HTTP/1.1 connections to loopback ports, reused one request at a time.

    As any HTTP client does, a connection left idle longer than the server keeps one
    (uvicorn: 5 s) is not reused, and a request that a reused connection's close cut
    off before a byte of the answer is sent once more on a new one: the server had
    closed it, not refused the request.
    """

    def __init__(self) -> None:
        self._idle: dict[int, list[tuple[float, _Stream]]] = {}

    async def send(self, request: Request) -> tuple[str, bytes]:
        """The status and body of ``request``'s answer; raises ``OSError`` and the like
        when the server does not answer."""
        idle = self._idle.setdefault(request.port, [])
        while idle:
            since, stream = idle.pop()
            if time.monotonic() - since < _IDLE_S:
                try:
                    return await self._exchange(request, stream, idle)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        raise
                    continue  # closed by the server while idle: a new connection
            stream[1].close()
        stream = await asyncio.open_connection("127.0.0.1", request.port)
        return await self._exchange(request, stream, idle)

    @staticmethod
    async def _exchange(
        request: Request, stream: _Stream, idle: list[tuple[float, _Stream]]
    ) -> tuple[str, bytes]:
        reader, writer = stream
        try:
            writer.write(request.data)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(length.group(1)) if length else 0)
        except BaseException:
            writer.close()
            raise
        idle.append((time.monotonic(), stream))
        return head[9:12].decode(), body


async def _one(
    connections: Connections, request: Request, at: float, began: float, answers: Answers
) -> None:
    try:
        status, body = await asyncio.wait_for(connections.send(request), timeout=60)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        status, body = type(exc).__name__, repr(exc).encode()
    answers.add(at, (time.perf_counter() - began - at) * 1000, request.kind, status, body)


def capacity(mix: Mix, *, concurrency: int, seconds: float) -> float:
    """Requests of the mix answered a second with ``concurrency`` always in flight,
    counted over the last two thirds of ``seconds``: the first third warms the caches
    and lets the followers' catch-up and the witnesses' cosigning settle in beside it."""
    answers = Answers()

    async def closed_loop() -> None:
        connections = Connections()
        began = time.perf_counter()

        async def worker() -> None:
            while (now := time.perf_counter() - began) < seconds:
                await _one(connections, mix.next(), now, began, answers)

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(closed_loop())
    settled = seconds / 3
    rate = sum(1 for at in answers.times if at >= settled) / (seconds - settled)
    minutes = Counter(int(at // 60) for at in answers.times)
    print(
        f"capacity: {rate:.1f} requests/s with {concurrency} in flight, from {settled:.0f} s "
        f"to {seconds:.0f} s ({dict(answers.statuses)}); a second, each minute: "
        + ", ".join(f"{minutes[m] / min(60.0, seconds - 60 * m):.1f}" for m in sorted(minutes))
    )
    if answers.server_errors:
        print(f"  server errors while measuring the capacity: {answers.server_errors}")
    return rate


def soak(
    mix: Mix, *, rate: float, seconds: float, server_pid: int
) -> tuple[Answers, list[tuple[float, int]]]:
    """The mix sent open-loop at ``rate`` a second for ``seconds``; the answers and
    the server's resident memory every 10 s, as (seconds from the start, bytes)."""
    answers = Answers()
    memory: list[tuple[float, int]] = []

    async def open_loop() -> None:
        connections = Connections()
        began = time.perf_counter()
        pending: set[asyncio.Task[None]] = set()
        n, next_memory, next_report = 0, 0.0, 60.0
        while (at := n / rate) < seconds:
            now = time.perf_counter() - began
            if now >= next_memory:
                memory.append((now, resident_bytes(server_pid)))
                next_memory += _MEMORY_EVERY_S
            if now >= next_report:
                _progress(answers, now, memory)
                next_report += 60.0
            if at > now:
                await asyncio.sleep(at - now)
            task = asyncio.create_task(_one(connections, mix.next(), at, began, answers))
            pending.add(task)
            task.add_done_callback(pending.discard)
            n += 1
        await asyncio.gather(*pending)
        memory.append((time.perf_counter() - began, resident_bytes(server_pid)))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(open_loop())
    return answers, memory


def _progress(answers: Answers, now: float, memory: list[tuple[float, int]]) -> None:
    recent = [ms for t, ms in zip(answers.times, answers.latencies, strict=True) if t >= now - 60]
    p99 = percentile(recent, 99) if recent else float("nan")
    print(
        f"  {now / 60:4.1f} min: {len(answers.latencies)} answered, p99 of the last minute "
        f"{p99:.1f} ms, server memory {memory[-1][1] / 2**20:.0f} MiB, "
        f"errors {answers.server_errors}",
        flush=True,
    )


def resident_bytes(pid: int) -> int:
    """The resident memory of process ``pid`` and all its descendants."""
    total, seen, todo = 0, set(), [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(found.group(1)) * 1024 if found else 0
        todo.extend(int(child) for child in children)
    return total


def _mean(values: list[int]) -> float:
    return sum(values) / len(values)


def report(answers: Answers, memory: list[tuple[float, int]], seconds: float) -> bool:
    """Print the figures against their targets; whether all were met."""
    window = min(_WINDOW_S, seconds / 3)
    first = [ms for t, ms in zip(answers.times, answers.latencies, strict=True) if t < window]
    last = [
        ms for t, ms in zip(answers.times, answers.latencies, strict=True) if t >= seconds - window
    ]
    p99_first, p99_last = percentile(first, 99), percentile(last, 99)
    drift = p99_last / p99_first - 1
    # Memory once warm: the samples of the first window's last minute, against the last
    # minute's.
    warm = [rss for t, rss in memory if window - 60 <= t <= window] or [memory[0][1]]
    end = [rss for t, rss in memory if t >= seconds - 60] or [memory[-1][1]]
    growth = _mean(end) / _mean(warm) - 1
    errors = answers.server_errors
    minutes = window / 60
    rows = [
        ("server errors (5xx or no answer)", f"{errors}", f"= {TARGET_ERRORS}", errors == 0),
        (
            f"resident memory, end of the first {minutes:.3g} min -> end",
            f"{_mean(warm) / 2**20:.0f} -> {_mean(end) / 2**20:.0f} MiB ({growth:+.1%})",
            f"< {TARGET_MEMORY_GROWTH:.0%}",
            growth < TARGET_MEMORY_GROWTH,
        ),
        (
            f"p99, first {minutes:.3g} min -> last {minutes:.3g} min",
            f"{p99_first:.1f} -> {p99_last:.1f} ms ({drift:+.1%})",
            f"within {TARGET_P99_DRIFT:.0%}",
            abs(drift) <= TARGET_P99_DRIFT,
        ),
    ]
    print()
    for what, measured, target, ok in rows:
        print(f"{what:<52} {measured:<32} target {target:<12} {mark(ok)}")
    print(f"\nanswers: {dict(sorted(answers.statuses.items()))}")
    for kind in sorted(set(answers.kinds)):
        mine = [ms for k, ms in zip(answers.kinds, answers.latencies, strict=True) if k == kind]
        print(
            f"  {kind:<12} {len(mine):>7} answered, p50 {percentile(mine, 50):6.1f} ms, "
            f"p99 {percentile(mine, 99):7.1f} ms"
        )
    return all(ok for *_, ok in rows)


def lag(origin: DemoNode, nodes: list[DemoNode]) -> None:
    """Each follower's verified size of the origin's log against the origin's own."""
    note = httpx.get(f"{origin.url}/v1/logs/{_ORIGIN}/checkpoint", timeout=10).text
    size = int(note.split("\n")[1])
    print(f"\n{_ORIGIN}'s log at the end: {size} entries")
    for node in nodes:
        if node is origin:
            continue
        with node.session() as session:
            mirror = session.get(PeerLog, _ORIGIN)
            held = 0 if mirror is None else mirror.tree_size
        print(f"  {node.code} holds {held} of them ({size - held} behind)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--fraction", type=float, default=0.7)
    parser.add_argument("--capacity-seconds", type=float, default=180.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--follow-interval", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=24)
    args = parser.parse_args()
    os.environ.update(UNLIMITED)  # the nodes' capacity is measured, not their rate limits
    with four_nodes(
        prefix="soak-", follow_interval=args.follow_interval, workers={_ORIGIN: args.workers}
    ) as nodes:
        origin = next(node for node in nodes if node.code == _ORIGIN)
        other = next(node for node in nodes if node.code == _OTHER)
        assert origin.process is not None
        mix = Mix(origin, other, args.seed)
        measured = capacity(mix, concurrency=args.concurrency, seconds=args.capacity_seconds)
        rate = measured * args.fraction
        seconds = args.minutes * 60
        print(f"soak: {rate:.1f} requests/s ({args.fraction:.0%}) for {args.minutes:g} min")
        answers, memory = soak(mix, rate=rate, seconds=seconds, server_pid=origin.process.pid)
        met = report(answers, memory, seconds)
        lag(origin, nodes)
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
