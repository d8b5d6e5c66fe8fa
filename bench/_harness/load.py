"""Driving the server: many requests in flight for a while, or one after another.

The load client speaks plain HTTP/1.1 over asyncio streams (on uvloop), one kept-alive
connection per request in flight. The server answers every request with a
Content-Length, and this client costs about 0.15 ms of CPU a request where httpx
cost 1.7 ms, which leaves the machine's cores to the server and the database it
shares them with. One at a time, httpx is fine: its cost is not in the timings'
way.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import uvloop

__all__ = ["Load", "post_head", "run_load", "sequential"]

_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)
_SHOWN = 3  # failures of one kind printed; the rest only counted


@dataclass
class Load:
    """What a load gave: a latency (ms) and a size (bytes) per answer, the count of
    each status (or of each client error, by name), the wall-clock seconds it ran
    and the client's CPU seconds."""

    latencies: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    client_cpu: float = 0.0

    @property
    def requests(self) -> int:
        """Requests answered."""
        return len(self.latencies)

    @property
    def rate(self) -> float:
        """Requests answered per second."""
        return self.requests / self.seconds

    @property
    def failed(self) -> int:
        """Requests not answered 200."""
        return sum(n for status, n in self.statuses.items() if status != "200")


def run_load(
    host: str,
    port: int,
    head: bytes,
    bodies: Iterator[bytes],
    *,
    concurrency: int,
    seconds: float,
    inspect: Callable[[bytes], None] = lambda _: None,
) -> Load:
    """``concurrency`` connections, each sending ``head`` (a request's first line and
    headers up to ``Content-Length: ``) with the next of ``bodies``, one request after
    another, for ``seconds``; ``inspect`` sees each answer's body.

    A connection that fails stops (the failure is counted, not retried: the client
    saw no answer); the others go on.
    """
    result = Load()

    async def together() -> None:
        cpu = time.process_time()
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _connection(
                    host,
                    port,
                    head=head,
                    bodies=bodies,
                    deadline=began + seconds,
                    result=result,
                    inspect=inspect,
                )
                for _ in range(concurrency)
            )
        )
        result.seconds = time.perf_counter() - began
        result.client_cpu = time.process_time() - cpu

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(together())
    return result


def post_head(host: str, port: int, path: str, *, token: str) -> bytes:
    """The head of a JSON ``POST`` to ``path`` with a bearer token, for ``run_load``."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: "
    ).encode()


async def _connection(
    host: str,
    port: int,
    *,
    head: bytes,
    bodies: Iterator[bytes],
    deadline: float,
    result: Load,
    inspect: Callable[[bytes], None],
) -> None:
    """One kept-alive connection asking one request after another until ``deadline``."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            body = next(bodies)
            began = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            try:
                answer = await reader.readuntil(b"\r\n\r\n")
                length = _CONTENT_LENGTH.search(answer)
                content = await reader.readexactly(int(length.group(1)) if length else 0)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                failed = type(exc).__name__
                result.statuses[failed] += 1
                if result.statuses[failed] <= _SHOWN:
                    print(f"  {failed} after {time.perf_counter() - began:.2f} s: {exc!r}")
                return
            result.latencies.append((time.perf_counter() - began) * 1000)
            status = answer[9:12].decode()
            result.statuses[status] += 1
            result.sizes.append(len(content))
            inspect(content)
            if status != "200" and result.statuses[status] <= _SHOWN:
                print(f"  {status}: {content[:300]!r}", flush=True)
    finally:
        writer.close()


def sequential(count: int, request: Callable[[int], object]) -> list[float]:
    """Call ``request(0)`` to ``request(count - 1)`` one after another; each call's
    wall-clock time in ms."""
    timings = []
    for n in range(count):
        began = time.perf_counter()
        request(n)
        timings.append((time.perf_counter() - began) * 1000)
    return timings
