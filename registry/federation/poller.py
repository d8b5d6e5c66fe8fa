"""Following every peer for as long as the node serves: a thread per member this node
does not host, which takes a step of following its log (``follower.follow_once``)
every ``follow_interval_seconds``, and at once when the peer's notice says its log
grew (``notices``). Each step is a transaction of its own; steps repeat while they
make progress, until the mirror holds the peer's checkpoint.

Each poll also asks the peer for its trust list, and accepts a newer version only as
the chain's rules allow, from the genesis this node pinned
(``registry.trust.store.accept_version``): a peer can hand on a version the quorum
signed, never make one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from time import monotonic
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session

from registry.authorities import hosted_codes
from registry.errors import RegistryError
from registry.federation.follower import follow_once, more_to_follow
from registry.federation.verifiers import Verifiers
from registry.storage.db import session_scope
from registry.storage.models import PeerLog, PeerNotice
from registry.trust.chain import TrustListVersion
from registry.trust.document import Member
from registry.trust.store import accept_version, current_version

__all__ = ["Connect", "PeerFollower", "Poller", "peer_client", "take_trust_versions"]

NOTICE_CHECK_SECONDS = 0.2
"""How often a follower looks for a notice from its peer (in this node's database)."""

MAX_STEPS = 10_000
"""Steps in one go at most: past it, the follower lets the others have their turn."""

TIMEOUT = httpx.Timeout(30.0, connect=5.0)


def peer_client(member: Member, token: str | None) -> httpx.Client:
    """A client for ``member``'s node, at its trust-list ``nodeUrl``, with the
    ``federation`` token that node granted this one."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=member.node_url, headers=headers, timeout=TIMEOUT)


Connect = Callable[[Member, str | None], httpx.Client]
"""Makes the client for a member's node, given the token it granted (``peer_client``)."""


def take_trust_versions(
    session: Session, client: httpx.Client, *, now: datetime | None = None
) -> list[int]:
    """Accept the trust-list versions the peer has and this node has not, in order,
    each as the next link of this node's chain. Returns the versions accepted; a
    version that does not verify raises, and none after it is taken. The caller
    commits."""
    ours = current_version(session, at=now)
    if ours is None:
        return []  # no pinned genesis: `registry trust import --genesis` first
    answer = client.get("/v1/trust-list/history")
    answer.raise_for_status()
    theirs = answer.json().get("current") or 0
    accepted: list[int] = []
    for number in range(ours.version + 1, int(theirs) + 1):
        document = client.get(f"/v1/trust-list/{number}")
        document.raise_for_status()
        value: Any = document.json()
        if not isinstance(value, dict):
            raise RegistryError(f"the peer's trust-list version {number} is not a document")
        accepted.append(accept_version(session, value, now=now).version)
    return accepted


class PeerFollower:
    """Follows one member's log until ``stop`` is set: the thread's whole life."""

    def __init__(
        self,
        engine: Engine,
        code: str,
        *,
        tokens: Callable[[], Mapping[str, str]],
        interval: float,
        stop: threading.Event,
        report: Callable[[str], None],
        connect: Connect = peer_client,
    ) -> None:
        self.engine = engine
        self.code = code
        self._connect = connect
        self._tokens = tokens
        self._interval = interval
        self._stop = stop
        self._report = report
        self._verified = -1
        self._forked = False
        self._warned = False
        self._held: tuple[tuple[str, str | None], httpx.Client] | None = None

    def run(self) -> None:
        """Poll, and follow at once on a notice, until stopped."""
        next_poll = 0.0
        while not self._stop.is_set():
            polling = monotonic() >= next_poll
            if polling or self._noticed():
                try:
                    self.follow(poll=polling)
                except Exception as exc:  # reported; the next poll tries again
                    self._report(f"following {self.code}: {type(exc).__name__}: {exc}")
                if polling:
                    next_poll = monotonic() + self._interval
            self._stop.wait(NOTICE_CHECK_SECONDS)
        self.close()

    def _noticed(self) -> bool:
        with session_scope(self.engine) as session:
            notice = session.get(PeerNotice, self.code)
            return notice is not None and notice.tree_size > self._verified

    def follow(self, *, poll: bool = True) -> PeerLog | None:
        """Take steps until the mirror holds the peer's newest checkpoint or a step
        makes no progress; with ``poll``, take the peer's newer trust-list versions
        first. Returns the log's state, or ``None`` if the member left the list."""
        listed = self._listed()
        if listed is None:
            return None
        client = self._client(listed[1])
        if poll and self._take_trust(client):
            listed = self._listed()  # the member as the newer version lists it
            if listed is None:
                return None
        trust, member = listed
        state = self._step(client, trust, member, None)
        if not more_to_follow(state):
            return state
        # A catch-up of more than a chunk: the pages are verified on a pool of
        # processes while the next is fetched, for as long as it lasts.
        with Verifiers() as verifiers:
            for _ in range(MAX_STEPS):
                state = self._step(client, trust, member, verifiers)
                if not more_to_follow(state):
                    break
        return state

    def close(self) -> None:
        """Close the connection to the member's node."""
        if self._held is not None:
            self._held[1].close()
            self._held = None

    def _client(self, member: Member) -> httpx.Client:
        # One client for as long as the member's URL and token stay the same: its
        # connections (and TLS context) are kept, not made again each step.
        token = self._tokens().get(self.code)
        if token is None and not self._warned:
            self._warned = True
            self._report(
                f"no federation token from {self.code}'s node: its entries cannot be read; "
                f"keep the one it granted with `registry federation peer-token {self.code}`"
            )
        if self._held is not None and self._held[0] == (member.node_url, token):
            return self._held[1]
        self.close()
        client = self._connect(member, token)
        self._held = ((member.node_url, token), client)
        return client

    def _listed(self) -> tuple[TrustListVersion, Member] | None:
        """The current trust list and the member in it (``None``: it is not listed)."""
        with session_scope(self.engine) as session:
            trust = current_version(session)
        member = trust.content.member(self.code) if trust is not None else None
        return (trust, member) if trust is not None and member is not None else None

    def _take_trust(self, client: httpx.Client) -> bool:
        try:
            with session_scope(self.engine) as session:
                taken = take_trust_versions(session, client)
        except (httpx.HTTPError, RegistryError) as exc:
            self._report(f"trust list from {self.code}'s node: {exc}")
            return False
        for version in taken:
            self._report(f"took trust-list version {version} from {self.code}'s node")
        return bool(taken)

    def _step(
        self,
        client: httpx.Client,
        trust: TrustListVersion,
        member: Member,
        verifiers: Verifiers | None,
    ) -> PeerLog:
        with session_scope(self.engine) as session:
            state = follow_once(
                session, member=member, trust=trust, client=client, verifiers=verifiers
            )
            session.flush()
            self._verified = state.tree_size
            if state.state == "forked" and not self._forked:
                self._forked = True
                self._report(
                    f"FORK: {self.code}'s log cannot be followed any more ({state.last_error}); "
                    "the evidence is kept: registry federation evidence export"
                )
            session.expunge(state)
            return state


class Poller:
    """A ``PeerFollower`` thread for each member this node does not host; a member that
    joins the trust list later gets one when ``tick`` next runs."""

    def __init__(
        self,
        engine: Engine,
        *,
        tokens: Callable[[], Mapping[str, str]],
        interval: float,
        report: Callable[[str], None] = lambda _message: None,
        connect: Connect = peer_client,
    ) -> None:
        self._engine = engine
        self._tokens = tokens
        self._interval = interval
        self._report = report
        self._connect = connect
        self.stop = threading.Event()
        self._threads: dict[str, threading.Thread] = {}

    def tick(self, now: datetime | None = None) -> None:
        """Start following every member not yet followed."""
        with session_scope(self._engine) as session:
            trust = current_version(session, at=now or datetime.now(UTC))
            if trust is None:
                return
            hosted = set(hosted_codes(session))
            members = [m.code for m in trust.content.members if m.code not in hosted]
        for code in members:
            if code in self._threads and self._threads[code].is_alive():
                continue
            follower = PeerFollower(
                self._engine,
                code,
                tokens=self._tokens,
                interval=self._interval,
                stop=self.stop,
                report=self._report,
                connect=self._connect,
            )
            thread = threading.Thread(target=follower.run, name=f"follow-{code}", daemon=True)
            self._threads[code] = thread
            thread.start()

    def close(self) -> None:
        """Stop every follower, and wait for them to finish their step."""
        self.stop.set()
        for thread in self._threads.values():
            thread.join(timeout=60)
