"""Member authorities and the keys the node holds for them."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.credentials import CREDENTIAL_TYPES, CredentialType
from registry.credentials.keys import KeyDirectory, KeyRecord, key_standing
from registry.crypto.keys import KeyLocation, KeyStore, Signer
from registry.crypto.multikey import encode_public_multikey
from registry.errors import Conflict, InvalidInput, KeyResolutionError, KeyStoreError, NotFound
from registry.ids import province
from registry.storage.models import Authority, SigningKey
from registry.text import check_text

__all__ = [
    "ISSUING_TYPES",
    "NODE_TYPES",
    "HeldKey",
    "InToken",
    "create_authority",
    "create_node_key",
    "create_witness_key",
    "database_keys",
    "find_key",
    "get_authority",
    "held_signer",
    "hosted_codes",
    "key_location",
    "keys_of",
    "list_authorities",
    "own_signer",
    "record_of",
    "revoke_key",
    "rotate_key",
    "usable_log_key",
]

ISSUING_TYPES: tuple[str, ...] = tuple(
    t for t in CREDENTIAL_TYPES if t not in (CredentialType.VERIFICATION_REPORT,)
)
"""What an authority's issuing key may sign: every record type but node reports."""

NODE_TYPES: tuple[str, ...] = (CredentialType.VERIFICATION_REPORT,)
"""What a node key may sign: the node's own verification reports, nothing else."""

_MAX_REASON = 500
_MAX_TOKEN_LABEL = 32  # CK_TOKEN_INFO's label field
_MAX_KEY_LABEL = 128  # the node's record of a key's name


def _whole_seconds(moment: datetime) -> datetime:
    # Proofs state their time to the second; a key's window is kept to the second
    # too, so a key is valid for a proof made in the very second it starts.
    if moment.tzinfo is None:
        raise InvalidInput("times must carry a time zone")
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class InToken:
    """Where a new key's private half goes: generated inside the PKCS#11 token labelled
    ``token`` under ``label`` (default: the name a file key would have), or, with
    ``existing``, the key that token already holds under ``label``."""

    token: str
    label: str | None = None
    existing: bool = False

    def __post_init__(self) -> None:
        if not 0 < len(self.token.encode("utf-8")) <= _MAX_TOKEN_LABEL:
            raise InvalidInput(f"a token's label has 1 to {_MAX_TOKEN_LABEL} bytes")
        if self.label is not None and not 0 < len(self.label.encode("utf-8")) <= _MAX_KEY_LABEL:
            raise InvalidInput(f"a key's label has 1 to {_MAX_KEY_LABEL} bytes")
        if self.existing and self.label is None:
            raise InvalidInput("name the token's existing key by its label")


def key_location(key: SigningKey) -> KeyLocation | None:
    """Where the node holds the key's private half (``None``: a peer's key, not held)."""
    if not key.key_name:
        return None
    return KeyLocation(key.key_name, key.token_label)


def _make_signer(
    session: Session, key_store: KeyStore, name: str, in_token: InToken | None
) -> Signer:
    if in_token is None:
        return key_store.create(name)
    label = in_token.label or name
    if session.exec(select(SigningKey).where(col(SigningKey.key_name) == label)).first():
        raise Conflict(f"the node records a key named {label!r} already")
    if not in_token.existing:
        return key_store.create_in_token(in_token.token, label)
    signer = key_store.signer(KeyLocation(label, in_token.token))
    if session.get(SigningKey, signer.verification_method) is not None:
        raise Conflict(f"the key labelled {label!r} is recorded already")
    return signer


def _new_key(
    session: Session,
    key_store: KeyStore,
    *,
    authority: str,
    purpose: str,
    allowed_types: tuple[str, ...],
    now: datetime,
    valid_from: datetime | None = None,
    in_token: InToken | None = None,
) -> SigningKey:
    # A key is newer than every other of its authority and purpose by its start, to the
    # second (keys are ordered by it: "the newest" is the last): one made within the
    # same second as the last starts a second after it.
    start = valid_from or now
    latest = session.exec(
        select(func.max(SigningKey.valid_from)).where(
            col(SigningKey.authority_code) == authority, col(SigningKey.purpose) == purpose
        )
    ).one()
    if latest is not None and latest >= start:
        start = latest + timedelta(seconds=1)
    name = f"{authority}-{purpose}-{now:%Y%m%d}-{secrets.token_hex(4)}"
    signer = _make_signer(session, key_store, name, in_token)
    key = SigningKey(
        verification_method=signer.verification_method,
        authority_code=authority,
        purpose=purpose,
        public_key_multibase=encode_public_multikey(signer.public_key),
        allowed_types=list(allowed_types),
        valid_from=start,
        key_name=name if in_token is None else in_token.label or name,
        token_label=None if in_token is None else in_token.token,
        created_at=now,
    )
    session.add(key)
    return key


