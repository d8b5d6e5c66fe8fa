"""What the tests and the benchmarks share to run the registry for real: a throwaway
PostgreSQL cluster, free loopback ports and the `registry` command. Never installed
with the registry."""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["REGISTRY"]

REGISTRY = Path(sys.executable).parent / "registry"
"""The ``registry`` console script of the environment running the tests or benchmarks."""
