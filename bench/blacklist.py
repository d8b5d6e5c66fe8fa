"""The untrustworthiness list through the API on PostgreSQL: search latency and a bulk check.

Run: ``.venv/bin/python bench/blacklist.py [--listings 100000]`` (or ``make
bench-blacklist``). It starts a throwaway PostgreSQL cluster (or uses
``REGISTRY_BENCH_DATABASE_URL``), seeds the demo federation, issues ``--listings``
synthetic listings in process (organisations, one in three with its principal
(主要负责人); one in ten lifted; spread over the four authorities), starts the
real server (``registry serve``) and prints beside each target:

- ``POST /v1/blacklist/search`` latency, one request at a time over random listed
  companies, persons and names (each answer with its history and inclusion proof,
  and recorded in the access audit): target p99 at most 20 ms;
- one 10,000-row ``POST /v1/blacklist/check`` (half listed parties, half not):
  target at most 1 s.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter
from sqlalchemy import Engine, func
from sqlmodel import col, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._database import bench_database
from bench._harness.load import sequential
from bench._harness.machine import machine, reference
from bench._harness.server import seed_node, serving
from bench._harness.stats import Latency, Row, at_most, print_table
from registry.calendar import china_today
from registry.credentials.lifecycle import Action, StatusChangeIn
from registry.credentials.records import RecordIn
from registry.demo.synthetic import AUTHORITIES, company, credit_code, engineer, person
from registry.issuing import IssuingContext, change_status, issue_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import Record

TARGET_SEARCH_P99_MS = 20.0
TARGET_CHECK_S = 1.0
CHECK_ROWS = 10_000
_RECORD: TypeAdapter[Any] = TypeAdapter(RecordIn)
_BENCH_DECISION = "%BL-%"


def _days_ago(n: int) -> int:
    return 30 + n % 900


def _listing(n: int, today: date) -> dict[str, Any]:
    authority = AUTHORITIES[n % 4]
    name, code = company(n)
    item: dict[str, Any] = {
        "type": "UntrustworthinessListing",
        "authority": authority,
        "listed": {"kind": "organisation", "name": name, "credit_code": code},
        "legal_basis": "《安全生产严重失信主体名单管理办法》第六条",
        "penalty_decision_number": f"罚BL-{n}",
        "listing_decision_number": f"失信BL-{n}",
        "listed_on": (today - timedelta(days=_days_ago(n))).isoformat(),
        "measures": ["依法依规实施联合惩戒"],
    }
    if n % 3 == 0:
        item["related_persons"] = [
            {"name": engineer(n).name, "id_number": person(n), "role": "principal"}
        ]
    return item


def _loaded(engine: Engine) -> int:
    with session_scope(engine) as session:
        return int(
            session.exec(
                select(func.count())
                .select_from(Record)
                .where(
                    col(Record.type) == "UntrustworthinessListing",
                    col(Record.number).like(_BENCH_DECISION),
                )
            ).one()
        )


def load(engine: Engine, context: IssuingContext, first: int, count: int) -> float:
    """Issue listings ``first`` to ``first + count - 1``, 5,000 per authority and
    transaction, and lift one in fifty of those listed over a year ago (each lift
    signed and logged on its own); the seconds it took."""
    began = time.perf_counter()
    today = china_today()
    for start in range(first, first + count, 20_000):
        items = [_listing(n, today) for n in range(start, min(start + 20_000, first + count))]
        numbers = range(start, min(start + 20_000, first + count))
        for authority in AUTHORITIES:
            mine = [
                (n, i) for n, i in zip(numbers, items, strict=True) if i["authority"] == authority
            ]
            for chunk in range(0, len(mine), 5000):
                part = mine[chunk : chunk + 5000]
                valid = [_RECORD.validate_python(i) for _, i in part]
                with session_scope(engine) as session:
                    issued = issue_records(session, context, valid, now=datetime.now(UTC))
                    ids = [r.credential.id for r in issued.records]
                lifted = [
                    credential_id
                    for (n, _), credential_id in zip(part, ids, strict=True)
                    if n % 50 == 0 and _days_ago(n) >= 370
                ]
                with session_scope(engine) as session:
                    for credential_id in lifted:
                        change_status(
                            session,
                            context,
                            credential_id,
                            StatusChangeIn(
                                action=Action.LIFT,
                                reason="信用修复",
                                decision_number="修复BL",
                                effective_on=today,
                            ),
                        )
        print(f"  {min(start + 20_000, first + count)} listings loaded", flush=True)
    return time.perf_counter() - began


def prepare(url: str, data_dir: Path, listings: int) -> tuple[Settings, str, str | None]:
    """Migrate, seed the demo, load what is missing; an enforcement token, and what
    the load took (``None``: nothing to load)."""
    settings = Settings(data_dir=data_dir, database_url=url, demo=True)
    with engine_scope(url) as engine:
        upgrade(engine)
        context, token = seed_node(engine, settings, role="enforcement")
        have = _loaded(engine)
        if have >= listings:
            print(f"{have} listings already loaded: not loading", flush=True)
            return settings, token, None
        print(f"loading {listings - have} listings ...", flush=True)
        took = load(engine, context, have, listings - have)
        return settings, token, f"{listings - have} listings in {took:.0f} s"


def measure(base: str, token: str, listings: int, *, searches: int) -> list[Row]:
    """The searches one at a time, then three bulk checks; the summary rows."""
    rng = random.Random(7)  # noqa: S311 - picks whom to ask about, not secrets
    headers = {"Authorization": f"Bearer {token}"}
    rows: list[Row] = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:

        def question() -> dict[str, str]:
            n = rng.randrange(listings)
            way = rng.randrange(3)
            if way == 0:
                return {"credit_code": company(n)[1], "region": rng.choice(AUTHORITIES)}
            if way == 1:
                return {"id_number": person(n - n % 3)}
            return {"name": company(n)[0]}

        for _ in range(200):  # warm up: connections, caches, prepared statements
            client.post("/v1/blacklist/search", json=question()).raise_for_status()
        bodies = [question() for _ in range(searches)]  # drawn before the clock starts
        answers: list[httpx.Response] = []
        latency = Latency.of(
            sequential(
                searches,
                lambda n: answers.append(client.post("/v1/blacklist/search", json=bodies[n])),
            )
        )
        found = 0
        for answer in answers:  # read after: only the request is timed
            answer.raise_for_status()
            # By name, a listing is a possible match only (a name identifies no one).
            body = answer.json()
            found += bool(body["listings"] or body["possibleMatches"])
        print(
            f"search, one at a time ({searches}, {found} found listings in force): "
            f"p50 {latency.p50:.1f} ms  p99 {latency.p99:.1f} ms   "
            f"{at_most(latency.p99, TARGET_SEARCH_P99_MS, what='p99 ', unit=' ms')}",
            flush=True,
        )
        rows.append(
            (
                "search p50 / p99",
                f"{latency.p50:.1f} / {latency.p99:.1f} ms",
                f"p99 <= {TARGET_SEARCH_P99_MS:.0f} ms",
            )
        )
        times = []
        for attempt in range(3):
            people = [rng.randrange(listings) for _ in range(CHECK_ROWS // 2)]
            check = [{"credit_code": company(n)[1]} for n in people] + [
                {"credit_code": credit_code(f"91110000MA{attempt}{n:06d}")}
                for n in range(CHECK_ROWS // 2)
            ]
            began = time.perf_counter()
            answer = client.post("/v1/blacklist/check", json={"rows": check})
            took = time.perf_counter() - began
            answer.raise_for_status()
            results = answer.json()["results"]
            listed = sum(1 for r in results if r.get("listed"))
            times.append(took)
            print(
                f"bulk check, {len(check)} rows (run {attempt + 1}): {took:.2f} s   "
                f"{at_most(took, TARGET_CHECK_S, unit=' s')}   ({listed} listed)",
                flush=True,
            )
        rows.append(
            (
                f"bulk check, {CHECK_ROWS} rows (slowest of 3)",
                f"{max(times):.2f} s",
                f"<= {TARGET_CHECK_S:.0f} s",
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--searches", type=int, default=2000)
    parser.add_argument("--data-dir", type=Path, default=None, help="the node's keys")
    args = parser.parse_args()
    print(machine())
    with bench_database() as url:
        figures = reference(url)
        kept = bool(os.environ.get("REGISTRY_BENCH_DATABASE_URL"))
        given = args.data_dir
        if given is None and kept:
            given = Path.home() / ".cache" / "registry-bench" / "blacklist"
        directory = given or Path(tempfile.mkdtemp(prefix="registry-bench-blacklist-"))
        directory.mkdir(parents=True, exist_ok=True)
        try:
            settings, token, loaded = prepare(url, directory, args.listings)
            with serving(settings, directory / "server.log") as server:
                rows = measure(server.base, token, args.listings, searches=args.searches)
        finally:
            if given is None:
                shutil.rmtree(directory, ignore_errors=True)
    print_table(
        f"Untrustworthiness list on PostgreSQL, {args.listings} listings ({machine()}; {figures}):",
        ([("load", loaded, "")] if loaded else []) + rows,
    )


if __name__ == "__main__":
    main()
