"""Continuing education: each authority's rule as versioned data, and counting hours.

``load_policies`` reads the rules; ``assess`` counts an engineer's credits in one
registration term under one rule, crediting other provinces' hours only as the rule and the
recognition agreements in force on each course's completion day allow.
"""

from registry.ce.counting import (
    Assessment,
    CountedCredit,
    Credit,
    assess,
    format_hours,
)
from registry.policies import CePolicy, ForeignHours, PolicyBook, Standing, load_policies

__all__ = [
    "Assessment",
    "CePolicy",
    "CountedCredit",
    "Credit",
    "ForeignHours",
    "PolicyBook",
    "Standing",
    "assess",
    "format_hours",
    "load_policies",
]
