"""Following the other members' logs: checking each peer checkpoint and its entries
before anything of them is kept (``follow``)."""

from registry.federation.follow import FollowError, Frontier, Verified, conflict, verify_extension

__all__ = ["FollowError", "Frontier", "Verified", "conflict", "verify_extension"]
