"""What the federation tests do to a seeded node as its peers would: read its log over
its API, sign with its own log key (as a node rewriting its log would), take its
trust list into another node's database, and serve it over HTTP to a follower with a
fresh database of its own."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api import create_app
from registry.authorities import own_signer
from registry.calendar import china_today
from registry.crypto.jcs import canonical_bytes
from registry.crypto.keys import Signer
from registry.federation import Verified
from registry.federation.follower import CHUNK, Mirror, follow_once, more_to_follow
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Record
from registry.tlog.checkpoint import Checkpoint, parse_checkpoint, sign_note
from registry.tlog.tiles import TILE_WIDTH, parse_tile_path, read_bundle
from registry.trust.chain import TrustListVersion
from registry.trust.document import Member
from registry.trust.store import accept_version, current_version, stored_versions
from tests._support import migrated_sqlite, seed_demo_node

__all__ = [
    "FOLLOWED",
    "Peer",
    "decide",
    "fresh_database",
    "log_entries",
    "log_note",
    "log_signer",
    "note_size",
    "peer_client",
    "postgresql_databases",
    "serve_peer",
    "take_trust_list",
    "tampered_bundle",
]

FOLLOWED = "CN-JS"
"""The peer's log the federation tests follow."""


def log_note(client: TestClient, authority: str) -> str:
    """The node's newest signed checkpoint of ``authority``'s log."""
    answer = client.get(f"/v1/logs/{authority}/checkpoint")
    assert answer.status_code == 200, answer.text
    return answer.text


def tampered_bundle(
    client: TestClient,
    request: httpx.Request,
    index: int,
    change: Callable[[dict[str, Any]], None] | None = None,
    *,
    text: Callable[[bytes], bytes] | None = None,
) -> httpx.Response | None:
    """The entry bundle ``request`` asks for, as the peer serves it, with the entry of
    the log's ``index`` changed by ``change`` (and written canonically again) or its
    bytes by ``text``; ``None`` (the peer answers) if the bundle does not hold it."""
    if "/tile/entries/" not in request.url.path:
        return None
    tile = parse_tile_path("entries", request.url.path.split("/tile/entries/", 1)[1])
    first = tile.index * TILE_WIDTH
    if not first <= index < first + tile.count:
        return None
    body = client.get(
        request.url.path, headers={"Authorization": request.headers["Authorization"]}
    ).content
    leaves = read_bundle(body)
    leaf = leaves[index - first]
    if change is not None:
        document = json.loads(leaf)
        change(document)
        leaf = canonical_bytes(document)
    if text is not None:
        leaf = text(leaf)
    leaves[index - first] = leaf
    return httpx.Response(200, content=b"".join(len(x).to_bytes(2, "big") + x for x in leaves))


