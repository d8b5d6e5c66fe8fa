"""``registry demo federation``: four real nodes on one machine, one per authority, each
with its own data directory, database and keys, built the way four provinces would
build theirs.

1. Each node creates its own authority, issuing, log and node keys.
2. Shanghai's node drafts the genesis trust list from every node's member entry
   (``registry authority export``); the proposal file goes to each node in turn,
   which adds its own proof (``registry trust sign --file``); Shanghai's node adds
   the proofs and publishes; every other node imports the genesis, pinning its digest.
3. The federation's look-up secrets go from Shanghai's node to the others, and each
   node grants every other a ``federation`` token (``registry federation peer-token``).
4. The servers start; the demo agreements are proposed, signed on each party's node
   (``registry recognition sign --file``) and published by the proposer's.
5. Each authority's demo records are issued on its own node, a stage at a time, and
   each stage waits until every node has mirrored every other's log.

No data directory ever holds another authority's private key: the only thing that
moves between nodes is what the real federation moves (member entries, proposal
files, the published trust list, tokens a node grants).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session

from registry.authorities import create_authority, create_node_key
from registry.calendar import china_today
from registry.datadir import DataDir
from registry.demo.agreements import DEMO_AGREEMENTS
from registry.demo.federation import DEMO_AUTHORITIES
from registry.demo.records import apply_demo_changes, demo_record_stages, issue_demo_stage
from registry.errors import RegistryError
from registry.federation.peers import register_peer
from registry.issuing import IssuingContext
from registry.recognition import agreements as workflow
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope, upgrade
from registry.tokens import create_token
from registry.trust.proposals import (
    Changes,
    merge_proofs,
    proposal_document,
    propose,
    publish,
    sign_document,
)
from registry.trust.store import NodeProfile, accept_version, current_version, member_from_node

__all__ = ["FEDERATION_FILE", "NODE_ROLES", "DemoNode", "build_federation", "run_federation"]

FEDERATION_FILE = "federation.json"
"""What ``registry demo federation`` writes into its directory: each node's URL and tokens."""

NODE_ROLES = ("verifier", "enforcement", "federation", "admin")
"""The roles each node makes a demo token for, beside its own authority's issuer."""

_READY_SECONDS = 180.0  # a loaded machine starts a node (imports, keys, peers asked) slowly
_MIRROR_SECONDS = 180.0


@dataclass
class DemoNode:
    """One authority's node of the demo federation."""

    code: str
    name_zh: str
    name_en: str
    port: int
    settings: Settings
    tokens: dict[str, str] = field(default_factory=dict)
    environment: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The node's base URL, as the trust list names it."""
        return self.settings.node_url

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the node's own database (committed when the block ends)."""
        with (
            engine_scope(self.settings.database_url) as engine,
            session_scope(engine) as session,
        ):
            yield session


def plan_nodes(
    base_port: int,
    data_dir: Path,
    *,
    host: str = "127.0.0.1",
    database_urls: Mapping[str, str] | None = None,
    follow_interval: float = 2.0,
) -> list[DemoNode]:
    """The four nodes' settings: ports ``base_port``.. in the order Shanghai, Jiangsu,
    Zhejiang, Anhui; a data directory each under ``data_dir``; an SQLite database in
    it unless ``database_urls`` gives one by authority."""
    nodes: list[DemoNode] = []
    for offset, (code, name_zh, name_en) in enumerate(DEMO_AUTHORITIES):
        port = base_port + offset
        own = data_dir / code.lower()
        settings = Settings(
            data_dir=own,
            database_url=(database_urls or {}).get(code, ""),
            node_url=f"http://{host}:{port}",
            demo=True,
            follow_interval_seconds=follow_interval,
        )
        nodes.append(DemoNode(code, name_zh, name_en, port, settings))
    return nodes


