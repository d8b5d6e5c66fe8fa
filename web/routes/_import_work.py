"""The console import's work off the request: the check and the issuing, each on a
thread of its own, and the rows a process holds between them (``registry.bulk.staged``
does the work; this starts it and keeps what it hands over)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from sqlalchemy import Engine
from starlette.datastructures import State

from registry.bulk.rows import ParsedRows
from registry.bulk.staged import check_import, run_import
from registry.issuing import IssuingContext
from registry.issuing.receipts import Issuer

__all__ = ["start_check", "start_import"]

_HELD_ROWS = 20_000  # parsed rows a process holds for their confirmation (10,000: 24 MB)
_HOLDING = threading.Lock()  # the checks' threads and the confirmations share what is held


def _held(state: State) -> OrderedDict[str, ParsedRows]:
    """The rows of the latest files checked in this process, by import: a confirmation
    the same process answers need not read and parse its file again."""
    with _HOLDING:
        held: OrderedDict[str, ParsedRows] | None = getattr(state, "held_imports", None)
        if held is None:
            held = state.held_imports = OrderedDict()
        return held


def _check(
    engine: Engine,
    context: IssuingContext,
    directory: Path,
    identifier: str,
    held: OrderedDict[str, ParsedRows],
) -> None:
    """Check a kept file; hold its rows for its confirmation if they are few enough."""
    parsed = check_import(engine, context, directory, identifier)
    if parsed is None or len(parsed.items) > _HELD_ROWS:
        return
    with _HOLDING:
        held[identifier] = parsed
        while sum(len(rows.items) for rows in held.values()) > _HELD_ROWS:
            held.popitem(last=False)


def start_check(engine: Engine, state: State, directory: Path, identifier: str) -> None:
    """Check a kept import on a thread of its own (the page shows how far it is)."""
    threading.Thread(
        target=_check,
        args=(engine, state.issuing, directory, identifier, _held(state)),
        name=f"console-check-{identifier}",
        daemon=True,
    ).start()


def start_import(
    engine: Engine, state: State, directory: Path, identifier: str, *, issuer: Issuer
) -> None:
    """Issue a claimed import on a thread of its own, with the rows its check parsed
    if this process still holds them."""
    held = _held(state)
    with _HOLDING:
        parsed = held.pop(identifier, None)
    threading.Thread(
        target=run_import,
        args=(engine, state.issuing, directory, identifier),
        kwargs={"issuer": issuer, "parsed": parsed},
        name=f"console-import-{identifier}",
        daemon=True,
    ).start()
