"""Signing, storing and logging credentials: one transaction, all or nothing.

``sign_and_log`` takes unsigned credentials of one authority, signs each with the
authority's current key allowed for its type, stores them, and appends them to the
authority's log as one batch with one signed checkpoint, all in the caller's
transaction. The key file must hold the key its record names; the first credential
each key signs in a batch is verified as any verifier would verify it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from registry.authorities import database_keys, own_signer
from registry.credentials import authority_of, credential_type
from registry.credentials.keys import verify_signed
from registry.crypto.eddsa_jcs_2022 import add_proofs_canonical
from registry.crypto.keys import KeyStore, Signer
from registry.errors import InvalidInput
from registry.storage.credentials import Signed, insert_signed
from registry.tlog.sequencer import AppendResult, append

__all__ = ["SignedBatch", "sign_and_log"]


@dataclass(frozen=True)
class SignedBatch:
    """What ``sign_and_log`` made: the stored credentials, in order, and the log append."""

    credentials: list[Signed]
    log: AppendResult


def sign_and_log(
    session: Session,
    key_store: KeyStore,
    documents: Sequence[Mapping[str, Any]],
    *,
    origin_prefix: str,
    subject_lookups: Sequence[str | None] | None = None,
    now: datetime | None = None,
) -> SignedBatch:
    """Sign, store and log unsigned credentials of one authority.

    ``subject_lookups`` gives each credential's HMAC lookup key, if any. Raises
    ``InvalidInput`` for an empty batch or one that mixes authorities, and whatever
    signing, storing or appending raises; the caller's transaction then writes
    nothing.
    """
    if not documents:
        raise InvalidInput("nothing to issue")
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    issuers = {authority_of(document.get("issuer")) for document in documents}
    if len(issuers) != 1:
        raise InvalidInput("one batch holds the credentials of one authority")
    (authority,) = issuers
    lookups = list(subject_lookups) if subject_lookups is not None else [None] * len(documents)
    if len(lookups) != len(documents):
        raise InvalidInput("one subject lookup key per credential")
    signers: dict[str, Signer] = {}
    kinds = []
    for document in documents:
        kind = credential_type(document)
        if kind not in signers:
            signers[kind] = own_signer(
                session, key_store, authority, purpose="issuing", credential_type=kind, at=now
            ).signer
        kinds.append(kind)
    pairs = add_proofs_canonical(documents, [signers[kind] for kind in kinds], created=now)
    signed = [document for document, _ in pairs]
    canonicals = [canonical for _, canonical in pairs]
    # Each signer's first credential is verified as any verifier would verify it: the
    # key's standing, the proof. The rest are signed the same way by the same key.
    verified: set[str] = set()
    directory = database_keys(session)
    for document, kind in zip(signed, kinds, strict=True):
        if kind not in verified:
            verify_signed(
                document,
                directory=directory,
                credential_type=kind,
                authority=authority,
                at=now,
                needs_log=True,
            )
            verified.add(kind)
    stored = insert_signed(
        session,
        signed,
        canonicals=canonicals,
        kinds=kinds,
        authority=authority,
        verification_methods=[signers[kind].verification_method for kind in kinds],
        subject_lookups=lookups,
        now=now,
    )
    log = append(
        session,
        key_store,
        authority,
        [(row.id, row.canonical.encode("utf-8")) for row in stored],
        origin_prefix=origin_prefix,
        now=now,
    )
    return SignedBatch(credentials=stored, log=log)
