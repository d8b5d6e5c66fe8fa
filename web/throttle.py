"""A sliding window per client address, in memory: how often one address may use a
public page that answers about a person (the look-up of an engineer).

Each server process counts on its own (``registry serve --workers N`` lets an address
make up to N times the limit, spread over the processes); the window forgets an
address once its last use is a window old, and past ``max_clients`` addresses the
one used longest ago is forgotten first, so the memory it takes stays bounded.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

__all__ = ["SlidingWindow"]


class SlidingWindow:
    """At most ``limit`` uses per address in any ``seconds``; safe between threads."""

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
