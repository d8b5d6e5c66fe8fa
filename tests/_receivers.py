"""Local webhook receivers for the tests, on 127.0.0.1: prompt ones, and slow ones
that never finish answering."""

from __future__ import annotations

import itertools
import select as io_select
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from devtools.ports import free_port

__all__ = ["GIVE_UP", "HEADERS", "STATUS_LINE", "Events", "Prompt", "Trickler", "wait_for"]

GIVE_UP = 30.0
"""How long the slow receiver trickles before it hangs up itself: only so that a
registry that never cuts it off fails the test instead of hanging it."""


class Events:
    """What happened at the receivers, in the order it happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.log: list[tuple[str, int]] = []

    def note(self, what: str, receiver: int) -> None:
        with self._lock:
            self.log.append((what, receiver))

    def position(self, what: str, receiver: int, nth: int = 1) -> int:
        """Where the ``nth`` such event is in the log."""
        found = [i for i, event in enumerate(self.log) if event == (what, receiver)]
        assert len(found) >= nth, (what, receiver, self.log)
        return found[nth - 1]


STATUS_LINE = b"HTTP/1.1 200 OK\r\nX-Slow: "
HEADERS = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"


class Trickler:
    """Reads a request, then answers ``start`` and one byte more every half second, and
    never finishes, until the client hangs up (or, after ``GIVE_UP`` seconds, it
    does). With ``trickle`` false it sends nothing after ``start``."""

    def __init__(
        self,
        events: Events,
        number: int,
        *,
        start: bytes = STATUS_LINE,
        trickle: bool = True,
    ) -> None:
        self.events, self.number = events, number
        self.start, self.trickle = start, trickle
        self.ended: list[str] = []  # per connection: "cut off" by the client, or "gave up"
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        self.events.note("connected", self.number)
        more = itertools.repeat(b"z" if self.trickle else b"")
        answer = itertools.chain((bytes([byte]) for byte in self.start), more)
        ended = "gave up"
        with connection:
            give_up = time.monotonic() + GIVE_UP
            while time.monotonic() < give_up:
                readable, _, _ = io_select.select([connection], [], [], 0.5)
                try:
                    if readable and not connection.recv(65536):
                        ended = "cut off"
                        break
                    connection.sendall(next(answer))
                except OSError:
                    ended = "cut off"
                    break
        self.ended.append(ended)
        self.events.note("ended", self.number)

    def close(self) -> None:
        self.listener.close()


class Prompt:
    """Answers 204 at once, keeping each delivery's headers and body."""

    def __init__(self, events: Events, number: int) -> None:
        self.seen: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.seen.append((dict(self.headers), body))
                events.note("received", number)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition`` holds, failing the test after ``GIVE_UP`` seconds."""
    give_up = time.monotonic() + GIVE_UP
    while not condition():
        assert time.monotonic() < give_up, f"not within {GIVE_UP:g} s: {what}"
        time.sleep(0.05)
