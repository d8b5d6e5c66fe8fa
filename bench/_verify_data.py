"""The data of ``bench/verify.py``: synthetic engineers' records, loaded in process.

Engineer ``n`` (``registry.demo.synthetic.engineer``) has a qualification, a
registration and 8 continuing-education credits, 10 credentials; one in five is
registered in another province than the one that qualified them, and one in three
took a course in a third. What is loaded is marked in the node's data directory, so
a kept database is topped up, never loaded twice.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import Engine, func, text
from sqlmodel import col, select

from bench._harness.server import seed_node
from registry.calendar import china_today
from registry.credentials.records import RecordIn
from registry.demo.synthetic import AUTHORITIES, SyntheticEngineer, credit_code, engineer
from registry.issuing import IssuingContext, issue_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.storage.models import Record

__all__ = ["data_directory", "load", "prepare"]

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


# -- the synthetic engineers' records -------------------------------------------------


def _holder(e: SyntheticEngineer) -> dict[str, str]:
    return {"name": e.name, "id_number": e.id_number}


def _qualification(e: SyntheticEngineer, today: date) -> dict[str, Any]:
    return {
        "type": "SafetyEngineerQualification",
        "authority": e.qualified_by,
        "holder": _holder(e),
        "certificate_number": f"{e.qualified_by[3:]}-BV-{e.n:07d}",
        "category": e.category,
        "issued_on": (today - timedelta(days=e.registration_age + 30 + e.n % 400)).isoformat(),
    }


def _registration(e: SyntheticEngineer, qualification_id: str, today: date) -> dict[str, Any]:
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


def _credits(e: SyntheticEngineer, today: date) -> list[dict[str, Any]]:
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
    settings = Settings(data_dir=data_dir, database_url=url, demo=True)
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
        context, token = seed_node(engine, settings, role="verifier")
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


# -- where the node keeps its keys ----------------------------------------------------


def data_directory(url: str, given: Path | None, *, kept: bool) -> tuple[Path, bool]:
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