def create_authority(
    session: Session,
    key_store: KeyStore,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    now: datetime | None = None,
    token: str | None = None,
) -> Authority:
    """Record an authority and generate its first issuing key, its log key and its
    witness key: as files in the key store, or inside the PKCS#11 token labelled
    ``token``.

    ``code`` is an ISO 3166-2 province code (``CN-SH``); the GB/T 2260 code is
    derived from it. Raises ``InvalidInput`` for a bad code, empty names or a name
    with a character an organisation's name cannot hold (``registry.text``), and
    ``Conflict`` if the authority exists; ``KeyStoreError`` if a key cannot be made.
    The caller commits.
    """
    now = _whole_seconds(now or datetime.now(UTC))
    in_token = InToken(token) if token is not None else None
    found = province(code)
    if found.iso != code.strip().upper():
        raise InvalidInput(
            f"an authority is named by its ISO 3166-2 code ({found.iso}), not {code}"
        )
    if not name_zh.strip() or not name_en.strip():
        raise InvalidInput("an authority needs a Chinese and an English name")
    name_zh = check_text(name_zh.strip(), "organisation", field="name_zh")
    name_en = check_text(name_en.strip(), "organisation", field="name_en")
    if session.get(Authority, found.iso) is not None:
        raise Conflict(f"authority {found.iso} already exists")
    authority = Authority(
        code=found.iso,
        gb_code=found.gb,
        name_zh=name_zh.strip(),
        name_en=name_en.strip(),
        created_at=now,
    )
    session.add(authority)
    session.flush()
    _new_key(
        session,
        key_store,
        authority=found.iso,
        purpose="issuing",
        allowed_types=ISSUING_TYPES,
        now=now,
        in_token=in_token,
    )
    for purpose in ("log", "witness"):
        _new_key(
            session,
            key_store,
            authority=found.iso,
            purpose=purpose,
            allowed_types=(),
            now=now,
            in_token=in_token,
        )
    session.flush()
    return authority


def create_witness_key(
    session: Session,
    key_store: KeyStore,
    code: str,
    *,
    now: datetime | None = None,
    in_token: InToken | None = None,
) -> SigningKey:
    """Generate the key with which this node, for ``code``, cosigns the checkpoints of
    the other members' logs as their witness (c2sp.org/tlog-cosignature). It signs
    nothing else, and is never the log key: a cosignature does not name its signer,
    so one key must not make two kinds of statement. ``create_authority`` makes the
    first; this makes one for an authority created before witnessing, or a new one,
    in a token with ``in_token``. Raises ``NotFound`` for an unknown authority,
    ``KeyStoreError`` or ``Conflict`` if the key cannot be made. The caller commits."""
    now = _whole_seconds(now or datetime.now(UTC))
    authority = get_authority(session, code)
    key = _new_key(
        session,
        key_store,
        authority=authority.code,
        purpose="witness",
        allowed_types=(),
        now=now,
        in_token=in_token,
    )
    session.flush()
    return key


def create_node_key(
    session: Session,
    key_store: KeyStore,
    code: str,
    *,
    now: datetime | None = None,
    in_token: InToken | None = None,
) -> SigningKey:
    """Generate the key this node signs its verification reports with, held for ``code``.

    The key may sign ``VerificationReport`` and nothing else, and counts once the
    trust list lists it (``registry trust propose --add-key``); in a token with
    ``in_token``. Raises ``NotFound`` for an unknown authority, ``KeyStoreError`` or
    ``Conflict`` if the key cannot be made. The caller commits.
    """
    now = _whole_seconds(now or datetime.now(UTC))
    authority = get_authority(session, code)
    key = _new_key(
        session,
        key_store,
        authority=authority.code,
        purpose="node",
        allowed_types=NODE_TYPES,
        now=now,
        in_token=in_token,
    )
    session.flush()
    return key


def list_authorities(session: Session) -> list[Authority]:
    """Every authority, ordered by code."""
    return list(session.exec(select(Authority).order_by(col(Authority.code))).all())


def hosted_codes(session: Session) -> list[str]:
    """The codes of the authorities this node hosts (holds the keys of), in order; the
    others are peers whose logs it keeps as mirrors."""
    return list(
        session.exec(
            select(col(Authority.code)).where(col(Authority.hosted)).order_by(col(Authority.code))
        ).all()
    )


def get_authority(session: Session, code: str) -> Authority:
    """The authority with that ISO 3166-2 or GB/T 2260 code; raises ``NotFound``."""
    authority = session.get(Authority, province(code).iso)
    if authority is None:
        raise NotFound(f"no authority {code}")
    return authority


def keys_of(session: Session, code: str) -> list[SigningKey]:
    """An authority's keys, oldest first."""
    query = (
        select(SigningKey)
        .where(col(SigningKey.authority_code) == code)
        .order_by(col(SigningKey.valid_from), col(SigningKey.verification_method))
    )
    return list(session.exec(query).all())


