"""Ports for the servers that tests and benchmarks start, on 127.0.0.1 only."""

from __future__ import annotations

import os
import secrets
import socket

__all__ = ["free_port", "free_ports"]

_PORTS = range(20000, 32000)
"""Where servers started by the tests and benchmarks listen: below Linux's ephemeral
range (32768 and up), so no outgoing connection or ``bind(0)`` of another process
takes them."""


def _own_ports() -> range:
    # Under pytest-xdist each worker draws from its own slice, so two workers never
    # hand out the same port between choosing it and their server binding it.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    index = int(worker.removeprefix("gw"))
    size = len(_PORTS) // count
    start = _PORTS.start + index * size
    return range(start, start + size)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now, of this worker's own."""
    ports = _own_ports()
    for _ in range(200):
        port = ports[secrets.randbelow(len(ports))]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {ports.start}-{ports.stop - 1} on 127.0.0.1")


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive TCP ports on 127.0.0.1 that nothing listens
    on right now, of this worker's own (``registry demo federation``'s base port)."""
    ports = _own_ports()
    for _ in range(200):
        first = ports.start + secrets.randbelow(len(ports) - count)
        held: list[socket.socket] = []
        try:
            for port in range(first, first + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                held.append(sock)
                sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            for sock in held:
                sock.close()
        return first
    raise RuntimeError(f"no {count} free ports in a row in {ports.start}-{ports.stop - 1}")
