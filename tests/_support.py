"""Small helpers shared by the tests."""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from registry.trust.store import NodeProfile

__all__ = ["PROFILE", "REGISTRY", "free_port"]

REGISTRY = Path(sys.executable).parent / "registry"
"""The installed `registry` console script of the environment running the tests."""


PROFILE = NodeProfile(log_origin_prefix="registry.yrd.example", node_url="http://127.0.0.1:8000")
"""How the test node names the members it hosts."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
