"""Why a log this node hosts signs nothing now: the error ``append`` raises for a
hold in ``log_signing_hold`` (``registry.federation.standing`` sets and lifts them)."""

from __future__ import annotations

from sqlmodel import Session

from registry.errors import SigningHeld
from registry.storage.models import LogSigningHold

__all__ = ["held_error", "refuse_if_held"]


def refuse_if_held(session: Session, authority: str) -> None:
    """Raise ``SigningHeld`` if the log of ``authority`` is held from signing."""
    hold = session.get(LogSigningHold, authority)
    if hold is not None:
        raise held_error(hold)


def held_error(hold: LogSigningHold) -> SigningHeld:
    """The ``SigningHeld`` that says why ``hold`` stops its log from signing."""
    code = hold.authority_code
    if hold.reason == "restored":
        return SigningHeld(
            f"the log of {code} signs nothing until its peers confirm its newest "
            "checkpoint, as after a restore from a backup: the node's operator runs "
            "`registry log standing`"
        )
    if hold.reason == "behind":
        return SigningHeld(
            f"the log of {code} signs nothing: {hold.peer} holds its checkpoint of size "
            f"{hold.peer_size}, larger than this node's, and signing now would fork the "
            "log: the node's operator runs `registry log standing`"
        )
    return SigningHeld(
        f"the log of {code} signs nothing: {hold.peer} holds another checkpoint for a size "
        "this node signed: the node's operator runs `registry log standing`"
    )
