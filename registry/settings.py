"""Settings, read once from ``REGISTRY_*`` environment variables and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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

    @field_validator("webhook_allowed_networks", mode="before")
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
        return self
