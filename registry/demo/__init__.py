"""The demo federation: four authorities, their trust list and agreements, synthetic
engineers and listings, and the factories that tests and benchmarks share.

Only the command line (``registry serve --demo``) and the OpenAPI examples use it;
the registry itself never does.
"""

from __future__ import annotations

from registry.demo.federation import (
    DEMO_AUTHORITIES,
    DEMO_NODE_AUTHORITY,
    DEMO_ROLES,
    seed_demo,
    seed_demo_tokens,
)
from registry.demo.records import (
    DEMO_ENGINEERS,
    DEMO_LISTED_ENGINEER,
    DEMO_LISTED_ORGANISATIONS,
    DEMO_LISTED_PERSON,
    DEMO_RENEWING,
    DemoEngineer,
    seed_demo_records,
)
from registry.demo.synthetic import credit_code, resident_id

__all__ = [
    "DEMO_AUTHORITIES",
    "DEMO_ENGINEERS",
    "DEMO_LISTED_ENGINEER",
    "DEMO_LISTED_ORGANISATIONS",
    "DEMO_LISTED_PERSON",
    "DEMO_NODE_AUTHORITY",
    "DEMO_RENEWING",
    "DEMO_ROLES",
    "DemoEngineer",
    "credit_code",
    "resident_id",
    "seed_demo",
    "seed_demo_records",
    "seed_demo_tokens",
]
