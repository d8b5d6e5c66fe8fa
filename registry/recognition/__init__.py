"""Mutual recognition: when a record of one province counts in another.

A qualification, registration or continuing-education credit issued by one
authority counts in its own region always, and in another region exactly when a
recognition agreement in force on the relevant day covers it: the issuer and the
region are parties, the direction runs from the issuer to the region, and the
record's kind, category and level are in the agreement's scope. For CE hours the
relevant day is the course's completion date; for the others, the day asked about.

``Agreement`` is what a fully signed ``RecognitionAgreement`` credential (and any
``StatusChange`` terminating it) says; ``recognise`` decides one record, and says
why in Chinese and in English either way.
"""

from registry.recognition.coverage import (
    Agreement,
    Direction,
    Reason,
    Recognition,
    RecordKind,
    recognise,
)

__all__ = ["Agreement", "Direction", "Reason", "Recognition", "RecordKind", "recognise"]
