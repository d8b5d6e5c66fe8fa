"""Issuing records and changing their state: validation against what is stored,
status lists, corrections, idempotent retries, and what the registry says of a record."""

from registry.issuing.changes import StatusChanged, change_status, get_record
from registry.issuing.context import IssuingContext
from registry.issuing.idempotency import change_once, issue_once
from registry.issuing.records import IssuedRecord, RecordsIssued, check_records, issue_records
from registry.issuing.replay import AnsweredItem, ChangeAnswer, IssueAnswer
from registry.issuing.views import CredentialView, credential_view

__all__ = [
    "AnsweredItem",
    "ChangeAnswer",
    "CredentialView",
    "IssueAnswer",
    "IssuedRecord",
    "IssuingContext",
    "RecordsIssued",
    "StatusChanged",
    "change_once",
    "change_status",
    "check_records",
    "credential_view",
    "get_record",
    "issue_once",
    "issue_records",
]