def usable_log_key(session: Session, code: str, *, at: datetime | None = None) -> SigningKey | None:
    """The authority's newest log key valid at ``at`` (now) by the node's record of
    keys: the one that signs its checkpoints (``own_signer`` picks by the same rule)
    and that the trust list names."""
    found = _allowed_keys(
        session,
        directory=database_keys(session),
        credential_type=None,
        at=at or datetime.now(UTC),
        authority=code,
        purpose="log",
    )
    return next(found, None)


def record_of(key: SigningKey) -> KeyRecord:
    """The key as every verifier sees it (``registry.credentials.keys``)."""
    if key.authority_code is None:
        raise KeyResolutionError(f"{key.verification_method} belongs to no authority")
    return KeyRecord(
        verification_method=key.verification_method,
        authority=key.authority_code,
        public_key_multibase=key.public_key_multibase,
        allowed_types=frozenset(key.allowed_types),
        valid_from=key.valid_from,
        valid_until=key.valid_until,
        compromised_since=key.compromised_since,
        revocation_reason=key.revocation_reason,
    )


def database_keys(session: Session) -> KeyDirectory:
    """A ``KeyDirectory`` over the node's own record of keys."""

    def lookup(verification_method: str) -> KeyRecord | None:
        key = session.get(SigningKey, verification_method)
        return record_of(key) if key is not None else None

    return lookup


@dataclass(frozen=True)
class HeldKey:
    """A key this node holds: whose it is, and the signer of its file or token."""

    authority: str
    verification_method: str
    signer: Signer


def held_signer(
    session: Session,
    key_store: KeyStore,
    *,
    directory: KeyDirectory,
    credential_type: str | None,
    at: datetime,
    authority: str | None = None,
    purpose: str | None = None,
    also_valid_in: Sequence[KeyDirectory] = (),
) -> HeldKey | None:
    """The newest key this node holds that ``directory`` allows to sign
    ``credential_type`` at ``at``.

    Every signing path picks its key here: issuing and the log's checkpoints (the
    node's own record of keys as the directory), the node's reports and trust-list
    proposals (a trust-list version). Candidates are the node's keys, of
    ``authority`` and ``purpose`` where given, newest first. A candidate counts when
    ``directory`` finds it valid then, each of ``also_valid_in`` that knows it does
    too, and the node holds it: its file is in the key store, or its record places it
    in a PKCS#11 token. Returns ``None`` when none counts. Raises ``KeyStoreError`` if
    a key file or token holds another key than its row names (a file swapped or
    restored in the wrong place must never sign), or a token key cannot be reached.
    """
    for key in _allowed_keys(
        session,
        directory=directory,
        credential_type=credential_type,
        at=at,
        authority=authority,
        purpose=purpose,
        also_valid_in=also_valid_in,
    ):
        location = key_location(key)
        if key.authority_code is None or location is None:
            continue
        # A file key whose file is gone is not held; a key the record places in a
        # token is, and a token that cannot be reached is an error, not a reason to
        # sign with another key.
        if location.token is None and not key_store.exists(location.name):
            continue
        signer = key_store.signer(location)
        if signer.verification_method != key.verification_method:
            raise KeyStoreError(f"{location} does not hold the key of {key.verification_method}")
        return HeldKey(
            authority=key.authority_code,
            verification_method=key.verification_method,
            signer=signer,
        )
    return None


def _allowed_keys(
    session: Session,
    *,
    directory: KeyDirectory,
    credential_type: str | None,
    at: datetime,
    authority: str | None = None,
    purpose: str | None = None,
    also_valid_in: Sequence[KeyDirectory] = (),
) -> Iterator[SigningKey]:
    # The node's keys (of ``authority`` and ``purpose`` where given), newest first,
    # that ``directory`` finds valid at ``at``, and each of ``also_valid_in`` that
    # knows them too.
    query = select(SigningKey)
    if authority is not None:
        query = query.where(col(SigningKey.authority_code) == authority)
    if purpose is not None:
        query = query.where(col(SigningKey.purpose) == purpose)
    query = query.order_by(col(SigningKey.valid_from), col(SigningKey.verification_method))
    for key in reversed(session.exec(query).all()):
        method = key.verification_method
        judges = [directory, *(d for d in also_valid_in if d(method) is not None)]
        if all(
            key_standing(
                judge,
                method,
                signed_at=at,
                credential_type=credential_type,
                authority=authority,
            ).valid
            for judge in judges
        ):
            yield key


