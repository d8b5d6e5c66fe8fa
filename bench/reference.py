"""The machine's reference figures alone: raw Ed25519 signing rate and commit latency.

Run: ``.venv/bin/python bench/reference.py``. Every PostgreSQL benchmark prints these
first; run alone, they put a figure measured by other means (an older version of a
benchmark, say) beside the same day's machine. It starts a throwaway PostgreSQL
cluster (or uses ``REGISTRY_BENCH_DATABASE_URL``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._database import bench_database
from bench._harness.machine import machine, reference


def main() -> None:
    """Print the machine's line and its reference figures."""
    print(machine())
    with bench_database() as url:
        reference(url)


if __name__ == "__main__":
    main()
