"""Rate limits, in memory: how often one token, one signed-in session or one client
address may use the expensive and the sensitive operations.

Each operation of a kind (``RATE_KINDS``) says so in its OpenAPI operation's
``x-rate-limit`` (``rate_limit``), and ``api.limits.GatedRoute`` takes one use from the
kind's windows before the body is read: the caller's (its token, or on a page its
session cookie) and its client address's, which may make ``rate_limit_address_factor``
times as many. Past either: 429 with ``Retry-After`` in whole seconds, problem+json for
the API and a page for the pages. A batch counts as one use, whatever its rows: its
size is bounded by its own limits (10,000 rows, ``api.limits.TABLE_BODY``) and the
``batch`` kind allows far fewer than single verifications.

The client address is the socket's peer, or, when that peer is a proxy named in
``FORWARDED_ALLOW_IPS`` (uvicorn's proxy headers; default ``127.0.0.1,::1``), the
client its ``X-Forwarded-For`` names.

A sliding window per key. Each server process counts on its own
(``registry serve --workers N`` lets a client make up to N times the limit, spread
over the processes); the window forgets a key once its last use is a window old, and
past ``max_clients`` keys the one used longest ago is forgotten first, so the memory
it takes stays bounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Literal

from api.errors import problem_responses
from registry.settings import Settings

__all__ = ["RATE_KINDS", "RateLimits", "SlidingWindow", "kind_of", "rate_limit", "too_many"]


class SlidingWindow:
    """At most ``limit`` uses per key in any ``seconds``; safe between threads."""

    def __init__(
        self,
        limit: int,
        *,
        seconds: float = 60.0,
        max_clients: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or seconds <= 0 or max_clients < 1:
            raise ValueError("a window allows at least one use in a positive time")
        self.limit = limit
        self.seconds = seconds
        self._max_clients = max_clients
        self._clock = clock
        self._lock = threading.Lock()
        self._uses: OrderedDict[str, deque[float]] = OrderedDict()

    def take(self, client: str) -> int | None:
        """Count one use by ``client``; ``None`` if it is allowed, else the whole
        seconds until it would be (the use is then not counted)."""
        now = self._clock()
        with self._lock:
            uses = self._uses.get(client)
            if uses is None:
                uses = self._uses[client] = deque()
            self._uses.move_to_end(client)
            while uses and uses[0] <= now - self.seconds:
                uses.popleft()
            if len(uses) >= self.limit:
                return max(1, math.ceil(uses[0] + self.seconds - now))
            uses.append(now)
            self._forget(now)
            return None

    def _forget(self, now: float) -> None:
        while len(self._uses) > self._max_clients:
            self._uses.popitem(last=False)
        # Addresses idle for a whole window, oldest first: nothing of theirs counts.
        while self._uses:
            oldest, uses = next(iter(self._uses.items()))
            if uses and uses[-1] > now - self.seconds:
                break
            del self._uses[oldest]


Kind = Literal["verify", "batch", "search", "lookup", "sign-in"]
RATE_KINDS: tuple[Kind, ...] = ("verify", "batch", "search", "lookup", "sign-in")
_EXTENSION = "x-rate-limit"
_WINDOW = 60.0


def rate_limit(kind: Kind) -> dict[str, Any]:
    """An operation's rate limit, as ``openapi_extra`` (``x-rate-limit``)."""
    return {_EXTENSION: kind}


def kind_of(openapi_extra: dict[str, Any] | None) -> Kind | None:
    """The rate limit an operation's ``openapi_extra`` names, if any."""
    kind = (openapi_extra or {}).get(_EXTENSION)
    if kind is None:
        return None
    if kind not in RATE_KINDS:
        raise ValueError(f"unknown rate limit {kind!r}")
    found: Kind = kind
    return found


def too_many(kind: Kind) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entry of a caller over the ``kind``'s limit (429)."""
    return problem_responses(
        (
            429,
            f"Too many requests of this kind ({kind}) from this token or client address "
            "in the last 60 seconds; `Retry-After` says in how many seconds to try again.",
        )
    )


class RateLimits:
    """The windows of every kind, per caller and per client address, for one process.

    ``clock`` is what the windows read the time from (``time.monotonic``; tests give
    one they move)."""

    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.monotonic) -> None:
        per_caller: dict[Kind, int] = {
            "verify": settings.verifications_per_minute,
            "batch": settings.batches_per_minute,
            "search": settings.searches_per_minute,
        }
        factor = settings.rate_limit_address_factor
        clients = settings.rate_limit_max_clients

        def window(limit: int) -> SlidingWindow:
            return SlidingWindow(limit, seconds=_WINDOW, max_clients=clients, clock=clock)

        self._callers = {kind: window(limit) for kind, limit in per_caller.items()}
        self._addresses = {kind: window(limit * factor) for kind, limit in per_caller.items()}
        # The public look-up and the sign-in have no caller yet: the address alone.
        self._addresses["lookup"] = window(settings.public_lookups_per_minute)
        self._addresses["sign-in"] = window(settings.sign_ins_per_minute)

    def take(self, kind: Kind, *, caller: str | None, address: str | None) -> int | None:
        """Count one use of ``kind`` by ``caller`` (a token or session key, if any) from
        ``address``: ``None`` if allowed, else the whole seconds to wait."""
        wait = self._addresses[kind].take(address or "unknown")
        if wait is not None or caller is None or kind not in self._callers:
            return wait  # a use refused for its address costs its caller nothing
        return self._callers[kind].take(caller)