def build_federation(nodes: list[DemoNode], work: Path, *, say: Callable[[str], None]) -> str:
    """Steps 1 to 3 (see the module): keys, genesis, look-up secrets and tokens, each
    node in its own data directory. Returns the genesis digest."""
    founder = nodes[0]
    for node in nodes:
        DataDir(node.settings).ensure()
        with engine_scope(node.settings.database_url) as engine:
            upgrade(engine)
        store = DataDir(node.settings).key_store()
        with node.session() as session:
            create_authority(
                session, store, code=node.code, name_zh=node.name_zh, name_en=node.name_en
            )
            create_node_key(session, store, node.code)
        say(f"{node.code}: created its authority and keys in {node.settings.data_dir}")
    # The member entries, as `registry authority export` writes them on each node.
    entries = []
    for node in nodes[1:]:
        with node.session() as session:
            entry = member_from_node(session, node.code, NodeProfile.from_settings(node.settings))
        entries.append(entry.to_json())
    proposal = work / "genesis-proposal.json"
    with founder.session() as session:
        row = propose(
            session,
            Changes(founders=(founder.code,), add_member_entries=tuple(entries)),
            profile=NodeProfile.from_settings(founder.settings),
        )
        document = proposal_document(row)
    _write(proposal, document)
    for node in nodes:  # the file goes round: each node signs it with its own key
        with node.session() as session:
            signed, _ = sign_document(
                session,
                DataDir(node.settings).key_store(),
                json.loads(proposal.read_text()),
                node.code,
            )
        _write(proposal, signed)
        say(f"{node.code}: signed the genesis proposal ({proposal})")
    with founder.session() as session:
        merge_proofs(session, json.loads(proposal.read_text()))
        genesis = publish(session)
    _write(work / "genesis.json", genesis.document)
    for node in nodes[1:]:
        with node.session() as session:
            accept_version(session, genesis.document, genesis_digest=genesis.digest)
    say(f"genesis trust list published and imported everywhere: {genesis.digest}")
    secrets_ = DataDir(founder.settings).lookup_secrets()
    for node in nodes[1:]:
        DataDir(node.settings).replace_lookup_secrets(secrets_)
    for node in nodes:
        with node.session() as session:
            trust = current_version(session)
            if trust is None:
                raise RegistryError(f"{node.code} has no trust list")
            for member in trust.content.members:
                if member.code != node.code:
                    register_peer(session, member, valid_from=trust.content.valid_from)
            roles = (f"issuer:{node.code}", *NODE_ROLES)
            node.tokens = {
                role: create_token(session, role, name=f"demo {role}")[1] for role in roles
            }
            for peer in nodes:
                if peer is not node:
                    granted = create_token(session, "federation", name=f"node of {peer.code}")[1]
                    DataDir(peer.settings).set_peer_token(node.code, granted)
    say("look-up secrets shared; each node granted every other a federation token")
    return genesis.digest


