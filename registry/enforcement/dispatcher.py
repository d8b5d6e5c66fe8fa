"""Webhook deliveries for every subscription at once, none waiting on another's receiver.

A ``Dispatcher`` keeps a fixed number of threads. Each round hands them every
subscription that is not already in hand, in turn (``subscriptions_in_turn``: those
whose next delivery has not failed before go first); a thread queues and delivers one
subscription's changes (``serve_subscription``), each attempt cut off at the deadline.
So a slow receiver holds one thread for at most the deadline per attempt, while the
other threads serve the other subscriptions, and a round does not wait for it: the
next round skips the subscription still in hand and serves all the rest. After a
restart, the subscription that failed last goes to the back of the first round.

``dispatch`` is one round, waited for.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from types import TracebackType

from sqlalchemy import Engine

from registry.enforcement.addresses import AddressPolicy
from registry.enforcement.webhooks import serve_subscription, subscriptions_in_turn
from registry.storage.db import session_scope

__all__ = ["Dispatcher", "dispatch"]

logger = logging.getLogger(__name__)

_Job = tuple[str, Future[int]]


class Dispatcher:
    """Serves subscriptions on ``concurrency`` threads, each subscription on one thread
    at a time; every attempt lasts ``deadline`` seconds at most. ``clock`` gives the
    time that decides what is due and when a failed delivery is tried again;
    ``policy`` which addresses deliveries may go to.

    Its threads are daemons: a process that exits does not wait for a receiver.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], datetime],
        deadline: float,
        concurrency: int,
        policy: AddressPolicy,
    ) -> None:
        if deadline <= 0 or concurrency < 1:
            raise ValueError("a dispatcher needs a positive deadline and at least one thread")
        self._engine = engine
        self._clock = clock
        self._deadline = deadline
        self._policy = policy
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._in_hand: set[str] = set()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._work, name=f"webhooks-{n}", daemon=True)
            for n in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    def start_round(self) -> list[Future[int]]:
        """Hand every subscription not already in hand to the threads, in turn, and
        return at once: one future per subscription handed, with how many of its
        deliveries were delivered. Raises what the database raises listing them."""
        with session_scope(self._engine) as session:
            turn = subscriptions_in_turn(session)
        handed: list[Future[int]] = []
        with self._lock:
            for subscription_id in turn:
                if subscription_id in self._in_hand:
                    continue  # still busy from an earlier round: its receiver is slow
                self._in_hand.add(subscription_id)
                future: Future[int] = Future()
                self._jobs.put((subscription_id, future))
                handed.append(future)
        return handed

    def close(self) -> None:
        """Let the threads finish what they were handed, then stop them."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            subscription_id, future = job
            delivered = 0
            try:
                delivered = serve_subscription(
                    self._engine,
                    subscription_id,
                    clock=self._clock,
                    deadline=self._deadline,
                    policy=self._policy,
                )
            except Exception as exc:
                # One subscription's failure (its database work) does not stop the others.
                logger.warning("webhook subscription %s: %s", subscription_id, type(exc).__name__)
            finally:
                # Out of hand before its result is known, so the next round may take it.
                with self._lock:
                    self._in_hand.discard(subscription_id)
            future.set_result(delivered)


def dispatch(
    engine: Engine, *, now: datetime, deadline: float, concurrency: int, policy: AddressPolicy
) -> int:
    """One round at the time ``now``: queue new matching changes and try every due
    delivery, ``concurrency`` subscriptions at once, each attempt within ``deadline``
    seconds to an address ``policy`` allows; returns how many were delivered once
    every subscription is done."""
    with Dispatcher(
        engine, clock=lambda: now, deadline=deadline, concurrency=concurrency, policy=policy
    ) as dispatcher:
        return sum(future.result() for future in dispatcher.start_round())
