"""Tables: authorities, their keys, stored credentials, and the trust list.

The database is a projection of signed records: a credential row keeps the exact
canonical (JCS) bytes that were signed and logged, with the columns needed to find
it. Nothing here is the source of truth that the credential itself is.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlmodel import Field, SQLModel

from registry.storage.base import UTCDateTime

__all__ = [
    "DESK_KINDS",
    "DESK_STATES",
    "KEY_PURPOSES",
    "PROPOSAL_STATES",
    "SIGN_IN_OUTCOMES",
    "STAGED_IMPORT_STATES",
    "USER_ROLES",
    "AgreementProposal",
    "ApiToken",
    "Authority",
    "DeskVerification",
    "Disclosure",
    "FollowReading",
    "FollowedCompany",
    "IdempotencyKey",
    "InspectionCheck",
    "LogCheckpoint",
    "LogEntry",
    "LogHead",
    "LogNode",
    "LogSigningHold",
    "Receipt",
    "ReceiptRow",
    "RecognitionAgreementRow",
    "Record",
    "RecordParty",
    "SignInEvent",
    "SigningKey",
    "StagedImport",
    "StatusChangeRow",
    "StatusListRow",
    "StoredCredential",
    "TrustListProposal",
    "TrustListRecord",
    "UserAccount",
    "WebSession",
    "WitnessState",
]

KEY_PURPOSES = ("issuing", "log", "node")
PROPOSAL_STATES = ("open", "published", "withdrawn")


class Authority(SQLModel, table=True):
    """A member authority, known by its ISO 3166-2 code and its GB/T 2260 code.

    ``hosted``: this node holds its keys and writes its log; otherwise it is a peer
    whose log this node keeps as a read-only mirror (``registry.federation.mirror``).
    """

    __tablename__ = "authority"
    __table_args__ = (
        CheckConstraint("code LIKE 'CN-__'", name="code_format"),
        CheckConstraint("length(gb_code) = 6", name="gb_code_length"),
    )

    code: str = Field(sa_type=String(8), primary_key=True)
    gb_code: str = Field(sa_type=String(6), unique=True)
    name_zh: str = Field(sa_type=String(200))
    name_en: str = Field(sa_type=String(200))
    created_at: datetime = Field(sa_type=UTCDateTime)
    hosted: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )


class SigningKey(SQLModel, table=True):
    """A public key the node knows, and where its private half is kept.

    ``key_name`` names the private key: a file in the node's key store, or, with
    ``token_label``, the key's label in that PKCS#11 token (a hardware security
    module). Keys of other nodes have neither.
    """

    __tablename__ = "signing_key"
    __table_args__ = (
        CheckConstraint("purpose IN ('issuing', 'log', 'node', 'witness')", name="purpose_known"),
        CheckConstraint("public_key_multibase LIKE 'z6Mk%'", name="multikey_ed25519"),
        CheckConstraint("valid_until IS NULL OR valid_until > valid_from", name="validity_window"),
        CheckConstraint(
            "(compromised_since IS NULL) = (revocation_reason IS NULL)",
            name="revocation_has_reason",
        ),
        CheckConstraint("token_label IS NULL OR key_name IS NOT NULL", name="token_key_labelled"),
        # What a credential's (issuer, key) refers to: a key of that very authority.
        UniqueConstraint("authority_code", "verification_method", name="uq_signing_key_authority"),
    )

    verification_method: str = Field(sa_type=String(255), primary_key=True)
    authority_code: str | None = Field(
        default=None, sa_type=String(8), foreign_key="authority.code", index=True
    )
    purpose: str = Field(sa_type=String(16))
    public_key_multibase: str = Field(sa_type=String(64), unique=True)
    allowed_types: list[str] = Field(sa_column=Column(JSON, nullable=False))
    valid_from: datetime = Field(sa_type=UTCDateTime)
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    compromised_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revocation_reason: str | None = Field(default=None, sa_type=Text)
    key_name: str | None = Field(default=None, sa_type=String(128), unique=True)
    token_label: str | None = Field(default=None, sa_type=String(32))
    created_at: datetime = Field(sa_type=UTCDateTime)


class StoredCredential(SQLModel, table=True):
    """One signed credential: its canonical bytes, their digest, and lookup columns."""

    __tablename__ = "credential"
    __table_args__ = (
        CheckConstraint("length(digest) = 64", name="digest_sha256_hex"),
        CheckConstraint(
            "subject_lookup IS NULL OR length(subject_lookup) = 64",
            name="subject_lookup_hmac_hex",
        ),
        # One check per row, on the hot path of issuing: the key exists and is the
        # issuer's own (and so the issuer exists).
        ForeignKeyConstraint(
            ["issuer_code", "verification_method"],
            ["signing_key.authority_code", "signing_key.verification_method"],
            name="fk_credential_signing_key",
        ),
        # What log entries and records refer to: a credential of their authority.
        UniqueConstraint("issuer_code", "id", name="uq_credential_issuer"),
    )

    id: str = Field(sa_type=String(128), primary_key=True)
    type: str = Field(sa_type=String(64))
    issuer_code: str = Field(sa_type=String(8))
    verification_method: str = Field(sa_type=String(255))
    subject_lookup: str | None = Field(default=None, sa_type=String(64))
    digest: str = Field(sa_type=String(64), unique=True)
    canonical: str = Field(sa_type=Text)
    signed_at: datetime = Field(sa_type=UTCDateTime)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class TrustListRecord(SQLModel, table=True):
    """A published trust-list version, kept as signed with the proofs that count.

    ``digest`` is the version's digest (without its proofs, see
    ``registry.trust.document.digest_of``). ``previous`` is unique: a version has
    at most one successor, so the chain cannot fork inside one database.
    """

    __tablename__ = "trust_list_version"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("length(digest) = 64", name="digest_sha256_hex"),
        CheckConstraint(
            "(version = 1 AND previous IS NULL) OR (version > 1 AND length(previous) = 64)",
            name="previous_iff_not_genesis",
        ),
    )

    version: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    digest: str = Field(sa_type=String(64), unique=True)
    previous: str | None = Field(default=None, sa_type=String(64), unique=True)
    valid_from: datetime = Field(sa_type=UTCDateTime)
    canonical: str = Field(sa_type=Text)
    published_at: datetime = Field(sa_type=UTCDateTime)


class TrustListProposal(SQLModel, table=True):
    """A draft of the next trust-list version and the proofs gathered on it so far."""

    __tablename__ = "trust_list_proposal"
    __table_args__ = (
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("state IN ('open', 'published', 'withdrawn')", name="state_known"),
        # At most one proposal is open at a time, however many processes propose.
        Index(
            "uq_trust_list_proposal_open",
            "state",
            unique=True,
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    version: int
    state: str = Field(sa_type=String(16))
    document: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class LogHead(SQLModel, table=True):
    """The head of an authority's transparency log: appends lock this row.

    Appends to one log are serialised by taking this row's write lock first, so
    any number of processes may append side by side.
    """

    __tablename__ = "log_head"
    __table_args__ = (
        CheckConstraint("size >= 0", name="size_not_negative"),
        CheckConstraint("length(root) = 32", name="root_sha256"),
    )

    authority_code: str = Field(
        sa_column=Column(String(8), ForeignKey("authority.code"), primary_key=True)
    )
    origin: str = Field(sa_type=String(255), unique=True)
    size: int = Field(sa_type=BigInteger)
    root: bytes = Field(sa_type=LargeBinary(32))
    updated_at: datetime = Field(sa_type=UTCDateTime)


class LogEntry(SQLModel, table=True):
    """One leaf: its index, its hash, and the credential whose canonical bytes it is."""

    __tablename__ = "log_entry"
    __table_args__ = (
        CheckConstraint("leaf_index >= 0", name="index_not_negative"),
        CheckConstraint("length(leaf_hash) = 32", name="leaf_hash_sha256"),
        Index("ix_log_entry_leaf_hash", "authority_code", "leaf_hash"),
        # An entry is a credential of the log's own authority: the database says so.
        ForeignKeyConstraint(
            ["authority_code", "credential_id"],
            ["credential.issuer_code", "credential.id"],
            name="fk_log_entry_credential",
        ),
    )

    authority_code: str = Field(sa_column=Column(String(8), primary_key=True))
    leaf_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    leaf_hash: bytes = Field(sa_type=LargeBinary(32))
    credential_id: str = Field(sa_type=String(128), unique=True)
    recorded_at: datetime = Field(sa_type=UTCDateTime)


class LogNode(SQLModel, table=True):
    """The hash of a complete perfect subtree: ``2**level`` leaves from ``node_index << level``.

    Derived data, written only by the sequencer with its log head locked; no
    foreign key checks each of the twice-as-many rows as entries.
    """

    __tablename__ = "log_node"
    __table_args__ = (
        CheckConstraint("level >= 0 AND level < 64", name="level_range"),
        CheckConstraint("length(hash) = 32", name="hash_sha256"),
    )

    authority_code: str = Field(sa_column=Column(String(8), primary_key=True))
    level: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    node_index: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_type=LargeBinary(32))


class LogCheckpoint(SQLModel, table=True):
    """Every checkpoint the log signed: the signed note, its size and root."""

    __tablename__ = "log_checkpoint"
    __table_args__ = (CheckConstraint("length(root) = 32", name="root_sha256"),)

    authority_code: str = Field(
        sa_column=Column(String(8), ForeignKey("log_head.authority_code"), primary_key=True)
    )
    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_type=LargeBinary(32))
    note: str = Field(sa_type=Text)
    verification_method: str = Field(
        sa_type=String(255), foreign_key="signing_key.verification_method"
    )
    signed_at: datetime = Field(sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token: only its SHA-256 is kept, with the role it carries."""

    __tablename__ = "api_token"
    __table_args__ = (
        CheckConstraint("length(token_hash) = 64", name="token_hash_sha256_hex"),
        CheckConstraint(
            "role IN ('verifier', 'enforcement', 'federation', 'admin') "
            "OR role LIKE 'issuer:CN-__'",
            name="role_known",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(sa_type=String(64), unique=True)
    role: str = Field(sa_type=String(32))
    name: str = Field(sa_type=String(200))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AccessAudit(SQLModel, table=True):
    """One search or check of the untrustworthiness list, or one verification of an
    engineer, by a token: who, when, what
    (as a keyed hash of the criteria, never the criteria) and how many it found.

    Append-only: the database refuses to update or delete a row (migration 0009's
    triggers), so the trail cannot be edited through the registry's own connection.
    """

    __tablename__ = "access_audit"
    __table_args__ = (
        CheckConstraint("length(criteria_hash) = 64", name="criteria_hmac_hex"),
        CheckConstraint("results >= 0", name="results_not_negative"),
        # One token's entries newest first (the trail filtered by who, a token's last
        # use), without reading every entry of the token.
        Index("ix_access_audit_token_newest", "token_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    token_id: int = Field(foreign_key="api_token.id", index=True)
    role: str = Field(sa_type=String(32))
    action: str = Field(sa_type=String(32))
    criteria_hash: str = Field(sa_type=String(64))
    rows: int = Field(default=1)
    results: int = Field()


class Subscription(SQLModel, table=True):
    """A receiver of the change feed: a URL, a filter, a secret, and how far it got.

    ``cursor`` is the feed position up to which changes were queued for it;
    ``secret`` signs each delivery (HMAC-SHA256), shared with the receiver once.
    """

    __tablename__ = "subscription"

    id: str = Field(sa_type=String(64), primary_key=True)
    token_id: int = Field(foreign_key="api_token.id", index=True)
    url: str = Field(sa_type=String(2000))
    filter: str = Field(sa_type=Text)
    secret: str = Field(sa_type=String(128))
    cursor: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)


class Delivery(SQLModel, table=True):
    """One change for one subscription: queued once, tried until the receiver takes it.

    ``id`` travels with every attempt, for the receiver to deduplicate on.
    """

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "change_id", name="uq_delivery_change"),
        CheckConstraint("state IN ('pending', 'delivered')", name="state_known"),
    )

    id: str = Field(sa_type=String(64), primary_key=True)
    subscription_id: str = Field(foreign_key="subscription.id", index=True)
    change_id: str = Field(sa_type=String(64))
    sequence: int = Field(sa_type=BigInteger)
    body: str = Field(sa_type=Text)
    state: str = Field(sa_type=String(16))
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    last_status: int | None = Field(default=None)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


RECORD_STATES = (
    "active",
    "suspended",
    "revoked",
    "cancelled",
    "listed",
    "lifted",
    "withdrawn",
    "superseded",
)


class Record(SQLModel, table=True):
    """An issued record's current state: the projection of its credential and its changes.

    ``revocation_index`` and ``suspension_index`` are its entries in its authority's
    status lists; ``replaces`` names the record a correction supersedes.
    ``state`` is the state its changes in effect leave it in; a change decided now to
    take effect on a later day is ``scheduled_change_id`` until that day, when it is
    applied (``registry.issuing.scheduled``).
    """

    __tablename__ = "record"
    __table_args__ = (
        CheckConstraint(
            "state IN ('active', 'suspended', 'revoked', 'cancelled', 'listed', 'lifted', "
            "'withdrawn', 'superseded')",
            name="state_known",
        ),
        UniqueConstraint("authority_code", "revocation_index", name="uq_record_revocation_index"),
        UniqueConstraint("authority_code", "suspension_index", name="uq_record_suspension_index"),
        Index("ix_record_number", "type", "number"),
        Index("ix_record_course_key", "course_key"),
        # Partial: the few records with a change pending, so that the sweep finds them
        # by this index whatever the table's statistics say.
        Index(
            "ix_record_scheduled_change_id",
            "scheduled_change_id",
            postgresql_where=text("scheduled_change_id IS NOT NULL"),
            sqlite_where=text("scheduled_change_id IS NOT NULL"),
        ),
        CheckConstraint(
            "course_key IS NULL OR length(course_key) = 64", name="course_key_sha256_hex"
        ),
        # A record projects a credential of its own authority.
        ForeignKeyConstraint(
            ["authority_code", "credential_id"],
            ["credential.issuer_code", "credential.id"],
            name="fk_record_credential",
        ),
    )

    credential_id: str = Field(sa_column=Column(String(128), primary_key=True))
    type: str = Field(sa_type=String(64))
    authority_code: str = Field(sa_type=String(8))
    number: str | None = Field(default=None, sa_type=String(64))
    state: str = Field(sa_type=String(16))
    revocation_index: int | None = Field(default=None, sa_type=BigInteger)
    suspension_index: int | None = Field(default=None, sa_type=BigInteger)
    earliest_removal_on: date | None = Field(default=None, sa_type=Date)
    replaces: str | None = Field(
        default=None, sa_type=String(128), foreign_key="credential.id", unique=True
    )
    course_key: str | None = Field(default=None, sa_type=String(64))
    updated_at: datetime = Field(sa_type=UTCDateTime)
    scheduled_change_id: str | None = Field(default=None, sa_type=String(128))


RECEIPT_KINDS = ("import", "batch")


class Receipt(SQLModel, table=True):
    """One import (``registry import``) or API batch: who issued it, when, for which
    authority, from which file, and how many rows became credentials."""

    __tablename__ = "receipt"
    __table_args__ = (
        CheckConstraint("kind IN ('import', 'batch')", name="kind_known"),
        CheckConstraint("rows > 0", name="rows_positive"),
        Index("ix_receipt_authority_created", "authority_code", "created_at"),
    )

    id: str = Field(sa_type=String(64), primary_key=True)
    kind: str = Field(sa_type=String(16))
    authority_code: str = Field(sa_type=String(8), foreign_key="authority.code")
    type: str | None = Field(default=None, sa_type=String(64))
    file_name: str | None = Field(default=None, sa_type=String(255))
    token_id: int | None = Field(default=None, foreign_key="api_token.id")
    actor: str = Field(sa_type=String(200))
    role: str = Field(sa_type=String(32))
    rows: int = Field(sa_type=Integer)
    created_at: datetime = Field(sa_type=UTCDateTime)


class ReceiptRow(SQLModel, table=True):
    """One input row of a receipt (its row number in the file, or its index in the
    batch) and the credential it became."""

    __tablename__ = "receipt_row"

    receipt_id: str = Field(
        sa_column=Column(String(64), ForeignKey("receipt.id"), primary_key=True)
    )
    position: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    row_number: int = Field(sa_type=Integer)
    credential_id: str = Field(sa_type=String(128), foreign_key="credential.id", unique=True)


class RecordParty(SQLModel, table=True):
    """A person or organisation a record names, findable without the number in clear.

    A person is found by the HMAC look-up key of their ID number (under the version of
    the federation's look-up secret in ``lookup_version``), an organisation by
    its credit code, either by its name as ``registry.ids.name_key`` (exactly) and
    ``name_core`` (possibly the same) write it. ``role`` says how the record names them (``holder``,
    ``employer``, ``provider``, ``listed``, or a listing's related-person role).
    """

    __tablename__ = "record_party"
    __table_args__ = (
        CheckConstraint(
            "(lookup_key IS NULL) <> (credit_code IS NULL)", name="person_or_organisation"
        ),
        CheckConstraint("lookup_key IS NULL OR length(lookup_key) = 64", name="lookup_hmac_hex"),
        CheckConstraint(
            "(lookup_key IS NULL) = (lookup_version IS NULL)", name="lookup_key_has_version"
        ),
        CheckConstraint("credit_code IS NULL OR length(credit_code) = 18", name="credit_code_18"),
    )

    credential_id: str = Field(
        sa_column=Column(String(128), ForeignKey("record.credential_id"), primary_key=True)
    )
    position: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    role: str = Field(sa_type=String(32))
    name: str = Field(sa_type=String(200))
    name_key: str = Field(sa_type=String(200), index=True)
    name_core: str = Field(sa_type=String(200), index=True)
    lookup_key: str | None = Field(default=None, sa_type=String(64), index=True)
    lookup_version: str | None = Field(default=None, sa_type=String(8))
    credit_code: str | None = Field(default=None, sa_type=String(18), index=True)


class Disclosure(SQLModel, table=True):
    """The salt of a person's binding in a credential this node issued: their
    disclosure, which the credential does not carry.

    Kept sealed (AES-256-GCM under a key derived from the node secret, bound to the
    credential and the party's position: ``registry.issuing.disclosures``), so that a
    copy of the database alone tests no guess. Never in a log entry, feed or webhook;
    handed only to the authority that issued the credential, for the person.
    """

    __tablename__ = "disclosure"
    __table_args__ = (
        ForeignKeyConstraint(
            ["credential_id", "position"],
            ["record_party.credential_id", "record_party.position"],
            name="fk_disclosure_party",
        ),
    )

    credential_id: str = Field(sa_column=Column(String(128), primary_key=True))
    position: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    sealed: bytes = Field(sa_type=LargeBinary(64))


class StatusChangeRow(SQLModel, table=True):
    """A signed ``StatusChange``: which record it changed, from which state to which.

    ``cancelled_by`` names the ``StatusChange`` (action ``cancel-scheduled``) that
    cancelled it before its day: a cancelled change never takes effect."""

    __tablename__ = "status_change"

    credential_id: str = Field(
        sa_column=Column(String(128), ForeignKey("credential.id"), primary_key=True)
    )
    target_id: str = Field(sa_type=String(128), foreign_key="record.credential_id", index=True)
    action: str = Field(sa_type=String(16))
    state_before: str = Field(sa_type=String(16))
    state_after: str = Field(sa_type=String(16))
    effective_on: date = Field(sa_type=Date)
    recorded_at: datetime = Field(sa_type=UTCDateTime)
    cancelled_by: str | None = Field(default=None, sa_type=String(128))


class StatusListRow(SQLModel, table=True):
    """An authority's status list for one purpose: its bits, how many entries are
    taken (the records' index columns say which), and its current signed version."""

    __tablename__ = "status_list"
    __table_args__ = (
        CheckConstraint("purpose IN ('revocation', 'suspension')", name="purpose_known"),
        CheckConstraint("size >= 131072 AND size % 8 = 0", name="size_allowed"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    authority_code: str = Field(
        sa_column=Column(String(8), ForeignKey("authority.code"), primary_key=True)
    )
    purpose: str = Field(sa_column=Column(String(16), primary_key=True))
    size: int = Field(sa_type=Integer)
    bits: bytes = Field(sa_type=LargeBinary)
    allocated_count: int = Field(sa_type=Integer)
    version: int = Field(sa_type=Integer)
    credential_id: str = Field(sa_type=String(128), foreign_key="credential.id")
    updated_at: datetime = Field(sa_type=UTCDateTime)


class IdempotencyKey(SQLModel, table=True):
    """What a request sent with an ``Idempotency-Key`` produced, so a retry gets it again.

    ``request_digest`` is an HMAC of the request body (never the body itself: it
    holds ID numbers), so the same key with a different body is refused.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (CheckConstraint("length(request_digest) = 64", name="digest_hex"),)

    role: str = Field(sa_column=Column(String(32), primary_key=True))
    key: str = Field(sa_column=Column(String(255), primary_key=True))
    request_digest: str = Field(sa_type=String(64))
    credential_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_type=UTCDateTime)


class AgreementProposal(SQLModel, table=True):
    """A draft recognition agreement and the parties' proofs gathered on it so far.

    ``id`` is the agreement credential's own id, fixed when it is proposed.
    """

    __tablename__ = "agreement_proposal"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'published', 'withdrawn')", name="state_known"),
    )

    id: str = Field(sa_column=Column(String(128), primary_key=True))
    proposer: str = Field(sa_type=String(8), foreign_key="authority.code")
    state: str = Field(sa_type=String(16))
    document: str = Field(sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class RecognitionAgreementRow(SQLModel, table=True):
    """A published recognition agreement: its credential, its days in force, and the
    ``StatusChange`` by which a party terminated it, if one did."""

    __tablename__ = "recognition_agreement"
    __table_args__ = (
        CheckConstraint(
            "effective_until IS NULL OR effective_until >= effective_from", name="days_ordered"
        ),
        CheckConstraint(
            "(terminated_on IS NULL) = (termination_id IS NULL)", name="termination_complete"
        ),
        ForeignKeyConstraint(
            ["issuer_code", "credential_id"],
            ["credential.issuer_code", "credential.id"],
            name="fk_recognition_agreement_credential",
        ),
    )

    credential_id: str = Field(sa_column=Column(String(128), primary_key=True))
    issuer_code: str = Field(sa_type=String(8))
    effective_from: date = Field(sa_type=Date)
    effective_until: date | None = Field(default=None, sa_type=Date)
    terminated_on: date | None = Field(default=None, sa_type=Date)
    termination_id: str | None = Field(
        default=None, sa_type=String(128), foreign_key="credential.id", unique=True
    )
    published_at: datetime = Field(sa_type=UTCDateTime)


class PeerLog(SQLModel, table=True):
    """A member's log this node follows and does not host: the tree it verified (its
    frontier), the newest checkpoint of it verified, when the origin last confirmed
    it, and the state of following it (``current``, ``behind``, ``unreachable``,
    ``forked``) with the last error."""

    __tablename__ = "peer_log"
    __table_args__ = (
        CheckConstraint(
            "state IN ('current', 'behind', 'unreachable', 'forked')", name="state_known"
        ),
    )

    authority_code: str = Field(sa_column=Column(String(8), primary_key=True))
    origin: str = Field(sa_type=String(255))
    tree_size: int = Field(default=0, sa_type=BigInteger)
    frontier: str = Field(default='{"size": 0, "hashes": []}', sa_type=Text)
    checkpoint: str | None = Field(default=None, sa_type=Text)
    peer_size: int | None = Field(default=None, sa_type=BigInteger)
    confirmed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    state: str = Field(default="behind", sa_type=String(16))
    last_error: str | None = Field(default=None, sa_type=Text)
    updated_at: datetime = Field(sa_type=UTCDateTime)


class PeerCheckpoint(SQLModel, table=True):
    """Every checkpoint of a followed log this node verified: its signed note."""

    __tablename__ = "peer_checkpoint"
    __table_args__ = (CheckConstraint("length(root) = 32", name="root_sha256"),)

    authority_code: str = Field(
        sa_column=Column(String(8), ForeignKey("peer_log.authority_code"), primary_key=True)
    )
    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_type=LargeBinary(32))
    note: str = Field(sa_type=Text)
    verified_at: datetime = Field(sa_type=UTCDateTime)


class PeerNotice(SQLModel, table=True):
    """The newest checkpoint a member's node said its log has (``POST /v1/federation/
    notices``), signature checked: the node follows that log at once, not at its next
    poll. Apart from ``peer_log``, so that a notice never waits for a step of following
    that holds that row."""

    __tablename__ = "peer_notice"

    authority_code: str = Field(sa_column=Column(String(8), primary_key=True))
    tree_size: int = Field(sa_type=BigInteger)
    received_at: datetime = Field(sa_type=UTCDateTime)


class LogCosignature(SQLModel, table=True):
    """A witness's cosignature of one of this node's checkpoints (c2sp.org/
    tlog-cosignature), as the signature line it sent, checked with the witness key
    the trust list named: served after the log's own lines. ``cosigned_at`` is the
    time the line states; the first line of a witness for a size is kept."""

    __tablename__ = "log_cosignature"

    authority_code: str = Field(sa_column=Column(String(8), primary_key=True))
    tree_size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    witness: str = Field(sa_column=Column(String(255), primary_key=True))
    cosigned_at: datetime = Field(sa_type=UTCDateTime)
    line: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_type=UTCDateTime)


class WitnessState(SQLModel, table=True):
    """What this node, as a witness of another member's log (c2sp.org/tlog-witness),
    last cosigned for it: the checkpoint as the log signed it, its size and root. It
    only ever moves forward; an ``add-checkpoint`` locks the row, checks and moves it
    in one transaction, and answers once that has committed. ``conflict`` keeps the
    evidence of the last checkpoint refused because the log signed another root for
    the size cosigned (``registry.federation.evidence``)."""

    __tablename__ = "witness_state"
    __table_args__ = (CheckConstraint("length(root) = 32", name="root_sha256"),)

    origin: str = Field(sa_column=Column(String(255), primary_key=True))
    authority_code: str = Field(sa_type=String(8))
    tree_size: int = Field(sa_type=BigInteger)
    root: bytes = Field(sa_type=LargeBinary(32))
    note: str = Field(sa_type=Text)
    cosigned_at: datetime = Field(sa_type=UTCDateTime)
    conflict: str | None = Field(default=None, sa_type=Text)


class ForkEvidenceRow(SQLModel, table=True):
    """A fork of a followed log: the evidence file (``registry.federation.evidence``)."""

    __tablename__ = "fork_evidence"

    id: int | None = Field(default=None, primary_key=True)
    authority_code: str = Field(
        sa_type=String(8), foreign_key="peer_log.authority_code", index=True
    )
    evidence: str = Field(sa_type=Text)
    found_at: datetime = Field(sa_type=UTCDateTime)


class LogSigningHold(SQLModel, table=True):
    """A log this node hosts that signs nothing until the hold is lifted
    (``registry.federation.standing``): ``restored`` (from a backup: no peer has yet
    confirmed its newest checkpoint), ``behind`` (a peer holds a larger checkpoint of
    it, signed by its own key) or ``diverged`` (a peer holds another root for a size
    it signed). ``peer``, ``peer_size`` and ``peer_note`` name what a peer holds."""

    __tablename__ = "log_signing_hold"
    __table_args__ = (
        CheckConstraint("reason IN ('restored', 'behind', 'diverged')", name="reason_known"),
    )

    authority_code: str = Field(
        sa_column=Column(String(8), ForeignKey("authority.code"), primary_key=True)
    )
    reason: str = Field(sa_type=String(16))
    detail: str = Field(sa_type=Text)
    peer: str | None = Field(default=None, sa_type=String(8))
    peer_size: int | None = Field(default=None, sa_type=BigInteger)
    peer_note: str | None = Field(default=None, sa_type=Text)
    held_since: datetime = Field(sa_type=UTCDateTime)
    checked_at: datetime = Field(sa_type=UTCDateTime)


USER_ROLES = ("verifier", "enforcement", "admin")
"""The roles of people's accounts besides ``issuer:CN-xx`` (``federation`` is a node's)."""


class UserAccount(SQLModel, table=True):
    """A person who signs in to the web pages: a role, a password (its Argon2id hash
    only), and for an employer's account the company it works for.

    ``token_id`` is the account's own token row (its secret never made): what the
    access audit and the records of verifications name when the person acts, so that
    a page and the API leave the same trail. ``failures`` counts sign-ins refused in a
    row; ``locked_until`` is set when they reach the lock-out."""

    __tablename__ = "user_account"
    __table_args__ = (
        CheckConstraint(
            "role IN ('verifier', 'enforcement', 'admin') OR role LIKE 'issuer:CN-__'",
            name="role_known",
        ),
        CheckConstraint("failures >= 0", name="failures_not_negative"),
        CheckConstraint(
            "company_code IS NULL OR length(company_code) = 18", name="company_code_length"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=String(64), unique=True)
    display_name: str = Field(sa_type=String(100))
    role: str = Field(sa_type=String(32))
    company_code: str | None = Field(default=None, sa_type=String(18))
    company_name: str | None = Field(default=None, sa_type=String(200))
    password_hash: str = Field(sa_type=String(255))
    token_id: int = Field(foreign_key="api_token.id", unique=True)
    failures: int = Field(default=0)
    last_failure_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(sa_type=UTCDateTime)
    password_set_at: datetime = Field(sa_type=UTCDateTime)


class WebSession(SQLModel, table=True):
    """A signed-in browser: only the SHA-256 of its cookie is kept."""

    __tablename__ = "web_session"
    __table_args__ = (CheckConstraint("length(id_hash) = 64", name="id_hash_sha256_hex"),)

    id_hash: str = Field(sa_type=String(64), primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    ended_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


SIGN_IN_OUTCOMES = (
    "signed-in",
    "signed-out",
    "wrong-password",
    "unknown-user",
    "locked",
    "disabled",
)


class SignInEvent(SQLModel, table=True):
    """A sign-in tried (and how it ended) or a sign-out: the name given, the account
    it named if any, the client's address."""

    __tablename__ = "sign_in_event"
    __table_args__ = (
        CheckConstraint(
            "outcome IN ('signed-in', 'signed-out', 'wrong-password', 'unknown-user', "
            "'locked', 'disabled')",
            name="outcome_known",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    username: str = Field(sa_type=String(64))
    user_id: int | None = Field(default=None, foreign_key="user_account.id", index=True)
    outcome: str = Field(sa_type=String(16))
    client: str | None = Field(default=None, sa_type=String(64))


DESK_KINDS = ("engineer", "batch")
DESK_STATES = ("running", "done", "failed")


class DeskVerification(SQLModel, table=True):
    """A verification made at an employer's desk, kept for the company's history: one
    person (``engineer``: the signed report, byte for byte as it was answered) or a
    list (``batch``: its results once done, its progress until then).

    ``name`` and ``verdict`` are the short summary a history lists (the person's name,
    or the file's); no ID number is kept in clear, only as the report masks it."""

    __tablename__ = "desk_verification"
    __table_args__ = (
        CheckConstraint("kind IN ('engineer', 'batch')", name="kind_known"),
        CheckConstraint("state IN ('running', 'done', 'failed')", name="state_known"),
        CheckConstraint("length(company_code) = 18", name="company_code_length"),
        CheckConstraint("done >= 0 AND done <= rows", name="done_within_rows"),
        Index("ix_desk_verification_company", "company_code", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    company_code: str = Field(sa_type=String(18))
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(sa_type=String(8))
    name: str | None = Field(default=None, sa_type=String(200))
    verdict: str | None = Field(default=None, sa_type=String(16))
    rows: int = Field(default=1)
    done: int = Field(default=0)
    state: str = Field(sa_type=String(8))
    updated_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    document: str | None = Field(default=None, sa_type=Text)


class FollowedCompany(SQLModel, table=True):
    """A company an inspector follows (by credit code), with the name and note they
    gave; ``cancelled_at`` once they stop. An account follows a company at most once
    at a time."""

    __tablename__ = "followed_company"
    __table_args__ = (
        CheckConstraint("length(credit_code) = 18", name="credit_code_length"),
        Index(
            "uq_followed_company_active",
            "user_id",
            "credit_code",
            unique=True,
            sqlite_where=text("cancelled_at IS NULL"),
            postgresql_where=text("cancelled_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    credit_code: str = Field(sa_type=String(18), index=True)
    name: str | None = Field(default=None, sa_type=String(200))
    note: str | None = Field(default=None, sa_type=String(500))
    created_at: datetime = Field(sa_type=UTCDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FollowReading(SQLModel, table=True):
    """How far an inspector has read the changes about the companies they follow:
    each log's size (JSON ``{authority: size}``) when they last looked."""

    __tablename__ = "follow_reading"

    user_id: int = Field(foreign_key="user_account.id", primary_key=True)
    seen: str = Field(sa_type=Text)
    read_at: datetime = Field(sa_type=UTCDateTime)


class InspectionCheck(SQLModel, table=True):
    """A list of companies an inspector checked against the untrustworthiness list:
    the file's name, how many rows and how many listed, and each row's answer (JSON)."""

    __tablename__ = "inspection_check"
    __table_args__ = (
        CheckConstraint("rows >= 0 AND listed >= 0 AND listed <= rows", name="counts_valid"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    name: str = Field(sa_type=String(200))
    checked_for: date = Field(sa_type=Date)
    rows: int
    listed: int
    document: str = Field(sa_type=Text)


STAGED_IMPORT_STATES = ("checked", "running", "done", "failed")


class StagedImport(SQLModel, table=True):
    """A spreadsheet uploaded at the authority's console: kept for the person who
    uploaded it (its bytes in the node's data directory, their SHA-256 here), checked in
    the background, then confirmed and issued all or nothing. ``checking``: being
    checked (``rows`` is 0 until it is); ``rejected``: ``problems`` problems found,
    nothing issued; ``checked``: every row good, waiting to be confirmed; ``running``:
    being issued; ``done``: issued, ``receipt_id`` naming its receipt; ``failed``:
    nothing issued, ``reason`` (in English, translated when shown) says why. The file
    is deleted once rejected, issued or failed: it holds ID numbers in clear."""

    __tablename__ = "staged_import"
    __table_args__ = (
        CheckConstraint(
            "state IN ('checking', 'rejected', 'checked', 'running', 'done', 'failed')",
            name="state_known",
        ),
        CheckConstraint("rows >= 0", name="rows_counted"),
        CheckConstraint("problems IS NULL OR problems > 0", name="problems_positive"),
        CheckConstraint("length(file_digest) = 64", name="file_digest_length"),
        Index("ix_staged_import_authority_created", "authority_code", "created_at"),
    )

    id: str = Field(sa_type=String(64), primary_key=True)
    authority_code: str = Field(sa_type=String(8), foreign_key="authority.code")
    user_id: int = Field(foreign_key="user_account.id", index=True)
    type: str = Field(sa_type=String(64))
    file_name: str = Field(sa_type=String(255))
    file_digest: str = Field(sa_type=String(64))
    rows: int = Field(sa_type=Integer)
    state: str = Field(sa_type=String(8))
    receipt_id: str | None = Field(default=None, sa_type=String(64), foreign_key="receipt.id")
    reason: str | None = Field(default=None, sa_type=Text)
    problems: int | None = Field(default=None, sa_type=Integer)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
