"""Verification through the API on PostgreSQL: one engineer at a time under load, and batches.

Run: ``.venv/bin/python bench/verify.py [--engineers 100000]`` (or ``make bench-verify``).
It starts a throwaway PostgreSQL cluster (or uses ``REGISTRY_BENCH_DATABASE_URL``),
seeds the demo federation, loads ``--engineers`` synthetic engineers in process
(each: a qualification, a registration and 8 continuing-education credits, so 10
credentials; one in five registered in another province than the one that
qualified them, some hours from a third), starts the real server and prints beside
each target:

- verifications per second through ``POST /v1/verify/engineer`` (a signed
  ``VerificationReport`` with inclusion proofs each), ``--concurrency`` requests in
  flight (16, then 32) for ``--seconds`` over random engineers and regions: target
  at least 500/s, p99 at most 100 ms. The server is saturated at 16: at 32 the rate
  is the same and each request waits behind twice as many;
- one 10,000-row ``POST /v1/verify/batch``, as JSON and as CSV: target at most 10 s.

The server is ``registry serve --workers N``, for each N of ``--workers`` (default
2, one per core; ``--workers 1,2`` measures both). Where each core's time went
during the load (server, PostgreSQL, client, anything else) is printed too.

With ``REGISTRY_BENCH_DATABASE_URL`` the loaded engineers are kept: the node's keys
and secrets stay in ``--data-dir`` (default under ``~/.cache/registry-bench``), and a
re-run against the same database loads only what is missing. The client runs on the
same two cores as the server and the database: it speaks plain HTTP/1.1 over kept-alive
connections, about 0.15 ms of CPU a request, and its CPU time is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import hashlib
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvloop
from pydantic import TypeAdapter
from sqlalchemy import Engine, func, text
from sqlalchemy.engine import make_url
from sqlmodel import col, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # for the test harness's throwaway cluster

from bench._database import bench_database, machine  # noqa: E402
from registry.credentials.records import RecordIn  # noqa: E402
from registry.demo import (  # noqa: E402
    credit_code,
    resident_id,
    seed_demo,
    seed_demo_records,
)
from registry.ids import Category  # noqa: E402
from registry.issuing import IssuingContext, china_today, issue_records  # noqa: E402
from registry.settings import Settings  # noqa: E402
from registry.storage.db import engine_scope, session_scope, upgrade  # noqa: E402
from registry.storage.models import Record  # noqa: E402
from registry.tokens import create_token  # noqa: E402
from registry.trust.store import NodeProfile  # noqa: E402
from tests._support import REGISTRY, free_port  # noqa: E402

TARGET_PER_SECOND = 500.0
TARGET_P99_MS = 100.0
TARGET_BATCH_S = 10.0
BATCH_ROWS = 10_000

AUTHORITIES = ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
_AREAS = {
    "CN-SH": ("310101", "310104", "310115"),
    "CN-JS": ("320106", "320102", "320583"),
    "CN-ZJ": ("330106", "330102"),
    "CN-AH": ("340104", "340102"),
}
_PROVINCE = {
    "CN-SH": ("上海", "310000"),
    "CN-JS": ("江苏", "320000"),
    "CN-ZJ": ("浙江", "330000"),
    "CN-AH": ("安徽", "340000"),
}
_PROVIDERS = {
    code: (f"{name}安全生产继续教育培训中心", credit_code(f"12{area}MB{7 + n:07d}"))
    for n, (code, (name, area)) in enumerate(_PROVINCE.items())
}
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红"
_CATEGORIES = tuple(Category)
_COURSES = (
    ("安全生产法律法规与政策解读", "general"),
    ("安全生产标准化建设", "general"),
    ("危险化学品重大危险源辨识与管控", "professional"),
    ("事故调查与案例分析", "professional"),
    ("双重预防机制建设实务", "professional"),
    ("应急预案编制与演练", "professional"),
    ("特种作业安全管理", "professional"),
    ("安全评价方法与应用", "professional"),
)
_HOURS = (3, 4.5, 6, 8, 12)  # 8 credits: 24, 36, 48, 64 or 96 hours a cycle
_RECORD: TypeAdapter[Any] = TypeAdapter(RecordIn)
_BENCH_QUALIFICATION = "%-BV-%"  # certificate numbers of the loaded engineers
_CACHE_FILE = "bench-verify.json"
_VERDICT = re.compile(rb'"verdict":"([a-z-]+)"')


# -- the synthetic engineers ---------------------------------------------------------


@dataclass(frozen=True)
class Engineer:
    """Engineer ``n``: everything about them follows from ``n``."""

    n: int
    name: str
    id_number: str
    qualified_by: str
    registered_by: str
    category: str

    @property
    def registration_age(self) -> int:
        """Days since the registration began: one in five has lapsed (over 5 years)."""
        return 100 + (self.n * 7919) % 2100


def engineer(n: int) -> Engineer:
    """Engineer ``n`` (0 <= n < 9,000,000): a unique, well-formed resident ID number."""
    qualified_by = AUTHORITIES[n % 4]
    # One in five registers in the next province, not the one that qualified them.
    registered_by = AUTHORITIES[(n + 1) % 4] if n % 5 == 0 else qualified_by
    areas = _AREAS[qualified_by]
    born = date(1965, 1, 1) + timedelta(days=n % 10_000)
    # Birth day and sequence number together are unique per n; the demo's own
    # engineers have sequences below 100.
    number = resident_id(areas[n % len(areas)], born.strftime("%Y%m%d"), f"{100 + n // 10_000}")
    name = (
        _SURNAMES[n % len(_SURNAMES)]
        + _GIVEN[(n // 7) % len(_GIVEN)]
        + (_GIVEN[(n // 11) % len(_GIVEN)] if n % 3 else "")
    )
    category = _CATEGORIES[(n // 4) % len(_CATEGORIES)].value
    return Engineer(n, name, number, qualified_by, registered_by, category)


def _holder(e: Engineer) -> dict[str, str]:
    return {"name": e.name, "id_number": e.id_number}


def _qualification(e: Engineer, today: date) -> dict[str, Any]:
    return {
        "type": "SafetyEngineerQualification",
        "authority": e.qualified_by,
        "holder": _holder(e),
        "certificate_number": f"{e.qualified_by[3:]}-BV-{e.n:07d}",
        "category": e.category,
        "issued_on": (today - timedelta(days=e.registration_age + 30 + e.n % 400)).isoformat(),
    }


def _registration(e: Engineer, qualification_id: str, today: date) -> dict[str, Any]:
    start = today - timedelta(days=e.registration_age)
    province, area = _PROVINCE[e.registered_by]
    employer = e.n % 97
    return {
        "type": "SafetyEngineerRegistration",
        "authority": e.registered_by,
        "holder": _holder(e),
        "registration_number": f"{e.registered_by[3:]}-BVR-{e.n:07d}",
        "qualification": qualification_id,
        "category": e.category,
        "employer": {
            "name": f"{province}第{employer + 1}安全工程有限公司",
            "credit_code": credit_code(f"91{area}MA{employer:07d}"),
        },
        "kind": "initial",
        "valid_from": start.isoformat(),
        "valid_until": (start + timedelta(days=5 * 365 - 1)).isoformat(),  # < 5 years
    }


def _credits(e: Engineer, today: date) -> list[dict[str, Any]]:
    hours = _HOURS[e.n % len(_HOURS)]
    items = []
    for k, (title, kind) in enumerate(_COURSES):
        authority = e.registered_by
        if k == 7 and e.n % 3 == 0:  # one course in another province
            authority = (
                e.qualified_by if e.qualified_by != e.registered_by else AUTHORITIES[(e.n + 2) % 4]
            )
        provider = _PROVIDERS[authority]
        items.append(
            {
                "type": "ContinuingEducationCredit",
                "authority": authority,
                "holder": _holder(e),
                "course_title": title,
                "provider": {"name": provider[0], "credit_code": provider[1]},
                "hours": hours,
                "kind": kind,
                "completed_on": (
                    today - timedelta(days=1 + (e.n * 31 + k * 97) % e.registration_age)
                ).isoformat(),
            }
        )
    return items


# -- loading ---------------------------------------------------------------------------


def _loaded_in_database(engine: Engine) -> tuple[int, int]:
    """(records of any kind, the bench's qualifications) in the database."""
    with session_scope(engine) as session:
        records = session.exec(select(func.count()).select_from(Record)).one()
        ours = session.exec(
            select(func.count())
            .select_from(Record)
            .where(
                col(Record.type) == "SafetyEngineerQualification",
                col(Record.number).like(_BENCH_QUALIFICATION),
            )
        ).one()
    return int(records), int(ours)


def _issue(engine: Engine, context: IssuingContext, items: list[dict[str, Any]]) -> list[str]:
    """Issue one authority's items in one transaction; the credential ids, in order."""
    validated = [_RECORD.validate_python(item) for item in items]
    with session_scope(engine) as session:
        issued = issue_records(session, context, validated, now=datetime.now(UTC))
    return [r.credential.id for r in issued.records]


def _by_authority(items: list[dict[str, Any]], batch: int) -> Iterator[list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        grouped.setdefault(item["authority"], []).append(item)
    for _, group in sorted(grouped.items()):
        for start in range(0, len(group), batch):
            yield group[start : start + batch]


def load(
    engine: Engine, context: IssuingContext, first: int, count: int, *, batch: int
) -> Iterator[int]:
    """Issue engineers ``first`` to ``first + count - 1``, a chunk of ``4 * batch``
    at a time (one batch of qualifications per authority), each chunk's
    qualifications, then its registrations, then its credits; yields the number
    loaded after each chunk."""
    chunk = 4 * batch
    for start in range(first, first + count, chunk):
        today = china_today()
        people = [engineer(n) for n in range(start, min(start + chunk, first + count))]
        qualifications: dict[int, str] = {}
        for items in _by_authority([_qualification(e, today) for e in people], batch):
            ids = _issue(engine, context, items)
            for item, credential_id in zip(items, ids, strict=True):
                qualifications[int(item["certificate_number"][-7:])] = credential_id
        registrations = [_registration(e, qualifications[e.n], today) for e in people]
        for items in _by_authority(registrations, batch):
            _issue(engine, context, items)
        credits = [item for e in people for item in _credits(e, today)]
        for items in _by_authority(credits, batch):
            _issue(engine, context, items)
        yield start + len(people)


def prepare(
    url: str, data_dir: Path, engineers: int, *, batch: int
) -> tuple[Settings, str, tuple[int, float] | None]:
    """Migrate, seed the demo, load what is missing, make a verifier token.

    Returns the settings, the token, and how many engineers were loaded in how many
    seconds (``None``: none)."""
    settings = Settings(data_dir=data_dir, database_url=url)
    cache = data_dir / _CACHE_FILE
    with engine_scope(url) as engine:
        upgrade(engine)
        records, ours = _loaded_in_database(engine)
        marked = json.loads(cache.read_text())["engineers"] if cache.exists() else 0
        if records and marked != ours:
            raise SystemExit(
                f"the database holds {records} records and {ours} bench engineers, but "
                f"{data_dir} says {marked} were loaded (an interrupted load, or keys of "
                "another database): use an empty database"
            )
        context = IssuingContext.for_node(settings)
        with session_scope(engine) as session:
            seed_demo(session, context.key_store, profile=NodeProfile.from_settings(settings))
            seed_demo_records(session, context)
            _, token = create_token(session, "verifier", name=f"bench-verify-{time.time_ns()}")
        if ours >= engineers:
            print(f"{ours} engineers already loaded ({data_dir}): not loading", flush=True)
            return settings, token, None
        missing = engineers - ours
        print(
            f"loading {missing} engineers ({10 * missing} credentials) in batches of "
            f"{batch} per authority ...",
            flush=True,
        )
        began = time.perf_counter()
        for loaded in load(engine, context, ours, missing, batch=batch):
            cache.write_text(json.dumps({"engineers": loaded, "database": url}) + "\n")
            elapsed = time.perf_counter() - began
            done = loaded - ours
            print(
                f"  {loaded:>8} engineers {10 * done:>9} credentials  {elapsed:7.1f} s  "
                f"{10 * done / elapsed:6.0f} credentials/s",
                flush=True,
            )
        elapsed = time.perf_counter() - began
        with engine.connect() as connection:
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
        print(
            f"loaded {missing} engineers, {10 * missing} credentials in {elapsed:.0f} s: "
            f"{10 * missing / elapsed:.0f} credentials/s "
            f"(ANALYZE after: {time.perf_counter() - began - elapsed:.0f} s)",
            flush=True,
        )
        return settings, token, (missing, elapsed)


# -- the server ------------------------------------------------------------------------


def _serve_has_workers() -> bool:
    shown = subprocess.run(
        [str(REGISTRY), "serve", "--help"], capture_output=True, text=True, check=False
    )
    return "--workers" in shown.stdout


def _serve(settings: Settings, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_DATABASE_URL": settings.database_url,
        "REGISTRY_NODE_URL": f"http://127.0.0.1:{port}",
    }
    command = [str(REGISTRY), "serve", "--port", str(port)]
    if workers > 1:
        if _serve_has_workers():
            command += ["--workers", str(workers)]
        else:  # an older `registry serve` runs one process: uvicorn runs several
            uvicorn = str(Path(sys.executable).parent / "uvicorn")
            command = [uvicorn, "api.app:app_from_environment", "--factory"]
            command += ["--workers", str(workers), "--host", "127.0.0.1", "--port", str(port)]
    print(f"server: {Path(command[0]).name} {' '.join(command[1:])}", flush=True)
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out, cwd=ROOT)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")


@contextmanager
def serving(settings: Settings, workers: int, log: Path) -> Iterator[tuple[str, int]]:
    """The server's base URL and process id while it runs."""
    port = free_port()
    server = _serve(settings, port, workers, log)
    try:
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=60)