def own_signer(
    session: Session,
    key_store: KeyStore,
    authority: str,
    *,
    purpose: str,
    credential_type: str | None,
    at: datetime,
) -> HeldKey:
    """The authority's newest ``purpose`` key this node holds that may sign
    ``credential_type`` (a checkpoint, for ``None``) at ``at``, by the node's own record
    of keys (``held_signer``).

    Raises ``KeyStoreError`` when there is none (rotate a key, or restore its file),
    or when a key file holds another key than its row names.
    """
    held = held_signer(
        session,
        key_store,
        directory=database_keys(session),
        credential_type=credential_type,
        at=at,
        authority=authority,
        purpose=purpose,
    )
    if held is None:
        what = credential_type or "checkpoints"
        raise KeyStoreError(
            f"this node holds no {purpose} key of {authority} that may sign {what} now"
        )
    return held


def find_key(session: Session, reference: str) -> SigningKey:
    """A key by verification method, Multikey or key-store name; raises ``NotFound``."""
    reference = reference.strip()
    key = session.get(SigningKey, reference)
    if key is None:
        query = select(SigningKey).where(
            (col(SigningKey.public_key_multibase) == reference)
            | (col(SigningKey.key_name) == reference)
        )
        key = session.exec(query).first()
    if key is None:
        raise NotFound(f"no key {reference}")
    return key


def rotate_key(
    session: Session,
    key_store: KeyStore,
    code: str,
    *,
    at: datetime | None = None,
    allowed_types: Sequence[str] | None = None,
    now: datetime | None = None,
    in_token: InToken | None = None,
) -> tuple[list[SigningKey], SigningKey]:
    """Start a new issuing key for ``code`` at ``at`` and retire the current one(s) then.

    ``at`` defaults to now and may not lie in the past: what a key already signed
    stays valid, so retiring it backwards is what revocation is for. The new key
    may sign ``allowed_types`` (default: what the retired key could); it is a file
    key, or one in a PKCS#11 token with ``in_token``. Returns the retired keys and the
    new key. Raises ``NotFound``, ``InvalidInput``, ``Conflict`` (a rotation is
    already scheduled) or ``KeyStoreError``. The caller commits.
    """
    now = _whole_seconds(now or datetime.now(UTC))
    at = _whole_seconds(at) if at is not None else now
    if at < now:
        raise InvalidInput(
            "a key cannot be retired in the past; to disown what it signed, revoke it"
        )
    authority = get_authority(session, code)
    issuing = [k for k in keys_of(session, authority.code) if k.purpose == "issuing"]
    if any(k.valid_from > now for k in issuing):
        raise Conflict(f"{authority.code} already has a key scheduled to start; rotate after it")
    current = [k for k in issuing if k.valid_until is None or k.valid_until > at]
    if any(k.valid_from >= at for k in current):
        raise InvalidInput("the current key starts at or after that time: rotate later (--at)")
    types = tuple(allowed_types) if allowed_types is not None else _types_of(current)
    unknown = sorted(set(types) - set(ISSUING_TYPES))
    if unknown or not types:
        raise InvalidInput(f"an issuing key may sign {', '.join(ISSUING_TYPES)}; not {unknown}")
    for key in current:
        key.valid_until = at
        session.add(key)
    new = _new_key(
        session,
        key_store,
        authority=authority.code,
        purpose="issuing",
        allowed_types=types,
        now=now,
        valid_from=at,
        in_token=in_token,
    )
    session.flush()
    return current, new


def _types_of(keys: Sequence[SigningKey]) -> tuple[str, ...]:
    found = {t for key in keys for t in key.allowed_types}
    return tuple(t for t in ISSUING_TYPES if t in found) or ISSUING_TYPES


def revoke_key(
    session: Session,
    reference: str,
    *,
    compromised_since: datetime,
    reason: str,
    now: datetime | None = None,
) -> SigningKey:
    """Record that a key was compromised from ``compromised_since``.

    Whatever it signed at or after that time is invalid; what it signed before
    stays valid. The time cannot lie in the future, and a revoked key's time can
    only move earlier, never later (that would make signatures valid again).
    Raises ``NotFound``, ``InvalidInput`` or ``Conflict``. The caller commits.
    """
    now = now or datetime.now(UTC)
    if compromised_since.tzinfo is None:
        raise InvalidInput("the compromise time must carry a time zone")
    since = _whole_seconds(compromised_since)
    if since > now:
        raise InvalidInput("a compromise cannot start in the future; to stop a key later, rotate")
    reason = check_text(reason.strip(), "text", field="reason")
    if not 0 < len(reason) <= _MAX_REASON:
        raise InvalidInput(f"give a reason of 1 to {_MAX_REASON} characters")
    key = find_key(session, reference)
    if key.compromised_since is not None and key.compromised_since <= since:
        raise Conflict(
            f"{key.verification_method} is already revoked from "
            f"{key.compromised_since.isoformat()}; the time can only move earlier"
        )
    key.compromised_since = since
    key.revocation_reason = reason
    session.add(key)
    session.flush()
    return key
