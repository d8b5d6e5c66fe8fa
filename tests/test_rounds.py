"""The cosigner's rounds as bookkeeping (``registry.federation.rounds``): which
checkpoint each witness is asked about, and when a round is settled."""

from __future__ import annotations

import time

from registry.federation.rounds import Rounds

LOG = "CN-SH"
ALL = ["CN-AH", "CN-JS", "CN-ZJ"]


def _asked(rounds: Rounds, size: int) -> list[str]:
    """Start (or join) the round ``rounds.target`` names for a log of ``size``."""
    target = rounds.target(LOG, size)
    at = (size, f"note {size}") if target is None else target
    free = rounds.free(LOG, ALL, at[0])
    if free:
        rounds.ask(LOG, *at, needed=2, witnesses=free)
    return free


def test_the_next_round_waits_until_the_policy_is_met() -> None:
    rounds = Rounds(gap=0)
    assert _asked(rounds, 5) == ALL
    assert rounds.answered(LOG, 5, ["CN-AH"], cosigned=True) is False
    assert rounds.target(LOG, 9) == (5, "note 5")  # one of two: the log's growth waits
    assert _asked(rounds, 9) == []
    assert rounds.answered(LOG, 5, ["CN-JS"], cosigned=True) is True  # settled: wake
    assert rounds.target(LOG, 9) is None
    assert _asked(rounds, 9) == ["CN-AH", "CN-JS"]  # Zhejiang still busy with size 5


def test_a_round_every_witness_failed_is_settled_and_one_back_joins_it() -> None:
    rounds = Rounds(gap=0)
    _asked(rounds, 5)
    rounds.answered(LOG, 5, ["CN-AH", "CN-JS"], cosigned=False)
    rounds.failed(["CN-AH", "CN-JS"], 60)
    latest = rounds.latest(LOG)
    assert latest is not None
    assert not latest.settled()  # Zhejiang has not answered yet
    assert rounds.answered(LOG, 5, ["CN-ZJ"], cosigned=True) is True
    assert rounds.target(LOG, 9) is None
    assert _asked(rounds, 9) == ["CN-ZJ"]  # the others wait out their failure
    rounds.answered(LOG, 9, ["CN-ZJ"], cosigned=True)
    rounds.recovered(["CN-AH"])
    assert rounds.target(LOG, 9) == (9, "note 9")  # settled, but the log has not grown
    assert _asked(rounds, 9) == ["CN-AH"]


def test_a_witness_left_behind_wakes_the_cosigner_when_it_answers() -> None:
    rounds = Rounds(gap=0)
    _asked(rounds, 5)
    rounds.answered(LOG, 5, ["CN-AH", "CN-JS"], cosigned=True)
    assert _asked(rounds, 9) == ["CN-AH", "CN-JS"]
    assert rounds.answered(LOG, 5, ["CN-ZJ"], cosigned=True) is True  # an older round's
    assert rounds.free(LOG, ALL, 9) == ["CN-ZJ"]


def test_a_log_that_keeps_growing_starts_a_round_no_sooner_than_the_gap() -> None:
    rounds = Rounds(gap=0.2)
    _asked(rounds, 5)
    assert rounds.answered(LOG, 5, ["CN-AH", "CN-JS"], cosigned=True) is True
    # Settled at once, and the log has grown: the next round waits out the gap.
    assert rounds.target(LOG, 9) == (5, "note 5")
    assert _asked(rounds, 9) == []
    wait = rounds.next_start()
    assert wait is not None
    assert 0 < wait <= 0.2
    time.sleep(wait)
    assert rounds.target(LOG, 9) is None
    assert _asked(rounds, 9) == ["CN-AH", "CN-JS"]
