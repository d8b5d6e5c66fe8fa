"""Status-list entries are allocated at random, never twice, however full the list is."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, insert
from sqlmodel import Session

from registry.authorities import keys_of
from registry.crypto.keys import KeyStore
from registry.issuing.status_lists import StatusLists
from registry.storage.base import table_of
from registry.storage.models import Record, StoredCredential
from tests._support import found_federation

NOW = datetime(2026, 11, 21, tzinfo=UTC)


def test_allocation_skips_taken_entries_and_never_repeats(
    engine: Engine, key_store: KeyStore
) -> None:
    size = 131_072
    with Session(engine) as session:
        found_federation(session, key_store, now=NOW, genesis=False)
        method = next(
            k.verification_method for k in keys_of(session, "CN-SH") if k.purpose == "issuing"
        )
        session.commit()
        # Two thirds of the list taken already: most random picks collide.
        taken = list(range(0, size, 3)) + list(range(1, size, 3))
        session.execute(
            insert(table_of(StoredCredential)),
            [
                {
                    "id": f"urn:test:{n}",
                    "type": "ContinuingEducationCredit",
                    "issuer_code": "CN-SH",
                    "verification_method": method,
                    "subject_lookup": None,
                    "digest": f"{n:064x}",
                    "canonical": "{}",
                    "signed_at": NOW,
                    "recorded_at": NOW,
                }
                for n in range(len(taken))
            ],
        )
        session.execute(
            insert(table_of(Record)),
            [
                {
                    "credential_id": f"urn:test:{n}",
                    "type": "ContinuingEducationCredit",
                    "authority_code": "CN-SH",
                    "state": "active",
                    "revocation_index": index,
                    "updated_at": NOW,
                }
                for n, index in enumerate(taken)
            ],
        )
        lists = StatusLists(session, "CN-SH", node_url="http://node.example", entries=size)
        picked = [index for index, _ in lists.allocate("revocation", 20_000)]
        assert len(set(picked)) == len(picked) == 20_000
        assert not set(picked) & set(taken)
        assert all(index % 3 == 2 for index in picked)
        more = [index for index, _ in lists.allocate("revocation", 1000)]
        assert not set(more) & set(picked)
