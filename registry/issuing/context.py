"""What issuing needs from the node, built once and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from registry.crypto.keys import KeyStore
from registry.datadir import DataDir
from registry.ids import LookupSecrets
from registry.issuing.disclosures import DisclosureSeal
from registry.issuing.status_lists import DEFAULT_ENTRIES
from registry.policies import PolicyBook, load_policies
from registry.settings import Settings

__all__ = ["IssuingContext"]


@dataclass(frozen=True)
class IssuingContext:
    """The node's signing keys, its own secret (access-audit hashes, idempotency,
    sealed disclosures), the federation's look-up secrets, its log origin prefix,
    its URL, and whether it runs the demo (``Settings.demo``)."""

    key_store: KeyStore
    node_secret: bytes = field(repr=False)
    lookup: LookupSecrets = field(repr=False)
    origin_prefix: str
    node_url: str
    status_list_entries: int = DEFAULT_ENTRIES
    demo: bool = False
    policies: PolicyBook = field(default_factory=load_policies, repr=False)
    """The continuing-education rules (their ``change_keeps_term`` decides whether a
    change registration keeps the term it changes)."""

    @classmethod
    def for_node(cls, settings: Settings) -> IssuingContext:
        """The context a node's settings and data directory give."""
        data_dir = DataDir(settings)
        return cls(
            key_store=data_dir.key_store(),
            node_secret=data_dir.node_secret(),
            lookup=data_dir.lookup_secrets(),
            origin_prefix=settings.log_origin_prefix,
            node_url=settings.node_url,
            demo=settings.demo,
            policies=load_policies(settings.ce_rules_dir),
        )

    @cached_property
    def seal(self) -> DisclosureSeal:
        """Seals and opens the disclosures of the records this node issues."""
        return DisclosureSeal(self.node_secret)
