"""The restore drill, with real nodes (`registry serve`, a PostgreSQL database each):
Shanghai's node issues, its peers mirror and witness its log; `registry backup` of it
while it runs; it issues more, mirrored and witnessed; it is lost (stopped, its data
directory and database gone); `registry restore` into a new data directory and
database; started again, it learns from its peers that its log is larger than what it
restored and refuses to sign a smaller tree: issuance answers 503, its log stays at the
restored checkpoint, every peer still holds the larger one, and no follower or witness
saw a fork. The way back is the newest backup (the log's entries past an older one are
in the peers' mirrors, but not the node's own issuing state for them, so the node does
not take them back itself: docs/operations.md, "Restore"): restored from it, the node is
confirmed by its peers, signs again, and its witnesses cosign the extension."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from devtools.ports import free_ports
from registry.calendar import china_today
from registry.demo.network import (
    DemoNode,
    build_federation,
    checkpoint_of,
    plan_nodes,
    start_nodes,
    stop_nodes,
)
from registry.demo.synthetic import credit_code, resident_id
from registry.federation.cosigning import witnessed
from registry.storage.models import ForkEvidenceRow, LogSigningHold, PeerLog, WitnessState
from registry.trust.document import parse_trust_list
from tests._federation import note_size, postgresql_databases
from tests._support import run_command

WAIT = 60.0
PASSPHRASE = "quarterly drill passphrase"


def _until(what: str, check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"not within {WAIT:.0f} s: {what}")
        time.sleep(0.2)


@pytest.fixture
def nodes(
    pg_url: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[list[DemoNode], list[str]]]:
    """Three nodes (Shanghai's, Jiangsu's and Zhejiang's), each with its own PostgreSQL
    database, built and started as `registry demo federation` builds them (without the
    demo's records); and two more databases, empty, to restore into."""
    with postgresql_databases(pg_url, request, 5) as urls:
        planned = plan_nodes(
            free_ports(4),
            tmp_path / "federation",
            database_urls=dict(zip(("CN-SH", "CN-JS", "CN-ZJ"), urls, strict=False)),
            follow_interval=0.5,
        )[:3]
        (tmp_path / "federation").mkdir()
        build_federation(planned, tmp_path / "federation", say=lambda _message: None)
        try:
            for node in planned:  # one at a time: each has its own minute to answer
                start_nodes([node], tmp_path / "federation")
            yield planned, urls[3:]
        finally:
            stop_nodes(planned)


def _issue(node: DemoNode, course: str) -> httpx.Response:
    today = china_today()
    return httpx.post(
        f"{node.url}/v1/credentials",
        json={
            "type": "ContinuingEducationCredit",
            "authority": node.code,
            "holder": {"name": "周明远", "id_number": resident_id("310101", "19880516", "301")},
            "course_title": course,
            "provider": {
                "name": "上海市安全生产科学研究所",
                "credit_code": credit_code("12310000MB0P10008"),
            },
            "hours": 8,
            "kind": "professional",
            "completed_on": (today - timedelta(days=1)).isoformat(),
        },
        headers={"Authorization": f"Bearer {node.tokens[f'issuer:{node.code}']}"},
        timeout=30,
    )


def _mirrored(origin: DemoNode, peers: list[DemoNode], size: int) -> bool:
    """Every peer serves ``origin``'s checkpoint of ``size``, with as many witnesses'
    cosignatures as the policy needs."""
    trust = parse_trust_list(httpx.get(f"{origin.url}/v1/trust-list", timeout=5).json())
    for peer in peers:
        answer = httpx.get(f"{peer.url}/v1/logs/{origin.code}/checkpoint", timeout=5)
        if answer.status_code != 200 or note_size(answer.text) != size:
            return False
        cosigners, needed = witnessed(trust, origin.code, answer.text)
        if len(cosigners) < needed:
            return False
    return True


def _env(node: DemoNode) -> dict[str, str]:
    return {
        "REGISTRY_DATA_DIR": str(node.settings.data_dir),
        "REGISTRY_DATABASE_URL": node.settings.database_url,
        "REGISTRY_BACKUP_PASSPHRASE": PASSPHRASE,
        "COLUMNS": "250",
    }


def test_a_restored_node_learns_its_log_from_its_peers_and_does_not_fork_it(
    nodes: tuple[list[DemoNode], list[str]], tmp_path: Path
) -> None:
    (shanghai, *peers), (empty_database, spare_database) = nodes
    for course in ("安全生产法律法规", "危险化学品管理"):
        assert _issue(shanghai, course).status_code == 201
    backed_up = note_size(httpx.get(f"{shanghai.url}/v1/logs/CN-SH/checkpoint").text)
    _until("the peers mirror and witness the log", lambda: _mirrored(shanghai, peers, backed_up))

    # The backup, taken while the node runs; then more is issued, mirrored and witnessed.
    backup = tmp_path / "shanghai.yrdbak"
    done = run_command(["backup", "--output", str(backup)], _env(shanghai))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"at size {backed_up}" in done.stdout
    for course in ("应急预案编制", "特种作业安全"):
        assert _issue(shanghai, course).status_code == 201
    published = note_size(httpx.get(f"{shanghai.url}/v1/logs/CN-SH/checkpoint").text)
    assert published > backed_up
    _until("the peers mirror and witness more", lambda: _mirrored(shanghai, peers, published))
    newest = tmp_path / "shanghai-newest.yrdbak"
    done = run_command(["backup", "--output", str(newest)], _env(shanghai))
    assert done.returncode == 0, done.stdout + done.stderr

    # The node is lost: stopped, its data directory and database gone.
    stop_nodes([shanghai])
    shutil.rmtree(shanghai.settings.data_dir)
    shanghai.settings = shanghai.settings.model_copy(update={"database_url": empty_database})
    done = run_command(["restore", str(backup)], _env(shanghai))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sign nothing until this node's peers confirm" in done.stdout

    # Started again, it asks its peers first: they hold more of its log than it does.
    start_nodes([shanghai], tmp_path / "federation")
    with shanghai.session() as session:
        hold = session.get(LogSigningHold, "CN-SH")
        assert hold is not None
        assert (hold.reason, hold.peer_size) == ("behind", published)
    refused = _issue(shanghai, "有限空间作业安全")
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert "larger than this node's" in refused.json()["detail"]
    standing = run_command(["log", "standing"], _env(shanghai))
    assert standing.returncode == 1
    assert "held (behind)" in standing.stderr
    assert f"holds size {published}; this node signed {backed_up}" in standing.stderr
    # Its own log stays at the restored checkpoint; every peer still holds the larger
    # one, witnessed; no follower or witness saw a fork.
    assert checkpoint_of(shanghai.url, "CN-SH") is not None
    assert note_size(httpx.get(f"{shanghai.url}/v1/logs/CN-SH/checkpoint").text) == backed_up
    time.sleep(2 * shanghai.settings.follow_interval_seconds)  # the peers poll it meanwhile
    assert _mirrored(shanghai, peers, published)
    origin = f"{shanghai.settings.log_origin_prefix}/CN-SH"
    for peer in peers:
        with peer.session() as session:
            state = session.get(WitnessState, origin)
            assert state is not None
            assert (state.tree_size, state.conflict) == (published, None)
            followed = session.get(PeerLog, "CN-SH")
            assert followed is not None
            assert followed.state != "forked"
            assert followed.tree_size == published
            assert session.exec(select(ForkEvidenceRow)).first() is None
    with shanghai.session() as session:
        assert session.get(LogSigningHold, "CN-SH") is not None

    # The way back: the newest backup holds every entry the peers hold. Restored, the
    # node is confirmed by its peers and signs again, and its next checkpoint extends
    # the one its witnesses cosigned.
    stop_nodes([shanghai])
    shutil.rmtree(shanghai.settings.data_dir)
    shanghai.settings = shanghai.settings.model_copy(update={"database_url": spare_database})
    done = run_command(["restore", str(newest)], _env(shanghai))
    assert done.returncode == 0, done.stdout + done.stderr
    start_nodes([shanghai], tmp_path / "federation")

    def lifted() -> bool:
        with shanghai.session() as session:
            return session.get(LogSigningHold, "CN-SH") is None

    _until("the peers confirm the restored log", lifted)
    assert _issue(shanghai, "有限空间作业安全").status_code == 201
    extended = note_size(httpx.get(f"{shanghai.url}/v1/logs/CN-SH/checkpoint").text)
    assert extended > published
    _until(
        "the peers mirror and witness the extension", lambda: _mirrored(shanghai, peers, extended)
    )
    for peer in peers:
        with peer.session() as session:
            state = session.get(WitnessState, origin)
            assert state is not None
            assert (state.tree_size, state.conflict) == (extended, None)
            followed = session.get(PeerLog, "CN-SH")
            assert followed is not None
            assert followed.state != "forked"
            assert session.exec(select(ForkEvidenceRow)).first() is None