# -- measuring -------------------------------------------------------------------------


def _busy() -> int:
    """CPU ticks the whole machine has spent busy so far (Linux; else 0)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    except (OSError, ValueError):
        return 0
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def _processes() -> dict[int, tuple[str, int, int]]:
    """Every process's name, parent and CPU ticks so far (Linux; else nothing),
    and the machine's busy ticks under pid 0."""
    found = {0: ("machine", 0, _busy())}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        found[int(stat.parent.name)] = (name, int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def _postmaster(url: str) -> int | None:
    """The process id of the local PostgreSQL server ``url`` names, if found."""
    port = make_url(url).port or 5432
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if words and words[0].endswith(b"postgres") and b"-p" in words:
            at = words.index(b"-p")
            if at + 1 < len(words) and words[at + 1] == str(port).encode():
                return int(cmdline.parent.name)
    return None


def _tree(processes: dict[int, tuple[str, int, int]], root: int | None) -> set[int]:
    """``root`` and its descendants."""
    if root is None:
        return set()
    tree = {root}
    grew = True
    while grew:
        children = {pid for pid, (_, parent, _) in processes.items() if parent in tree}
        grew = not children <= tree
        tree |= children
    return tree


def _cpu_split(
    before: dict[int, tuple[str, int, int]],
    after: dict[int, tuple[str, int, int]],
    server: int,
    postmaster: int | None,
) -> tuple[dict[str, float], list[float]]:
    """CPU seconds each part used between two snapshots: the server (its process
    tree), the PostgreSQL benchmarked, this client, and everything else on the
    machine (processes that came and went too); and each server process's."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    tree = _tree(after, server)
    database = _tree(after, postmaster)
    split = dict.fromkeys(("server", "postgres", "client", "other"), 0.0)
    processes: list[float] = []
    for pid, (name, _, ticks) in sorted(after.items()):
        used = (ticks - before[pid][2] if pid in before else ticks) / tick
        if pid == 0:
            continue
        if pid in tree:
            split["server"] += used
            processes.append(used)
        elif pid in database or (postmaster is None and name == "postgres"):
            split["postgres"] += used
        elif pid == os.getpid():
            split["client"] += used
    busy = (after[0][2] - before[0][2]) / tick
    split["other"] = max(0.0, busy - split["server"] - split["postgres"] - split["client"])
    return split, processes


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.99) - 1)]


@dataclass
class Load:
    """What a run of single verifications gave."""

    requests: int
    seconds: float
    latencies: list[float]
    statuses: Counter[str]
    verdicts: Counter[str]
    sizes: list[int]
    client_cpu: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _question(rng: random.Random, engineers: int) -> dict[str, str]:
    return {
        "id_number": engineer(rng.randrange(engineers)).id_number,
        "region": rng.choice(AUTHORITIES),
    }


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length: *(\d+)", re.IGNORECASE)


async def _connection_loop(
    host: str,
    port: int,
    *,
    head: bytes,
    questions: Iterator[dict[str, str]],
    deadline: float,
    result: Load,
) -> None:
    """One kept-alive connection asking one question after another until ``deadline``.

    Plain HTTP/1.1 over asyncio streams: the server answers every request with a
    Content-Length, and a client that costs a tenth of httpx leaves the two cores
    to the server and the database.
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            body = json.dumps(next(questions)).encode()
            began = time.perf_counter()
            writer.write(head + str(len(body)).encode() + b"\r\n\r\n" + body)
            try:
                answer = await reader.readuntil(b"\r\n\r\n")
                length = _CONTENT_LENGTH.search(answer)
                content = await reader.readexactly(int(length.group(1)) if length else 0)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
                # Counted, not retried: the client saw no answer.
                failed = type(exc).__name__
                result.statuses[failed] += 1
                if result.statuses[failed] <= 3:
                    print(f"  {failed} after {time.perf_counter() - began:.2f} s: {exc!r}")
                return
            result.latencies.append((time.perf_counter() - began) * 1000)
            status = answer[9:12].decode()
            result.statuses[status] += 1
            result.sizes.append(len(content))
            found = _VERDICT.search(content)
            result.verdicts[found.group(1).decode() if found else "none"] += 1
            if status != "200" and result.statuses[status] <= 3:
                print(f"  {status}: {content[:300]!r}", flush=True)
    finally:
        writer.close()


async def _single_load(
    base: str, token: str, engineers: int, *, concurrency: int, seconds: float, seed: int
) -> Load:
    rng = random.Random(seed)  # noqa: S311 - picks whom to ask about, not secrets
    url = httpx.URL(base)
    host, port = url.host, url.port or 80
    head = (
        f"POST /v1/verify/engineer HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        "Content-Length: "
    ).encode()
    questions = (_question(rng, engineers) for _ in iter(int, 1))
    result = Load(0, 0.0, [], Counter(), Counter(), [], 0.0)
    cpu = time.process_time()
    began = time.perf_counter()
    await asyncio.gather(
        *(
            _connection_loop(
                host,
                port,
                head=head,
                questions=questions,
                deadline=began + seconds,
                result=result,
            )
            for _ in range(concurrency)
        )
    )
    result.seconds = time.perf_counter() - began
    result.client_cpu = time.process_time() - cpu
    result.requests = len(result.latencies)
    return result


def _sequential(client: httpx.Client, engineers: int, count: int) -> tuple[float, float]:
    rng = random.Random(3)  # noqa: S311
    timings = []
    for _ in range(count):
        began = time.perf_counter()
        client.post("/v1/verify/engineer", json=_question(rng, engineers)).raise_for_status()
        timings.append((time.perf_counter() - began) * 1000)
    return _percentiles(timings)


def _batch_rows(engineers: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)  # noqa: S311
    people = rng.sample(range(engineers), min(BATCH_ROWS, engineers))
    people += [rng.randrange(engineers) for _ in range(BATCH_ROWS - len(people))]
    return [{"id_number": engineer(n).id_number, "region": rng.choice(AUTHORITIES)} for n in people]


def _json_batch(client: httpx.Client, rows: list[dict[str, str]]) -> tuple[float, Counter[str]]:
    began = time.perf_counter()
    response = client.post("/v1/verify/batch", json={"rows": rows})
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    results = response.json()["results"]
    if len(results) != len(rows):
        raise RuntimeError(f"the batch answered {len(results)} results for {len(rows)} rows")
    return elapsed, Counter(r.get("verdict") or "error" for r in results)


def _csv_batch(client: httpx.Client, rows: list[dict[str, str]]) -> tuple[float, Counter[str]]:
    body = "id_number,region\n" + "".join(f"{r['id_number']},{r['region']}\n" for r in rows)
    headers = {"content-type": "text/csv", "accept": "text/csv"}
    began = time.perf_counter()
    response = client.post("/v1/verify/batch", content=body.encode(), headers=headers)
    elapsed = time.perf_counter() - began
    response.raise_for_status()
    answered = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    if len(answered) != len(rows):
        raise RuntimeError(f"the CSV batch answered {len(answered)} rows for {len(rows)}")
    return elapsed, Counter(r["verdict"] or "error" for r in answered)


def _mark(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def _load_rows(
    base: str,
    server: int,
    database: str,
    token: str,
    engineers: int,
    *,
    workers: int,
    concurrency: int,
    seconds: float,
) -> list[tuple[str, str, str]]:
    """``concurrency`` requests in flight for ``seconds``: what it printed, as rows."""
    rows: list[tuple[str, str, str]] = []
    before = _processes()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        loaded = runner.run(
            _single_load(
                base, token, engineers, concurrency=concurrency, seconds=seconds, seed=workers
            )
        )
    split, processes = _cpu_split(before, _processes(), server, _postmaster(database))
    p50, p99 = _percentiles(loaded.latencies)
    bad = sum(n for status, n in loaded.statuses.items() if status != "200")
    print(
        f"single verification, {concurrency} in flight for {loaded.seconds:.0f} s: "
        f"{loaded.rate:6.0f} verifications/s   target >= {TARGET_PER_SECOND:.0f}   "
        f"{_mark(loaded.rate >= TARGET_PER_SECOND)}",
        flush=True,
    )
    print(
        f"  latency p50 {p50:6.1f} ms  p99 {p99:6.1f} ms   target p99 <= {TARGET_P99_MS:.0f} ms"
        f"   {_mark(p99 <= TARGET_P99_MS)}",
        flush=True,
    )
    print(
        f"  {loaded.requests} requests, statuses {dict(sorted(loaded.statuses.items()))}, "
        f"verdicts {dict(sorted(loaded.verdicts.items()))}",
        flush=True,
    )
    print(
        f"  report size: median {statistics.median(loaded.sizes) / 1024:.1f} KiB, "
        f"max {max(loaded.sizes) / 1024:.1f} KiB; client CPU {loaded.client_cpu:.1f} s "
        f"({loaded.client_cpu / loaded.seconds:.0%} of one core)",
        flush=True,
    )
    cores = os.cpu_count() or 1
    print(
        "  CPU of the machine during the load: "
        + ", ".join(f"{part} {used / loaded.seconds / cores:.0%}" for part, used in split.items())
        + f" (of {cores} cores); server processes "
        + " ".join(f"{used / loaded.seconds:.0%}" for used in processes if used > 0.05)
        + " of one core each; server CPU per verification "
        f"{split['server'] / loaded.requests * 1000:.1f} ms, PostgreSQL "
        f"{split['postgres'] / loaded.requests * 1000:.1f} ms",
        flush=True,
    )
    if bad:
        print(f"  ERRORS: {bad} requests were not answered 200", flush=True)
    label = f"{workers} worker(s), {concurrency} in flight"
    rows.append(
        (
            f"verify one engineer, {label}",
            f"{loaded.rate:.0f} /s ({bad} errors)",
            f">= {TARGET_PER_SECOND:.0f} /s",
        )
    )
    rows.append(
        (
            f"verify one engineer, {label}, p50 / p99",
            f"{p50:.1f} / {p99:.1f} ms",
            f"p99 <= {TARGET_P99_MS:.0f} ms",
        )
    )
    rows.append(
        (
            f"CPU during that load ({workers} worker(s)): server / PostgreSQL / client / other",
            " / ".join(f"{used / loaded.seconds / cores:.0%}" for used in split.values()),
            "",
        )
    )
    rows.append(
        ("signed report size (median)", f"{statistics.median(loaded.sizes) / 1024:.1f} KiB", "")
    )

    return rows


def measure(
    base: str,
    server: int,
    database: str,
    token: str,
    engineers: int,
    *,
    workers: int,
    concurrency: list[int],
    seconds: float,
) -> list[tuple[str, str, str]]:
    """Every measurement against one running server; the summary table's rows."""
    rows: list[tuple[str, str, str]] = []
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        # Warm up every worker: keys, the signer, caches, connections.
        rng = random.Random(1)  # noqa: S311
        for _ in range(50 * workers):
            client.post("/v1/verify/engineer", json=_question(rng, engineers)).raise_for_status()
        p50, p99 = _sequential(client, engineers, 500)
        print(
            f"single verification, one at a time (500 requests): p50 {p50:6.1f} ms  "
            f"p99 {p99:6.1f} ms",
            flush=True,
        )
        rows.append(
            (
                f"verify one engineer, sequential, p50 / p99 ({workers} worker(s))",
                f"{p50:.1f} / {p99:.1f} ms",
                "",
            )
        )

    for in_flight in concurrency:
        rows += _load_rows(
            base,
            server,
            database,
            token,
            engineers,
            workers=workers,
            concurrency=in_flight,
            seconds=seconds,
        )

    with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
        times = []
        distinct = min(BATCH_ROWS, engineers)
        for attempt in range(3):
            elapsed, verdicts = _json_batch(client, _batch_rows(engineers, 100 + attempt))
            times.append(elapsed)
            print(
                f"batch verification, {BATCH_ROWS} rows ({distinct} people) as JSON "
                f"(run {attempt + 1}): "
                f"{elapsed:6.2f} s   target <= {TARGET_BATCH_S:.0f} s   "
                f"{_mark(elapsed <= TARGET_BATCH_S)}   {dict(sorted(verdicts.items()))}",
                flush=True,
            )
        elapsed, verdicts = _csv_batch(client, _batch_rows(engineers, 100))
        print(
            f"batch verification, {BATCH_ROWS} rows ({distinct} people) as CSV in and out: "
            f"{elapsed:6.2f} s   "
            f"target <= {TARGET_BATCH_S:.0f} s   {_mark(elapsed <= TARGET_BATCH_S)}   "
            f"{dict(sorted(verdicts.items()))}",
            flush=True,
        )
    rows.append(
        (
            f"verify batch, {BATCH_ROWS} rows, JSON (slowest of 3)",
            f"{max(times):.2f} s",
            f"<= {TARGET_BATCH_S:.0f} s",
        )
    )
    rows.append(
        (f"verify batch, {BATCH_ROWS} rows, CSV", f"{elapsed:.2f} s", f"<= {TARGET_BATCH_S:.0f} s")
    )
    return rows


# -- the run ---------------------------------------------------------------------------


def _data_dir(url: str, given: Path | None, kept: bool) -> tuple[Path, bool]:
    """Where the node keeps its keys and secrets, and whether to remove it after."""
    if given is not None:
        given.mkdir(parents=True, exist_ok=True)
        return given, False
    if not kept:
        return Path(tempfile.mkdtemp(prefix="registry-bench-verify-")), True
    digest = hashlib.sha256(url.encode()).hexdigest()[:12]
    path = Path.home() / ".cache" / "registry-bench" / f"verify-{digest}"
    with engine_scope(url) as engine:
        upgrade(engine)
        records, _ = _loaded_in_database(engine)
    if not records and path.exists():  # a new database at the same URL: new keys
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path, False


def run(
    url: str,
    *,
    engineers: int,
    batch: int,
    workers: list[int],
    concurrency: list[int],
    seconds: float,
    data_dir: Path | None,
) -> None:
    kept = bool(os.environ.get("REGISTRY_BENCH_DATABASE_URL"))
    directory, remove = _data_dir(url, data_dir, kept)
    try:
        settings, token, loaded = prepare(url, directory, engineers, batch=batch)
        rows: list[tuple[str, str, str]] = []
        if loaded is not None:
            people, took = loaded
            rows.append(
                (
                    f"load {people} engineers, {10 * people} credentials, in process",
                    f"{took:.0f} s ({10 * people / took:.0f} credentials/s)",
                    "",
                )
            )
        log = directory / "server.log"
        for count in workers:
            with serving(settings, count, log) as (base, pid):
                try:
                    rows += measure(
                        base,
                        pid,
                        url,
                        token,
                        engineers,
                        workers=count,
                        concurrency=concurrency,
                        seconds=seconds,
                    )
                except httpx.HTTPStatusError as exc:
                    time.sleep(2)  # the server logs the traceback after it answers
                    text_ = log.read_text(errors="replace")
                    print(
                        text_[text_.rfind("Traceback") :][-3000:]
                        if "Traceback" in text_
                        else exc.response.text
                    )
                    raise
        errors = log.read_text(errors="replace").count("Traceback")
        print(f"server log: {errors} tracebacks", flush=True)
        print()
        print(
            f"Verification on PostgreSQL, {engineers} engineers, {10 * engineers} "
            f"credentials ({machine()}):"
        )
        print()
        print("| measure | result | target |")
        print("|---|---|---|")
        for measure_, result, target in rows:
            print(f"| {measure_} | {result} | {target} |")
    finally:
        if remove:
            shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engineers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per issuing batch")
    parser.add_argument(
        "--workers", default="2", help="server processes; a list (1,2) measures each"
    )
    parser.add_argument(
        "--concurrency",
        default="16,32",
        help="requests in flight; a list (16,32) measures each",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the load")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keys and secrets of the loaded node"
    )
    args = parser.parse_args()
    if not 0 < args.engineers <= 9_000_000:
        parser.error("--engineers is between 1 and 9,000,000")
    print(machine())
    with bench_database() as url:
        run(
            url,
            engineers=args.engineers,
            batch=args.batch,
            workers=[int(w) for w in args.workers.split(",")],
            concurrency=[int(c) for c in args.concurrency.split(",")],
            seconds=args.seconds,
            data_dir=args.data_dir,
        )


if __name__ == "__main__":
    main()
