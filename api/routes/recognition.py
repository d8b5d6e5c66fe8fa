"""Recognition agreements in force (public: they are what makes records count)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import DbSession
from api.limits import GatedRoute
from api.schemas.recognition import AgreementOut, AgreementsOut
from registry.calendar import Day, china_today
from registry.recognition.agreements import in_force, load_agreements

__all__ = ["router"]

router = APIRouter(prefix="/v1/recognition", tags=["recognition"], route_class=GatedRoute)


@router.get("", summary="Recognition agreements in force on a day")
def agreements_in_force(
    session: DbSession,
    on: Annotated[
        Day | None,
        Query(alias="date", description="The day (default: today in China)."),
    ] = None,
) -> AgreementsOut:
    """Every published agreement in force on the day: begun, not past its last day,
    not terminated. Each comes with its signed credential, which carries a proof by
    every party."""
    day = on or china_today()
    return AgreementsOut(
        date=day,
        agreements=[
            AgreementOut(
                id=p.agreement.id,
                issuer=p.issuer,
                parties=sorted(p.agreement.parties),
                direction=p.agreement.direction.value,
                source=p.agreement.source,
                target=p.agreement.target,
                kinds=sorted(k.value for k in p.agreement.kinds),
                categories=sorted(c.value for c in p.agreement.categories)
                if p.agreement.categories is not None
                else None,
                levels=sorted(p.agreement.levels),
                effective_from=p.agreement.valid_from,
                effective_until=p.agreement.valid_until,
                terminated_on=p.agreement.terminated_on,
                termination=p.termination_id,
                basis_number=p.agreement.basis_number,
                basis_title=p.agreement.basis_title,
                credential=p.credential,
            )
            for p in in_force(load_agreements(session), day)
        ],
    )
