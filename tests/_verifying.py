"""A seeded demo node in process for the verification tests: its client, tokens,
verifier and trust chain; a report signed again by its key, as a dishonest node
could send it; and what an offline check found failing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from sqlmodel import Session

from registry.credentials.records import RecordIn
from registry.crypto.eddsa_jcs_2022 import add_proof
from registry.issuing import IssuingContext, issue_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.trust.document import digest_of
from registry.trust.store import stored_versions
from registry.verification import EngineerVerifier
from registry.verification.offline import Check, check_file

__all__ = ["Node", "failures", "resigned"]

RECORD = TypeAdapter(RecordIn)


class Node:
    """A seeded demo node in-process: its client, tokens, verifier and trust chain."""

    def __init__(self, settings: Settings, client: TestClient, tokens: dict[str, str]) -> None:
        self.settings = settings
        self.client = client
        self.tokens = tokens
        self.context = IssuingContext.for_node(settings)
        self.verifier = EngineerVerifier(
            key_store=self.context.key_store, lookup=self.context.lookup, demo=settings.demo
        )

    def session(self) -> Iterator[Session]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            yield s

    def verify(self, **body: Any) -> dict[str, Any]:
        response = self.client.post(
            "/v1/verify/engineer",
            json=body,
            headers={"Authorization": f"Bearer {self.tokens['verifier']}"},
        )
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    def chain(self) -> list[dict[str, Any]]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            return [json.loads(row.canonical) for row in stored_versions(s)]

    def check(self, document: dict[str, Any]) -> Check:
        """``document`` checked offline against the node's chain, its genesis pinned."""
        chain = self.chain()
        return check_file(document, trust_lists=chain, genesis=digest_of(chain[0]), demo=True)

    def issue(self, items: list[dict[str, Any]]) -> list[str]:
        with engine_scope(self.settings.database_url) as engine, session_scope(engine) as s:
            result = issue_records(s, self.context, [RECORD.validate_python(i) for i in items])
            return [r.credential.id for r in result.records]


def resigned(node: Node, report: dict[str, Any]) -> dict[str, Any]:
    """The report signed again by the node's key: what a dishonest node could send."""
    unsigned = {k: v for k, v in report.items() if k != "proof"}
    now = datetime.now(UTC).replace(microsecond=0)
    for session in node.session():
        _, signer = node.verifier.node_signer(session, at=now)
    return add_proof(unsigned, signer, created=now)


def failures(check: Check, path: str = "") -> list[str]:
    """Every check that failed under ``check``, each as its path and why."""
    here = f"{path} > {check.name}" if path else check.name
    found = [f"{here}: {check.detail}"] if check.ok is False else []
    for child in check.children:
        found += failures(child, here)
    return found
