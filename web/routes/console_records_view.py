"""What the console's record page shows of one of the authority's records: its content,
its state today, its signed changes with their reasons and decision numbers, where it
is recognised, and the actions its state allows today."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlmodel import Session

from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.credentials.lifecycle import ACTIONS, ISSUING_ONLY, Action, State
from registry.errors import NotFound
from registry.issuing.views import ChangeView, CredentialView, credential_view
from registry.labels import (
    ACTION,
    CATEGORY,
    CE_KIND,
    MEASURE,
    REGISTRATION_KIND,
    RELATED_ROLE,
    STATE,
)
from registry.storage.credentials import document_of, get_credential
from registry.storage.models import Authority, UserAccount
from web.record_forms import form_of_type
from web.record_views import CREDENTIAL_TYPES, STATE_EN, recognition_rows

__all__ = [
    "ACTION_EN",
    "HistoryEntry",
    "authority_of",
    "label",
    "offered_actions",
    "own_record",
    "record_page_context",
    "record_types",
    "state_words",
    "type_label",
]

ACTION_EN = {
    "suspend": "suspend",
    "reinstate": "lift the suspension",
    "revoke": "revoke",
    "cancel": "cancel (deregister)",
    "lift": "lift by credit repair",
    "reverse-lift": "reverse the credit repair",
    "withdraw": "withdraw the listing",
    "cancel-scheduled": "cancel the scheduled change",
    "supersede": "superseded by a correction",
}
"""Each action in plain English (its Chinese: ``registry.labels.ACTION``)."""

_RECORD_TYPES = (
    CredentialType.QUALIFICATION,
    CredentialType.REGISTRATION,
    CredentialType.CE_CREDIT,
    CredentialType.LISTING,
)


def authority_of(user: UserAccount) -> str:
    """The authority an official acts for: ``CN-SH`` of ``issuer:CN-SH``."""
    return user.role.split(":", 1)[1]


def record_types() -> dict[str, str]:
    """The types of record an authority issues, each with its name (a catalogue text)."""
    return {str(kind): CREDENTIAL_TYPES[kind] for kind in _RECORD_TYPES}


def type_label(kind: str) -> str:
    """The name of a type of record (a catalogue text), or the type itself."""
    return record_types().get(kind, kind)


def label(table: Any, code: object) -> str:
    """A code's Chinese label from a ``registry.labels`` table, or the code itself."""
    if not code:
        return ""
    try:
        return str(table.label(str(code)))
    except KeyError:
        return str(code)


def state_words(state: str | None) -> tuple[str, str]:
    """A state in Chinese and in English."""
    return label(STATE, state), STATE_EN.get(state or "", state or "")


def own_record(session: Session, credential_id: str, user: UserAccount) -> CredentialView:
    """The record with that id if it is the official's authority's; raises
    ``NotFound`` for another authority's, or a credential that is not a record."""
    view = credential_view(session, credential_id[:200])
    if view.authority != authority_of(user) or view.state is None:
        raise NotFound(f"no record {credential_id} of {authority_of(user)}")
    return view


def offered_actions(view: CredentialView) -> list[str]:
    """The decisions the record's state allows today: with a change scheduled, only
    cancelling it; none in a final state."""
    if view.scheduled_change is not None:
        return [Action.CANCEL_SCHEDULED.value]
    state = State(view.state or "")
    return [
        action.value
        for (before, action) in ACTIONS.get(view.type, {})
        if before is state and action not in ISSUING_ONLY
    ]


def _last_day(valid_until: object) -> dt.date | None:
    """A record's last day in force, in China: its credential's ``validUntil`` is the
    first instant after it."""
    if not isinstance(valid_until, str) or not valid_until:
        return None
    moment = dt.datetime.fromisoformat(valid_until.replace("Z", "+00:00"))
    return china_today(moment - dt.timedelta(seconds=1))


@dataclass(frozen=True)
class HistoryEntry:
    """A signed change as the history tells it: the change and its decision."""

    change: ChangeView
    action_zh: str
    action_en: str
    reason: str
    decision_number: str
    recorded: str
    cancels: str | None
    pending: bool


def _history(session: Session, view: CredentialView, today: dt.date) -> list[HistoryEntry]:
    entries = []
    for change in view.changes:
        signed = document_of(get_credential(session, change.id))
        subject = signed.get("credentialSubject", {})
        entries.append(
            HistoryEntry(
                change=change,
                action_zh=label(ACTION, change.action),
                action_en=ACTION_EN.get(change.action, change.action),
                reason=str(subject.get("reason") or ""),
                decision_number=str(subject.get("decisionNumber") or ""),
                recorded=str(signed.get("validFrom") or ""),
                cancels=subject.get("cancels"),
                pending=change.id == view.scheduled_change,
            )
        )
    return entries


def record_page_context(
    request: Request, session: Session, credential_id: str, user: UserAccount
) -> dict[str, Any]:
    """Everything the record page shows; raises ``NotFound`` (``own_record``)."""
    view = own_record(session, credential_id, user)
    today = china_today(dt.datetime.now(dt.UTC))
    document = view.credential
    subject = document.get("credentialSubject", {})
    holder = subject.get("holder") or {}
    listed = subject.get("listed") or {}
    issuer = session.get(Authority, view.authority)
    state_zh, state_en = state_words(view.state)
    history = _history(session, view, today)
    form = form_of_type(view.type)
    final = State(view.state or "") in (
        State.REVOKED,
        State.CANCELLED,
        State.WITHDRAWN,
        State.SUPERSEDED,
    )
    return {
        "view": view,
        "credential_id": view.credential["id"],
        "kind_label": type_label(view.type),
        "subject": subject,
        "document": document,
        "name": holder.get("name") or listed.get("name"),
        "masked": (holder.get("identifier") or listed.get("identifier") or {}).get("masked"),
        "credit_code": listed.get("creditCode"),
        "issuer_zh": issuer.name_zh if issuer else view.authority,
        "issuer_en": issuer.name_en if issuer else view.authority,
        "category_zh": label(CATEGORY, subject.get("category")),
        "ce_kind_zh": label(CE_KIND, subject.get("kind"))
        if view.type == "ContinuingEducationCredit"
        else "",
        "registration_kind_zh": label(REGISTRATION_KIND, subject.get("kind"))
        if view.type == "SafetyEngineerRegistration"
        else "",
        "measure_labels": [label(MEASURE, code) for code in subject.get("measureCodes", [])],
        "related": [
            (
                label(RELATED_ROLE, person.get("role")),
                str(person.get("role") or "").replace("-", " "),
                person.get("name"),
                (person.get("identifier") or {}).get("masked"),
            )
            for person in subject.get("relatedPersons", [])
        ],
        "state_zh": state_zh,
        "state_en": state_en,
        "history": history,
        "pending": next((entry for entry in history if entry.pending), None),
        "actions": [(a, label(ACTION, a), ACTION_EN[a]) for a in offered_actions(view)],
        "correct_slug": form.slug
        if form is not None and not final and not view.scheduled_change
        else None,
        "recognition": recognition_rows(request, session, view.type, subject, view.authority),
        "today": today,
        "last_day": _last_day(document.get("validUntil")),
        "state_words": state_words,
    }
