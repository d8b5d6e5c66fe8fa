"""Following the other members' logs: checking each peer checkpoint and its entries
before anything of them is kept (``follow``), a step of following one log a chunk at
a time (``follower``) with the processes that verify its pages and read the next
chunk ahead (``verifiers``), the members this node does not host (``peers``),
keeping a verified batch as a read-only mirror (``mirror``), and the evidence of a
fork (``evidence``)."""

from registry.federation.evidence import EVIDENCE_TYPE, fork_evidence, verify_evidence
from registry.federation.follow import Frontier, Verified, conflict, verify_extension

__all__ = [
    "EVIDENCE_TYPE",
    "Frontier",
    "Verified",
    "conflict",
    "fork_evidence",
    "verify_evidence",
    "verify_extension",
]