def log_entries(
    client: TestClient, token: str, authority: str, start: int, end: int
) -> list[dict[str, Any]]:
    """Entries ``start`` to ``end`` of the log, a page at a time, with a `federation`
    token, as a following node reads them."""
    found: list[dict[str, Any]] = []
    while start < end:
        page = client.get(
            f"/v1/logs/{authority}/entries",
            params={"start": start, "end": min(end, start + 1000)},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert page.status_code == 200, page.text
        got = [e["leaf"] for e in page.json()["entries"]]
        found += got
        start += len(got)
    return found


Handler = Callable[[httpx.Request], httpx.Response | None]
"""Answers a request in place of the node, or ``None`` to let it through."""


def peer_client(client: TestClient, token: str, handler: Handler | None = None) -> httpx.Client:
    """A client reaching the node behind ``client`` as a following node reaches its
    peer: its base URL, with a `federation` ``token`` (a request whose header was
    taken away goes without one). ``handler`` may answer a request instead of the
    node (to tamper with it)."""

    def forward(request: httpx.Request) -> httpx.Response:
        changed = handler(request) if handler else None
        if changed is not None:
            return changed
        answer = client.request(
            request.method,
            request.url.path,
            params=dict(request.url.params),
            headers={"Authorization": request.headers.get("Authorization", "")},
        )
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return httpx.Client(
        base_url="http://peer.test",
        transport=httpx.MockTransport(forward),
        headers={"Authorization": f"Bearer {token}"},
    )


def note_size(note: str) -> int:
    """The size a signed checkpoint states (its body ends at the blank line)."""
    return parse_checkpoint(note.split("\n\n", maxsplit=1)[0] + "\n").size


def log_signer(settings: Settings, authority: str) -> Signer:
    """The node's own log key for ``authority``."""
    store = IssuingContext.for_node(settings).key_store
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        held = own_signer(
            session, store, authority, purpose="log", credential_type=None, at=datetime.now(UTC)
        )
        return held.signer


def take_trust_list(session: Session, source: Settings) -> None:
    """Accept into ``session``'s database every trust-list version of the node at
    ``source``, from its genesis, as a joining node does."""
    with engine_scope(source.database_url) as engine, session_scope(engine) as own:
        versions = stored_versions(own)
        documents = [json.loads(row.canonical) for row in versions]
        genesis = versions[0].digest
    accept_version(session, documents[0], genesis_digest=genesis)
    for document in documents[1:]:
        accept_version(session, document)


def decide(
    client: TestClient, token: str, target: str, action: str, *, reason: str, decision: str
) -> Any:
    """Post a change of ``target``'s status, effective today, as an official of its
    authority does (``POST /v1/credentials/{id}/status``); returns the answer."""
    return client.post(
        f"/v1/credentials/{target}/status",
        json={
            "action": action,
            "reason": reason,
            "decision_number": decision,
            "effective_on": china_today().isoformat(),
        },
        headers={"Authorization": f"Bearer {token}"},
    )


class Peer:
    """A seeded demo node answering over HTTP, and a follower's own database."""

    def __init__(self, settings: Settings, client: TestClient, tokens: dict[str, str], db: str):
        self.settings = settings
        self.client = client
        self.tokens = tokens
        self.db = db
        with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
            trust = current_version(session)
        assert trust is not None
        self.trust: TrustListVersion = trust
        self.member: Member = next(m for m in trust.content.members if m.code == FOLLOWED)
        self.kept: list[tuple[int, int]] = []

    def transport(self, handler: Handler | None = None) -> httpx.Client:
        """A client reaching the peer as a follower does, with its federation token;
        ``handler`` may answer a request instead of the peer (to tamper with it)."""
        return peer_client(self.client, self.tokens["federation"], handler)

    def mirror(self, _session: Session, authority: str, verified: Verified, start: int) -> None:
        assert authority == FOLLOWED
        self.kept.append((start, len(verified.documents)))

    def step(
        self, client: httpx.Client, *, chunk: int = CHUNK, mirror: Mirror | None = None
    ) -> Any:
        with engine_scope(self.db) as engine, session_scope(engine) as session:
            state = follow_once(
                session,
                member=self.member,
                trust=self.trust,
                client=client,
                mirror=mirror or self.mirror,
                chunk=chunk,
            )
            session.flush()
            return {
                "state": state.state,
                "size": state.tree_size,
                "peer": state.peer_size,
                "error": state.last_error,
                "more": more_to_follow(state),
            }

    def registrations(self, state: str) -> list[str]:
        """The credential ids of the peer's registrations (of ``FOLLOWED``) in ``state``."""
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            return list(
                s.exec(
                    select(Record.credential_id).where(
                        Record.authority_code == FOLLOWED,
                        Record.type == "SafetyEngineerRegistration",
                        Record.state == state,
                    )
                ).all()
            )

    def size(self) -> int:
        return note_size(log_note(self.client, FOLLOWED))

    def signed(self, checkpoint: Checkpoint) -> str:
        return sign_note(
            checkpoint.text(),
            self.member.log.origin,
            log_signer(self.settings, FOLLOWED),
            timestamp=int(datetime.now(UTC).timestamp()),
        )


@contextmanager
def serve_peer(settings: Settings, follower: str) -> Iterator[Peer]:
    """The seeded demo node of ``settings`` answering over HTTP, its checkpoints not
    yet cosigned, followed by a node whose database (migrated) is at ``follower``."""
    tokens = seed_demo_node(settings, witnessed=False)
    with TestClient(create_app(settings)) as client:
        yield Peer(settings, client, tokens, follower)


@contextmanager
def postgresql_databases(
    db_url: str, request: pytest.FixtureRequest, count: int
) -> Iterator[list[str]]:
    """``count`` fresh, migrated databases in the test's PostgreSQL cluster (``db_url``
    is one of its databases), made from its template and dropped afterwards."""
    server = request.getfixturevalue("pg_server")
    names = [f"registry_node_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    admin = {
        "host": server.host,
        "port": server.port,
        "user": server.user,
        "password": server.password,
        "dbname": "postgres",
    }
    with psycopg.connect(**admin, autocommit=True) as connection:
        for name in names:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{server.template_dbname}"')
    try:
        yield [db_url.rsplit("/", 1)[0] + f"/{name}" for name in names]
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            for name in names:
                connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A second fresh, migrated database of the same kind as ``db_url``: another node's."""
    if db_url.startswith("sqlite"):
        template = request.getfixturevalue("sqlite_template")
        yield migrated_sqlite(template, tmp_path / f"node-{uuid.uuid4().hex[:8]}.sqlite3")
        return
    with postgresql_databases(db_url, request, 1) as (url,):
        yield url
