"""A separate process appending to one log, for the concurrency test."""

from __future__ import annotations

from pathlib import Path

from registry.crypto.keys import KeyStore
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import StoredCredential
from registry.tlog.sequencer import append


def append_each(url: str, keys: str, passphrase: bytes, credential_ids: list[str]) -> int:
    """Append each credential in its own transaction, as API workers would."""
    key_store = KeyStore(Path(keys), passphrase=passphrase)
    with engine_scope(url) as engine:
        for credential_id in credential_ids:
            with session_scope(engine) as session:
                row = session.get(StoredCredential, credential_id)
                assert row is not None
                append(
                    session,
                    key_store,
                    "CN-SH",
                    [(credential_id, row.canonical.encode("utf-8"))],
                    origin_prefix="registry.yrd.example",
                )
    return len(credential_ids)
