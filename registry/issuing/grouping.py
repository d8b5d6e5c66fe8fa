"""Single issuances issued together while their authority's log is busy (group commit).

Every issuance of an authority appends to its log under the log's lock, from the first
check to the commit, so one at a time: a transaction of a dozen statements and a
commit that waits for the disk. One record a transaction, that caps an authority's
single issuances at a few dozen a second, however many processes serve them.

``SingleIssues`` lifts the cap without changing any answer. The requests of one
process for one authority wait their turn in line; whoever's turn comes takes every
request waiting then (at most ``GROUP_MOST``) and issues them in one transaction
(``issue_each``): one lock, one append, one checkpoint, one commit, and each request
its own answer, given only once that commit is done. Under light load a group is one
request, issued as before; under heavy load the groups grow with the wait.

Should the group be refused as a whole (one of its records is invalid, or repeats
another, or one caller may not issue it), nothing of it is written and each request
is issued alone, in its own transaction, in the order they came: each gets exactly
the answer, or the error, it would have had without the others.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Engine

from registry.issuing.context import IssuingContext
from registry.issuing.idempotency import Single, issue_each, issue_once
from registry.issuing.replay import IssueAnswer
from registry.storage.db import session_scope

__all__ = ["GROUP_MOST", "SingleIssues"]

GROUP_MOST = 500
"""Requests issued together at most; the rest wait for the next turn."""


@dataclass(eq=False)
class _Waiting:
    single: Single
    answer: IssueAnswer | None = None
    error: Exception | None = None
    done: bool = False

    def outcome(self) -> IssueAnswer:
        if self.error is not None:
            raise self.error
        if self.answer is None:
            raise RuntimeError("a request left its group unanswered")
        return self.answer


class SingleIssues:
    """One process's single issuances (``POST /v1/credentials``), grouped by authority
    while that authority's log is busy. ``issue`` blocks its thread until its
    request's transaction has committed (or failed)."""

    def __init__(self, engine: Engine, context: IssuingContext, *, scope: str) -> None:
        self._engine = engine
        self._context = context
        self._scope = scope
        self._changed = threading.Condition()
        self._waiting: dict[str, list[_Waiting]] = defaultdict(list)
        self._issuing: dict[str, int] = {}  # the size of each authority's group in hand

    def issue(self, single: Single) -> IssueAnswer:
        """Issue ``single``'s record, alone or with others waiting then; its answer, or
        what ``issue_once`` raises for it."""
        waiting = _Waiting(single)
        authority = single.item.authority
        with self._changed:
            self._waiting[authority].append(waiting)
            group = self._turn(waiting, authority)
        while group is not None:
            try:
                self._issue(group)
            finally:
                with self._changed:
                    for member in group:
                        member.done = True
                    del self._issuing[authority]
                    self._changed.notify_all()
                    group = self._turn(waiting, authority)
        return waiting.outcome()

    def _turn(self, waiting: _Waiting, authority: str) -> list[_Waiting] | None:
        # Under the lock: wait until ``waiting`` is answered (None) or no group of the
        # authority is being issued; then take the line's first GROUP_MOST as the next.
        while not waiting.done and authority in self._issuing:
            self._changed.wait()
        if waiting.done:
            return None
        queue = self._waiting[authority]
        group, self._waiting[authority] = queue[:GROUP_MOST], queue[GROUP_MOST:]
        self._issuing[authority] = len(group)
        return group

    def pending(self, authority: str) -> int:
        """How many requests for ``authority`` are not answered yet: being issued, or
        waiting in line."""
        with self._changed:
            return len(self._waiting.get(authority, ())) + self._issuing.get(authority, 0)

    def _issue(self, group: Sequence[_Waiting]) -> None:
        if len(group) > 1 and self._together(group):
            return
        for waiting in group:
            self._alone(waiting)

    def _together(self, group: Sequence[_Waiting]) -> bool:
        try:
            with session_scope(self._engine) as session:
                answers = issue_each(
                    session, self._context, [w.single for w in group], scope=self._scope
                )
        except Exception:  # each is issued alone next, for its own answer
            return False
        for waiting, answer in zip(group, answers, strict=True):
            waiting.answer = answer
        return True

    def _alone(self, waiting: _Waiting) -> None:
        single = waiting.single
        try:
            with session_scope(self._engine) as session:
                waiting.answer = issue_once(
                    session,
                    self._context,
                    [single.item],
                    role=single.role,
                    idempotency_key=single.idempotency_key,
                    scope=self._scope,
                    body_json=single.body_json,
                )
        except Exception as exc:  # raised again in the request's own thread
            waiting.error = exc
