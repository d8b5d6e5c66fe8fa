"""What the federation tests do to a seeded node as its peers would: read its log over
its API, reach it as a following node does, sign with its own log key (as a node
rewriting its log would), and take its trust list into another node's database."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.authorities import own_signer
from registry.crypto.keys import Signer
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.tlog.checkpoint import parse_checkpoint
from registry.trust.store import accept_version, stored_versions

__all__ = [
    "log_entries",
    "log_note",
    "log_signer",
    "note_size",
    "peer_client",
    "take_trust_list",
]


def log_note(client: TestClient, authority: str) -> str:
    """The node's newest signed checkpoint of ``authority``'s log."""
    answer = client.get(f"/v1/logs/{authority}/checkpoint")
    assert answer.status_code == 200, answer.text
    return answer.text


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


def peer_client(client: TestClient, token: str) -> httpx.Client:
    """A client reaching the node behind ``client`` as a following node reaches its
    peer: its base URL, with a `federation` ``token``."""

    def forward(request: httpx.Request) -> httpx.Response:
        answer = client.request(
            request.method,
            request.url.path,
            params=dict(request.url.params),
            headers={"Authorization": request.headers["Authorization"]},
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
