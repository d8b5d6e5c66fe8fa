"""Which witness to ask about which checkpoint of a hosted log: the cosigner's rounds
(``registry.federation.cosigning``), as bookkeeping alone, no I/O.

A round is a log's checkpoint that every witness asked in it is asked about. It is
*settled* once the policy's number of them cosigned it, or every one asked answered
or failed. A log's next round, of its newest checkpoint, starts only once its latest
is settled and the log has grown past it, and no sooner than ``ROUND_GAP_SECONDS``
after the latest began: a log that grows all the time has its checkpoints witnessed
a few times a second, not at every append, so witnessing takes little from issuing
(bench/issue.py, bench/witnessing.py measure both); until then a witness free to be asked
(not busy with that log, not failed lately, not having answered for that size) is
asked about the latest round's checkpoint: one that was busy with an older round, or
is back after failing. A witness is busy with a log from being asked until it
answers or fails, whatever round it was asked in.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from time import monotonic

__all__ = ["ROUND_GAP_SECONDS", "Round", "Rounds"]

ROUND_GAP_SECONDS = 0.1
"""The least time between the starts of two rounds of one log."""


@dataclass
class Round:
    """A log's checkpoint that every witness asked is asked about, and how they
    answered (a witness asked again after failing is taken out of ``over``)."""

    size: int
    note: str
    needed: int  # cosignatures the witness policy needs
    asked: set[str] = field(default_factory=set)
    cosigned: set[str] = field(default_factory=set)
    over: set[str] = field(default_factory=set)  # answered or failed
    started: float = field(default_factory=monotonic)

    def settled(self) -> bool:
        """The policy's number cosigned it, or every witness asked answered or failed."""
        return len(self.cosigned) >= self.needed or self.asked <= self.over


class Rounds:
    """Each hosted log's latest round, the witnesses busy and those that failed
    lately; safe to use from several threads."""

    def __init__(self, *, gap: float = ROUND_GAP_SECONDS) -> None:
        self._gap = gap
        self._latest: dict[str, Round] = {}
        self._busy: set[tuple[str, str]] = set()  # (witness, log): asked, not answered yet
        self._answered: dict[tuple[str, str], int] = {}  # the newest size it answered for
        self._failed: dict[str, float] = {}  # witness: when it may be asked again
        self._lock = threading.Lock()

    def latest(self, log: str) -> Round | None:
        """The log's latest round (a copy), if it had one."""
        with self._lock:
            found = self._latest.get(log)
            if found is None:
                return None
            return Round(
                found.size,
                found.note,
                found.needed,
                set(found.asked),
                set(found.cosigned),
                set(found.over),
                found.started,
            )

    def target(self, log: str, size: int) -> tuple[int, str] | None:
        """The size and note of the checkpoint to ask about when the log holds
        ``size`` entries: its latest round's, or None for a new round of the newest."""
        with self._lock:
            latest = self._latest.get(log)
            if latest is None or (
                latest.settled()
                and size > latest.size
                and monotonic() - latest.started >= self._gap
            ):
                return None
            return latest.size, latest.note

    def next_start(self) -> float | None:
        """Seconds until the earliest settled round's gap is over (0: now), if any."""
        now = monotonic()
        with self._lock:
            waits = [
                max(0.0, r.started + self._gap - now) for r in self._latest.values() if r.settled()
            ]
        return min(waits, default=None)

    def free(self, log: str, witnesses: Iterable[str], size: int) -> list[str]:
        """Those of ``witnesses`` to ask about the log's checkpoint of ``size``: not
        busy with the log, not failed lately, not having answered for that size."""
        now = monotonic()
        with self._lock:
            return [
                witness
                for witness in witnesses
                if (witness, log) not in self._busy
                and self._failed.get(witness, 0) <= now
                and self._answered.get((witness, log), 0) < size
            ]

    def ask(self, log: str, size: int, note: str, needed: int, witnesses: Collection[str]) -> None:
        """``witnesses`` are asked about the log's checkpoint of ``size``: in its
        latest round if of that size, else in a new one; busy until they answer."""
        with self._lock:
            latest = self._latest.get(log)
            if latest is None or latest.size != size:
                latest = self._latest[log] = Round(size, note, needed)
            latest.asked.update(witnesses)
            latest.over.difference_update(witnesses)
            self._busy.update((witness, log) for witness in witnesses)

    def answered(self, log: str, size: int, witnesses: Collection[str], *, cosigned: bool) -> bool:
        """``witnesses``, asked about the log's checkpoint of ``size``, answered (with
        a cosignature if ``cosigned``: not asked about that size again) or failed;
        they are free again. Whether a tick now has work: the round is settled by
        it, or they had been left behind by the rounds (an older one) and may join
        the latest."""
        with self._lock:
            self._busy.difference_update((witness, log) for witness in witnesses)
            for witness in witnesses if cosigned else ():
                key = (witness, log)
                self._answered[key] = max(self._answered.get(key, 0), size)
            latest = self._latest.get(log)
            if latest is None or latest.size != size:
                return True
            before = latest.settled()
            latest.over.update(witnesses)
            if cosigned:
                latest.cosigned.update(witnesses)
            return latest.settled() and not before

    def answered_for(self, witness: str, log: str, size: int) -> None:
        """The witness answered for the log's checkpoint of ``size`` without
        cosigning it (it had cosigned a newer one): not asked about that size again."""
        with self._lock:
            key = (witness, log)
            self._answered[key] = max(self._answered.get(key, 0), size)

    def failed(self, witnesses: Iterable[str], seconds: float) -> None:
        """``witnesses`` failed: not asked for ``seconds`` (a longer wait set before
        stands)."""
        again = monotonic() + seconds
        with self._lock:
            for witness in witnesses:
                self._failed[witness] = max(self._failed.get(witness, 0), again)

    def recovered(self, witnesses: Iterable[str]) -> None:
        """``witnesses`` answered: asked again at once when due."""
        with self._lock:
            for witness in witnesses:
                self._failed.pop(witness, None)
