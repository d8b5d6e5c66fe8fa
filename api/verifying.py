"""Verifying engineers for the API and the pages alike: one person with a signed
report, or many rows with a verdict each, every question recorded in the access audit
under the asker's token (an API token, or the token row of the person signed in to
the pages), committed before the answer is given.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import loop_reads_of
from api.schemas.verification import EngineerIn
from api.uploads import Upload
from registry.enforcement.audit import AccessEntry, add_accesses, criteria_hash
from registry.spreadsheets import decode_csv, read_xlsx
from registry.storage.replica import Reads
from registry.tokens import Caller
from registry.verification import EngineerQuery, EngineerVerifier, Verified, access_criteria
from registry.verification.batch import (
    MAX_BATCH,
    asked_of,
    csv_batch_rows,
    table_batch_rows,
    verdict_label,
    verdict_row,
)

__all__ = ["JUDGED_AT_ONCE", "engineer_row", "judge_rows", "table_rows", "verify_one"]

JUDGED_AT_ONCE = 250
"""Rows judged together between two reports of progress."""


async def verify_one(request: Request, query: EngineerQuery, caller: Caller) -> Verified:
    """Judge the person in ``query``, sign the report, and record the question in the
    access audit as ``caller``'s; raises what ``EngineerVerifier.verify`` raises."""
    state = request.app.state
    verifier: EngineerVerifier = state.verifier
    # On the event loop's own thread, not a worker thread: a verification is a few
    # milliseconds of computing and of short reads from one snapshot, which take no
    # locks, and handing it to a thread and back cost as much again
    # (docs/benchmarks.md). A process serves one at a time, on a connection of its
    # own (of the replica, if the node has one); `registry serve --workers` runs one
    # process per core. The audit's entry goes to the primary (the recorder's).
    verified = loop_reads_of(request).read(lambda session: verifier.verify(session, query))
    node_secret: bytes = state.issuing.node_secret
    criteria = access_criteria(query, node_secret=node_secret)
    await state.recorder.record(
        AccessEntry(
            caller,
            action="engineer-verification",
            criteria=criteria_hash(criteria, node_secret=node_secret),
            rows=1,
            results=1 if verified.held else 0,
            at=dt.datetime.now(dt.UTC),
        )
    )
    return verified


def table_rows(upload: Upload) -> list[dict[str, str]]:
    """The rows of an uploaded CSV or XLSX table (its first sheet), by the batch's
    columns; raises ``InvalidInput`` for a table that cannot be read as one."""
    if upload.kind == "xlsx":
        table = read_xlsx(upload.body, max_rows=MAX_BATCH, max_columns=32)
        return table_batch_rows(table)
    return csv_batch_rows(decode_csv(upload.body, upload.charset))


def engineer_row(row: dict[str, Any]) -> EngineerIn | ValidationError:
    """A row as a question, or why it is not one."""
    try:
        return EngineerIn.model_validate(row)
    except ValidationError as exc:
        return exc


def _error_text(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in error.errors()
    )


def judge_rows(
    reads: Reads,
    verifier: EngineerVerifier,
    rows: Sequence[dict[str, Any]],
    caller: Caller,
    node_secret: bytes,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Judge every row from one snapshot (of the replica, if ``reads`` has one) and
    record the batch as one entry of the access audit (on the primary). With
    ``progress``, ``JUDGED_AT_ONCE`` rows at a time, and it hears how many are done
    after each; without, all at once (the agreements, rules and log heads read once).
    Each result echoes what its row asked; a bad row is its error."""
    parsed = [engineer_row(row) for row in rows]
    queries: list[EngineerQuery | str] = [
        p.query() if isinstance(p, EngineerIn) else _error_text(p) for p in parsed
    ]
    step = JUDGED_AT_ONCE if progress is not None else max(1, len(queries))

    def judge_all(session: Session) -> list[Any]:
        # From the start each time: judged again on the primary if the replica fails.
        judged: list[Any] = []
        for start in range(0, len(queries), step):
            judged.extend(verifier.judge_many(session, queries[start : start + step]))
            if progress is not None:
                progress(len(judged))
        return judged

    results = reads.read(judge_all)
    asked = [
        access_criteria(query, node_secret=node_secret)
        for query, result in zip(queries, results, strict=True)
        if isinstance(query, EngineerQuery) and not isinstance(result, str)
    ]
    found = sum(1 for result in results if not isinstance(result, str) and result[0].records)
    # Its own short transaction, after the batch's snapshot: on SQLite that reader
    # could not become the writer (storage.db.begin_snapshot).
    entry = AccessEntry(
        caller,
        "engineer-verification-batch",
        criteria_hash({"rows": _canonical_rows(asked)}, node_secret=node_secret),
        len(rows),
        found,
        dt.datetime.now(dt.UTC),
    )
    with reads.primary.begin() as connection:
        add_accesses(connection, [entry])
    out = []
    for number, (row, result) in enumerate(zip(rows, results, strict=True), start=1):
        echo = {"row": number, "asked": asked_of(row if isinstance(row, dict) else {})}
        if isinstance(result, str):
            out.append({**echo, "verdictLabel": verdict_label("invalid"), "error": result})
        else:
            out.append({**echo, **verdict_row(result)})
    return out


def _canonical_rows(asked: list[dict[str, str]]) -> str:
    # criteria_hash takes text values: the rows' criteria as one canonical JSON text.
    return json.dumps(asked, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
