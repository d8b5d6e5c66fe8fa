"""Clients that send a request's head too slowly: cut off.

uvicorn bounds only the idle time between requests on a kept-alive connection: a
client that opens a connection and sends nothing, or trickles its headers a byte at
a time, holds a connection (and a file descriptor) for as long as it likes. The
protocol ``header_timeout_protocol`` makes gives every request's head ``seconds`` to
arrive, timed from the connection's start and, on a kept-alive connection, from the
end of the previous answer; then the connection is closed unanswered. (A body that
comes too slowly is the app's to answer: ``api.limits.BodyGate``, 408.)
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["header_timeout_protocol"]


class _HeaderTimeout(HttpToolsProtocol):
    header_seconds = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request's head is timed from here, unless it is in already
        # (pipelined) or the connection is ending.
        if not self.pipeline and not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_seconds, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools) with a request's head bounded to ``seconds``."""
    return type("HeaderTimeoutProtocol", (_HeaderTimeout,), {"header_seconds": seconds})
