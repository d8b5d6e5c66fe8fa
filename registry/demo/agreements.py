"""The demo's recognition agreements, proposed, signed by every party and published
through the same path as ``registry recognition``.

The documents they cite are synthetic: the demo shows how agreements work, not
which ones the four authorities have actually signed. So each is marked
``demonstration`` (``"demonstration": true`` in its credential): only a node running
the demo (``Settings.demo``, ``IssuingContext.demo``) publishes one or relies on it,
and the offline verifier accepts a report relying on one only with ``--demo``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from registry.issuing import IssuingContext
from registry.recognition import Agreement, Direction, RecordKind
from registry.recognition import agreements as workflow
from registry.storage.models import AgreementProposal, Authority

__all__ = ["DEMO_AGREEMENTS", "seed_demo_agreements"]

_ALL = frozenset({"CN-SH", "CN-JS", "CN-ZJ", "CN-AH"})

DEMO_AGREEMENTS: tuple[tuple[str, Agreement], ...] = (
    (
        "CN-SH",
        Agreement(
            id="urn:uuid:5d1c8a52-7f7e-4b7a-9d0a-3f6b1c2e0001",
            parties=_ALL,
            direction=Direction.MUTUAL,
            kinds=frozenset({RecordKind.QUALIFICATION, RecordKind.CONTINUING_EDUCATION}),
            levels=frozenset({"junior"}),
            valid_from=date(2021, 1, 1),
            basis_number="沪苏浙皖应急〔2021〕1号（演示）",
            basis_title="长三角区域初级注册安全工程师职业资格和继续教育学时互认协议（演示）",
            demonstration=True,
        ),
    ),
    (
        "CN-AH",
        Agreement(
            id="urn:uuid:5d1c8a52-7f7e-4b7a-9d0a-3f6b1c2e0002",
            parties=frozenset({"CN-AH", "CN-SH"}),
            direction=Direction.ONE_WAY,
            source="CN-SH",
            target="CN-AH",
            kinds=frozenset({RecordKind.REGISTRATION}),
            levels=frozenset({"junior"}),
            valid_from=date(2023, 7, 1),
            valid_until=date(2028, 6, 30),
            basis_number="皖应急〔2023〕45号（演示）",
            basis_title="安徽省认可上海市初级注册安全工程师注册的协议（演示）",
            demonstration=True,
        ),
    ),
)
"""(proposer, agreement): qualifications and CE hours count across all four
provinces; Shanghai registrations also count in Anhui, one way, for five years."""


def seed_demo_agreements(
    session: Session, context: IssuingContext, *, now: datetime | None = None
) -> bool:
    """Propose, sign by every party and publish the demo agreements, where no agreement
    was ever proposed and all four authorities exist. Returns whether it did.

    Raises ``Conflict`` if ``context`` is not a node running the demo. The caller
    commits.
    """
    if session.scalar(select(func.count()).select_from(AgreementProposal)):
        return False
    if (session.scalar(select(func.count()).select_from(Authority)) or 0) < len(_ALL):
        return False
    now = now or datetime.now(UTC)
    for proposer, agreement in DEMO_AGREEMENTS:
        workflow.propose(session, agreement, proposer=proposer, now=now)
        for party in sorted(agreement.parties):
            workflow.sign(session, context.key_store, agreement.id, party, now=now)
        workflow.publish(session, context, agreement.id, now=now)
    return True
