"""Settings, read once from ``REGISTRY_*`` environment variables and passed down."""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Everything a node is configured with.

    Build it once (``Settings()`` reads the environment) in the entry point and pass
    it to whatever needs it; no module reads the environment on its own.
    """

    model_config = SettingsConfigDict(env_prefix="REGISTRY_", frozen=True, extra="forbid")

    data_dir: Path = Field(
        default=Path("./data"),
        description="Where the node keeps its SQLite database, encrypted keys and secrets.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; default: an SQLite file under the data directory.",
    )
    database_replica_url: str = Field(
        default="",
        description=(
            "SQLAlchemy URL of a PostgreSQL streaming replica (a hot standby) of "
            "`database_url`, which must then be PostgreSQL too. Set: verification (one or "
            "a batch, through the API or the employer's desk), the certificate page, the "
            "blacklist search and check, the public look-up and the public list read "
            "from it; every write (their access-audit entries included) and whatever "
            "must read its own writes stay on the primary. A read the replica fails "
            "(unreachable, stopped, a conflict with recovery) is done again on the "
            "primary and logged. Empty: everything reads from the primary."
        ),
    )
    database_replica_retry_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        description=(
            "After the replica failed a read, how long this server process reads from "
            "the primary before trying the replica again, in seconds (so that a replica "
            "down costs each request nothing, and its failure is logged once a period)."
        ),
    )
    database_replica_max_lag_seconds: float = Field(
        default=10.0,
        ge=1,
        le=3600,
        description=(
            "How far behind its primary the replica may be, in seconds, and still be "
            "read from: further behind (a listing or revocation signed since would be "
            "missing), reads go to the primary until it catches up."
        ),
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description=(
            "PostgreSQL connections each server process keeps open: at least as many as "
            "requests it serves at once, so that none is opened and closed per request "
            "(10 more open for a burst)."
        ),
    )
    database_pool_timeout_seconds: float = Field(
        default=30,
        gt=0,
        le=600,
        description=(
            "How long a request waits for a free connection of its server process's "
            "pool (all in use, the burst's too) before it is answered 503 "
            "database-unavailable with Retry-After."
        ),
    )
    sqlite_busy_timeout_seconds: float = Field(
        default=60,
        gt=0,
        le=600,
        description=(
            "How long a request waits for the embedded database while another writes "
            "(SQLite has one writer at a time: an import of 100,000 rows holds it for "
            "about half a minute); past it the request is answered 503 with Retry-After."
        ),
    )
    key_passphrase: SecretStr | None = Field(
        default=None,
        description=(
            "Passphrase that encrypts private keys at rest. Unset: generated at first run "
            "into <data dir>/secrets/key-passphrase (owner-only)."
        ),
    )
    pkcs11_module: Path | None = Field(
        default=None,
        description=(
            "The PKCS#11 module (a shared library, e.g. /usr/lib/softhsm/libsofthsm2.so) "
            "whose tokens hold the keys the node's record places in a hardware security "
            "module. Unset: the node signs with file keys only."
        ),
    )
    pkcs11_pin: SecretStr | None = Field(
        default=None,
        description=(
            "The user PIN of the PKCS#11 tokens. Prefer REGISTRY_PKCS11_PIN_FILE: an "
            "environment variable can be read by whoever may inspect the process."
        ),
    )
    pkcs11_pin_file: Path | None = Field(
        default=None,
        description=(
            "A file holding the tokens' user PIN on its first line, readable by its "
            "owner only (mode 600); used when REGISTRY_PKCS11_PIN is unset."
        ),
    )
    federation_lookup_secret: SecretStr | None = Field(
        default=None,
        description=(
            "The federation's look-up secrets, as `registry federation lookup-secret "
            "export` writes them (one `yrd-lookup-secret <version> <secret>` line per "
            "version). Unset: <data dir>/secrets/federation-lookup-secrets (owner-only), "
            "generated at first run."
        ),
    )
    federation_stale_seconds: int = Field(
        default=600,
        ge=1,
        description=(
            "How long, in seconds, a peer's log this node mirrors counts as current after "
            "this node last confirmed it with its origin. A verification relying on one "
            "confirmed longer ago (or never) says so beside the verdict (`mirror-stale`), "
            "in Chinese and English, naming the time its records are as of."
        ),
    )
    node_secret: SecretStr | None = Field(
        default=None,
        description=(
            "The node's own secret: it keys the access audit's hashes and idempotency "
            "digests, and seals the disclosures of the records this node issues. Unset: "
            "generated at first run into <data dir>/secrets/node-secret (owner-only)."
        ),
    )
    backup_passphrase: SecretStr | None = Field(
        default=None,
        description=(
            "The passphrase `registry backup` encrypts a backup with and `registry "
            "restore` decrypts it with (at least 12 characters), for a backup run by cron. "
            "Unset: `--passphrase-file`, else asked for without echo. Keep it apart from "
            "the backups: whoever holds both holds the node's keys."
        ),
    )

    demo: bool = Field(
        default=False,
        description=(
            "Whether this node runs the demo (`registry serve --demo` sets it): only "
            "then does it publish the demo's recognition agreements, which cite "
            "synthetic documents, and rely on them in verification."
        ),
    )

    log_origin_prefix: str = Field(
        default="registry.yrd.example",
        pattern=r"^[^\s+]+$",
        description=(
            "Prefix of each hosted authority's transparency-log origin "
            "(`<prefix>/CN-SH`), also the key name of its checkpoint signatures."
        ),
    )
    ce_rules_dir: Path | None = Field(
        default=None,
        description=(
            "A directory of continuing-education rule files (`CN-xx.toml`, one per "
            "authority) that replaces the shipped ones: where a province publishes its "
            "official rule. Unset: the shipped rules, all provisional."
        ),
    )
    node_url: str = Field(
        default="http://127.0.0.1:8000",
        pattern=r"^https?://\S+$",
        description="Public base URL of this node, as the trust list names it for its members.",
    )
    peer_tokens: dict[str, SecretStr] = Field(
        default_factory=dict,
        description=(
            "The `federation` tokens the other members' nodes granted this node, as a "
            'JSON object by authority code (`{"CN-JS": "..."}`): the node reads their '
            "logs' entries and sends them notices with them. Unset: <data dir>/secrets/"
            "peer-tokens.json (owner-only), as `registry federation peer-token` keeps it."
        ),
    )
    follow_interval_seconds: float = Field(
        default=10.0,
        ge=0.5,
        le=3600,
        description=(
            "How often the node asks each member's node it follows for its newest "
            "checkpoint and trust list, in seconds. A notice from the member makes it "
            "ask at once; polling is what catches a notice that never came."
        ),
    )
    webhook_deadline_seconds: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description=(
            "Longest a webhook delivery attempt may take, in seconds of wall-clock time: "
            "connecting, sending and the receiver's whole answer. An attempt still "
            "running then is cut off, logged as failed and tried again after the backoff."
        ),
    )
    webhook_concurrency: int = Field(
        default=8,
        ge=1,
        le=64,
        description=(
            "Subscriptions whose webhooks are delivered at once, each on its own thread "
            "and database connection: a slow receiver holds one of them, for at most "
            "the deadline per attempt, and the others go on."
        ),
    )
    sign_in_delay_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description=(
            "After a refused sign-in, how long the account refuses the next try unanswered, "
            "in seconds; doubled for each further refusal in a row."
        ),
    )
    sign_in_lock_after: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Refused sign-ins in a row after which the account is locked.",
    )
    sign_in_lock_minutes: int = Field(
        default=15,
        ge=1,
        le=24 * 60,
        description="How long a locked account stays locked, in minutes.",
    )
    public_lookups_per_minute: int = Field(
        default=30,
        ge=1,
        le=10_000,
        description=(
            "Look-ups of an engineer one client address may make on the public look-up "
            "page in any 60 seconds (counted by each server process); past it the page "
            "answers 429 with Retry-After."
        ),
    )
    verifications_per_minute: int = Field(
        default=600,
        ge=1,
        le=1_000_000,
        description=(
            "Single verifications (`POST /v1/verify/engineer`, the desk's form) one token "
            "or signed-in session may ask for in any 60 seconds; a client address may ask "
            "`rate_limit_address_factor` times as many. Past it: 429 with Retry-After."
        ),
    )
    batches_per_minute: int = Field(
        default=20,
        ge=1,
        le=100_000,
        description=(
            "Batches of up to 10,000 rows (`POST /v1/verify/batch`, `POST /v1/blacklist/"
            "check`, the desk's and the inspector's list uploads) one token or signed-in "
            "session may send in any 60 seconds; a batch counts as one, whatever its rows."
        ),
    )
    searches_per_minute: int = Field(
        default=120,
        ge=1,
        le=1_000_000,
        description=(
            "Blacklist searches (`POST /v1/blacklist/search`, the inspector's desk search) "
            "one token or signed-in session may make in any 60 seconds."
        ),
    )
    sign_ins_per_minute: int = Field(
        default=30,
        ge=1,
        le=100_000,
        description=(
            "Sign-in attempts one client address may make in any 60 seconds, whichever "
            "accounts they name (each account also locks after refused tries)."
        ),
    )
    rate_limit_address_factor: int = Field(
        default=5,
        ge=1,
        le=1_000,
        description=(
            "How many times a token's limit one client address may use of verifications, "
            "batches and searches, whichever tokens or sessions it sends (an office "
            "behind one address has several people)."
        ),
    )
    rate_limit_max_clients: int = Field(
        default=100_000,
        ge=100,
        le=10_000_000,
        description=(
            "Tokens, sessions or addresses each rate limit remembers per server process; "
            "past it the one idle longest is forgotten, so the memory stays bounded."
        ),
    )
    header_timeout_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description=(
            "`registry serve`: how long a client may take to send a request's line and "
            "headers, from the connection's start (or, on a kept-alive connection, from "
            "the end of the previous answer); then the connection is closed unanswered."
        ),
    )
    body_timeout_seconds: float = Field(
        default=120,
        gt=0,
        le=3600,
        description=(
            "How long a client may take to send a request's whole body once its headers "
            "are in; then it is answered 408 (problem+json, or a page) and the "
            "connection is closed."
        ),
    )
    body_min_bytes_per_second: int = Field(
        default=1024,
        ge=0,
        le=100_000_000,
        description=(
            "The slowest a body may arrive, in bytes a second averaged from the end of the "
            "headers, once 10 seconds (or a quarter of the body timeout, if less) have "
            "passed; slower is answered 408. 0: no floor, only the body timeout."
        ),
    )
    public_list_page_size: int = Field(
        default=20,
        ge=1,
        le=200,
        description="Entries on one page of the public untrustworthiness list (`/blacklist`).",
    )
    webhook_allowed_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(),
        description=(
            "Networks webhook receivers may be in although they are not public (loopback, "
            "private, link-local, unique-local, shared or metadata addresses), as CIDR "
            "blocks separated by commas, e.g. `127.0.0.0/8,::1/128`. Empty: every address "
            "a receiver's host resolves to must be public, at subscription and at every "
            "delivery."
        ),
    )

    metrics_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = Field(
        default=(IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")),
        description=(
            "Client addresses that may read `/metrics` (the Prometheus exposition: "
            "operational figures, no personal data), as CIDR blocks separated by commas. "
            "Default: loopback only. Behind a reverse proxy the address is the one "
            "uvicorn takes from `X-Forwarded-For` of a trusted proxy. Any other "
            "address is answered 403."
        ),
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description=(
            "How the server writes its log to standard error: `text`, a line for a person "
            "to read, or `json`, one JSON object a line for a log collector. Either way "
            "a line carries the request id and never a query string, a body, an ID "
            "number, a name or a token."
        ),
    )

    @field_validator("webhook_allowed_networks", "metrics_networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            path = (self.data_dir / "registry.sqlite3").resolve()
            object.__setattr__(self, "database_url", f"sqlite:///{path}")
        if self.database_replica_url:
            # A streaming replica is PostgreSQL's, of a PostgreSQL primary.
            for name, url in (
                ("database_url", self.database_url),
                ("database_replica_url", self.database_replica_url),
            ):
                if not url.startswith("postgresql"):
                    raise ValueError(
                        f"{name} must be a PostgreSQL URL when database_replica_url is set "
                        "(a streaming replica is PostgreSQL's)"
                    )
        return self