def start_nodes(nodes: list[DemoNode], logs: Path) -> None:
    """Start each node's server (``registry serve``) and wait until it answers."""
    registry = Path(sys.executable).with_name("registry")
    for node in nodes:
        env = {
            **os.environ,
            "REGISTRY_DATA_DIR": str(node.settings.data_dir),
            "REGISTRY_DATABASE_URL": node.settings.database_url,
            "REGISTRY_NODE_URL": node.url,
            "REGISTRY_DEMO": "true",
            "REGISTRY_FOLLOW_INTERVAL_SECONDS": str(node.settings.follow_interval_seconds),
            **node.environment,
        }
        env.pop("REGISTRY_PEER_TOKENS", None)
        host = httpx.URL(node.url).host
        with (logs / f"{node.code.lower()}.log").open("ab") as log:
            node.process = subprocess.Popen(
                [
                    str(registry),
                    "serve",
                    *("--host", host, "--port", str(node.port)),
                    *("--workers", str(node.workers)),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    deadline = time.monotonic() + _READY_SECONDS
    for node in nodes:
        while True:
            if node.process is not None and node.process.poll() is not None:
                raise RegistryError(
                    f"the node of {node.code} exited ({node.process.returncode}): "
                    f"see {logs / (node.code.lower() + '.log')}"
                )
            try:
                if httpx.get(f"{node.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RegistryError(f"the node of {node.code} did not answer at {node.url}")
            time.sleep(0.2)


def stop_nodes(nodes: list[DemoNode]) -> None:
    """Stop every node's server (SIGTERM, then SIGKILL after 30 s)."""
    for node in nodes:
        if node.process is not None and node.process.poll() is None:
            node.process.terminate()
    for node in nodes:
        if node.process is not None:
            try:
                node.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


def checkpoint_of(url: str, authority: str) -> str | None:
    """The checkpoint a node serves of ``authority``'s log (its own or a mirror): its
    body (origin, size, root), without the signatures, which differ as witnesses'
    cosignatures come in."""
    answer = httpx.get(f"{url}/v1/logs/{authority}/checkpoint", timeout=5)
    return answer.text.split("\n\n", 1)[0] if answer.status_code == 200 else None


def wait_mirrored(nodes: list[DemoNode], *, timeout: float = _MIRROR_SECONDS) -> float:
    """Wait until every node serves every other's newest checkpoint; returns the
    seconds it took. Raises ``RegistryError`` naming the laggards past ``timeout``."""
    started = time.monotonic()
    while True:
        lagging = []
        for origin in nodes:
            own = checkpoint_of(origin.url, origin.code)
            for node in nodes:
                mirrored = checkpoint_of(node.url, origin.code) if node is not origin else own
                if mirrored != own:
                    lagging.append(f"{node.code} of {origin.code}")
        if not lagging:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise RegistryError(f"not mirrored after {timeout:.0f} s: {', '.join(lagging)}")
        time.sleep(0.2)


def seed_federation(nodes: list[DemoNode], work: Path, *, say: Callable[[str], None]) -> None:
    """Steps 4 and 5 (see the module), with the servers running."""
    by_code = {node.code: node for node in nodes}
    for proposer, agreement in DEMO_AGREEMENTS:
        owner = by_code[proposer]
        with owner.session() as session:
            row = workflow.propose(session, agreement, proposer=proposer)
            document = workflow.proposal_document(row)
        for party in sorted(agreement.parties):
            with by_code[party].session() as session:
                store = DataDir(by_code[party].settings).key_store()
                document, _ = workflow.sign_document(session, store, document, party)
        _write(work / "agreement-proposal.json", document)
        with owner.session() as session:
            workflow.merge(session, agreement.id, document)
            workflow.publish(session, IssuingContext.for_node(owner.settings), agreement.id)
        say(f"{proposer}: published {agreement.basis_number}, signed on each party's node")
    wait_mirrored(nodes)
    now = datetime.now(UTC)
    today = china_today(now)
    issued: dict[str, str] = {}
    for number, stage in enumerate(demo_record_stages(today), start=1):
        for node in nodes:
            with node.session() as session:
                context = IssuingContext.for_node(node.settings)
                issued |= issue_demo_stage(session, context, stage, node.code, now=now)
        wait_mirrored(nodes)
        say(f"stage {number} of the demo records issued, each on its own node, and mirrored")
    for node in nodes:
        with node.session() as session:
            context = IssuingContext.for_node(node.settings)
            apply_demo_changes(session, context, issued, today, now=now, authority=node.code)
    wait_mirrored(nodes)
    say("status changes made and mirrored")


def describe(nodes: list[DemoNode], genesis: str) -> dict[str, Any]:
    """What ``federation.json`` holds: per node its authority, URL and tokens by role,
    and the genesis digest."""
    return {
        "genesis": genesis,
        "nodes": [
            {
                "authority": node.code,
                "url": node.url,
                "tokens": node.tokens,
                "genesis": genesis,
                "dataDir": str(node.settings.data_dir),
                "databaseUrl": node.settings.database_url,
            }
            for node in nodes
        ],
    }


def run_federation(
    base_port: int,
    data_dir: Path,
    *,
    say: Callable[[str], None],
    database_urls: Mapping[str, str] | None = None,
    follow_interval: float = 2.0,
    environment: Mapping[str, str] | None = None,
    workers: Mapping[str, int] | None = None,
) -> tuple[list[DemoNode], dict[str, Any]]:
    """Build the federation in ``data_dir`` (or reuse the one built there before),
    start its four nodes and wait until each has mirrored the others. Returns the
    running nodes (stop them with ``stop_nodes``) and what ``federation.json`` holds.
    ``environment``: more ``REGISTRY_*`` settings for every node's server;
    ``workers``: server processes by authority (default one each)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    written = data_dir / FEDERATION_FILE
    nodes = plan_nodes(
        base_port, data_dir, database_urls=database_urls, follow_interval=follow_interval
    )
    for node in nodes:
        node.environment = dict(environment or {})
        node.workers = (workers or {}).get(node.code, 1)
    if written.exists():
        known = json.loads(written.read_text(encoding="utf-8"))
        for node, saved in zip(nodes, known["nodes"], strict=True):
            if saved["url"] != node.url:
                raise RegistryError(
                    f"{data_dir} holds a federation on other ports ({saved['url']}): "
                    "give its base port, or another directory"
                )
            node.tokens = saved["tokens"]
        start_nodes(nodes, data_dir)
        wait_mirrored(nodes)
        return nodes, known
    genesis = build_federation(nodes, data_dir, say=say)
    try:
        start_nodes(nodes, data_dir)
        seed_federation(nodes, data_dir, say=say)
    except BaseException:
        stop_nodes(nodes)
        raise
    description = describe(nodes, genesis)
    _write(written, description, private=True)
    return nodes, description


def _write(path: Path, value: Any, *, private: bool = False) -> None:
    text = json.dumps(value, ensure_ascii=False, indent=2) + "\n"
    if private:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
