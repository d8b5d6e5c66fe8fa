"""The processes a following node verifies a peer's entries on, and its read-ahead.

A step of ``registry.federation.follower.follow_once`` given ``Verifiers`` has each
entry bundle of the peer's tiles it fetches (c2sp.org/tlog-tiles: 256 entries, each
its leaf's bytes) parsed and verified on the pool (``check_page``), one bundle a
task, while it fetches the next. Bundles, rather than the entries endpoint's pages
of JSON, because they are cheaper to read: fetching and parsing 200,000 entries of
a log of 1,000,000 took 42 µs an entry as bundles against 56 µs as pages, 11 µs of
it the reader's CPU against 26 µs (the origin's cost is the same). Where the step
keeps a chunk that ends before the peer's checkpoint, the next chunk's bundles are
fetched and submitted on a thread while the step stores its own (``read_ahead``):
the next step takes them (``take``) if it follows the same log from that size
against the same signed checkpoint, and otherwise they are dropped. Nothing read
ahead is kept without the checks of ``verify_extension``: it only saves the next
step the waiting.

The caller keeps one ``Verifiers`` across steps and closes it (a context manager).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType

import httpx

from registry.federation.follow import Bundle, PageCheck, check_page
from registry.tlog.tiles import TILE_WIDTH, bundle_path
from registry.trust.chain import TrustListVersion

__all__ = ["ENTRIES_PAGE", "Verifiers", "read_bundles", "read_pages"]

ENTRIES_PAGE = 1000
"""Entries asked for at a time: the most the entries endpoint answers."""


def read_pages(client: httpx.Client, authority: str, start: int, end: int) -> Iterator[bytes]:
    """Entries ``start`` to ``end`` of the peer's log, a page at a time, as the peer
    answers them (JSON, parsed where they are verified). Raises ``httpx.HTTPError``."""
    while start < end:
        stop = min(end, start + ENTRIES_PAGE)
        answer = client.get(f"/v1/logs/{authority}/entries", params={"start": start, "end": stop})
        answer.raise_for_status()
        yield answer.content
        start = stop


def read_bundles(
    client: httpx.Client, authority: str, start: int, end: int, size: int
) -> Iterator[Bundle]:
    """Entries ``start`` to ``end`` of the peer's log of ``size`` entries (its
    checkpoint's), an entry bundle at a time (full, or partial where the log ends
    within it), each with the entries of it wanted. Raises ``httpx.HTTPError``."""
    for index in range(start // TILE_WIDTH, (end + TILE_WIDTH - 1) // TILE_WIDTH):
        first = index * TILE_WIDTH
        answer = client.get(f"/v1/logs/{authority}/tile/entries/{bundle_path(index, size)}")
        answer.raise_for_status()
        yield Bundle(answer.content, first, max(start, first), min(end, first + TILE_WIDTH))


@dataclass
class _Ahead:
    """A chunk read ahead: which, and the checks of its pages submitted so far."""

    key: tuple[str, str, int, int]  # authority, signed note, start, end
    pages: list[Future[PageCheck]] = field(default_factory=list)
    failed: bool = False
    reader: threading.Thread | None = None


class Verifiers:
    """A pool of ``workers`` processes (by default one a core) verifying pages of a
    peer's entries, and at most one chunk read ahead."""

    def __init__(self, workers: int | None = None) -> None:
        # Spawned, not forked: the serving process has threads (the followers, the
        # webhook deliveries), and a fork copies any lock one of them holds.
        self.pool = ProcessPoolExecutor(
            max_workers=workers or os.cpu_count() or 1,
            mp_context=multiprocessing.get_context("spawn"),
        )
        self._ahead: _Ahead | None = None

    def read_ahead(
        self,
        client: httpx.Client,
        *,
        authority: str,
        note: str,
        start: int,
        end: int,
        size: int,
        trust: TrustListVersion,
        signed_at: datetime,
        now: datetime,
    ) -> None:
        """Fetch entries ``start`` to ``end`` of ``authority``'s log on a thread, and
        submit each page's check against ``note`` (its checkpoint, signed at
        ``signed_at``) as it arrives. A chunk read ahead before is dropped."""
        self.drop()
        ahead = _Ahead((authority, note, start, end))

        def read() -> None:
            try:
                for body in read_bundles(client, authority, start, end, size):
                    ahead.pages.append(
                        self.pool.submit(
                            check_page,
                            body,
                            authority=authority,
                            trust=trust,
                            signed_at=signed_at,
                            now=now,
                        )
                    )
            except (httpx.HTTPError, RuntimeError):
                # The step that needs the chunk reads it again, and says what fails.
                ahead.failed = True

        ahead.reader = threading.Thread(target=read, name=f"read-ahead {authority}", daemon=True)
        ahead.reader.start()
        self._ahead = ahead

    def take(
        self, *, authority: str, note: str, start: int, end: int
    ) -> list[Future[PageCheck]] | None:
        """The checks of the chunk read ahead, if it is entries ``start`` to ``end`` of
        ``authority``'s log against ``note`` and was read whole; else ``None`` (and
        whatever was read ahead is dropped)."""
        ahead, self._ahead = self._ahead, None
        if ahead is None:
            return None
        if ahead.reader is not None:
            ahead.reader.join()
        if ahead.failed or ahead.key != (authority, note, start, end):
            for page in ahead.pages:
                page.cancel()
            return None
        return ahead.pages

    def drop(self) -> None:
        """Drop the chunk read ahead, if any."""
        self.take(authority="", note="", start=0, end=0)

    def close(self) -> None:
        """Drop what is read ahead and stop the processes."""
        self.drop()
        self.pool.shutdown(cancel_futures=True)

    def __enter__(self) -> Verifiers:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
