"""Continuing education: each authority's rule as versioned data, and counting hours.

``load_policies`` reads the rules; ``assess`` counts an engineer's credits in one
cycle under one rule, crediting other provinces' hours only as the rule and the
recognition agreements in force on each course's completion day allow.
"""

from registry.ce.counting import (
    Assessment,
    CountedCredit,
    Credit,
    assess,
    cycle_containing,
    format_hours,
)
from registry.ce.policy import CePolicy, ForeignHours, PolicyBook, load_policies

__all__ = [
    "Assessment",
    "CePolicy",
    "CountedCredit",
    "Credit",
    "ForeignHours",
    "PolicyBook",
    "assess",
    "cycle_containing",
    "format_hours",
    "load_policies",
]
