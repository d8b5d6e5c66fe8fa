"""`registry authority`, `registry key` and `registry trust`, run as a user runs them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import TypeAdapter
from sqlalchemy import text

from registry.cli._common import write_json
from registry.credentials.records import RecordIn
from registry.demo import resident_id
from registry.demo.synthetic import engineer
from registry.errors import InvalidInput
from registry.issuing import IssuingContext, issue_records
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from tests._support import run_command

RECORD: TypeAdapter[RecordIn] = TypeAdapter(RecordIn)

NAMES = {
    "CN-SH": ("上海市应急管理局", "Shanghai Municipal Emergency Management Bureau"),
    "CN-JS": ("江苏省应急管理厅", "Jiangsu Provincial Department of Emergency Management"),
    "CN-ZJ": ("浙江省应急管理厅", "Zhejiang Provincial Department of Emergency Management"),
}


class Node:
    """A node's data directory and database, driven through the installed command."""

    def __init__(self, tmp_path: Path) -> None:
        self.overrides = {
            "REGISTRY_DATA_DIR": str(tmp_path / "data"),
            "REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'node.sqlite3'}",
        }
        self.env = {**os.environ, **self.overrides}

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = run_command(args, self.overrides)
        assert (result.returncode == 0) == ok, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        return result


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A node's directory as `registry db upgrade` and `registry authority create`
    leave it, built once for the module."""
    built = tmp_path_factory.mktemp("cli-trust-node")
    node = Node(built)
    node.run("db", "upgrade")
    for code, (zh, en) in NAMES.items():
        created = node.run("authority", "create", code, "--name-zh", zh, "--name-en", en)
        assert f"created {code} {zh}" in created.stdout
    return built


@pytest.fixture
def node(built: Path, tmp_path: Path) -> Node:
    """A node with three authorities of its own: a copy of the module's built one."""
    shutil.copytree(built, tmp_path, dirs_exist_ok=True)
    return Node(tmp_path)


def test_authorities_and_keys(node: Node) -> None:
    again = node.run("authority", "create", "CN-SH", "--name-zh", "x", "--name-en", "x", ok=False)
    assert "authority CN-SH already exists" in again.stderr
    bad = node.run("authority", "create", "CN-XX", "--name-zh", "x", "--name-en", "x", ok=False)
    assert "error:" in bad.stderr
    listed = node.run("authority", "list").stdout
    assert all(code in listed for code in NAMES)
    entry = json.loads(node.run("authority", "export", "CN-JS").stdout)
    assert entry["code"] == "CN-JS"
    assert entry["log"]["origin"] == "registry.yrd.example/CN-JS"
    assert "issuing" in node.run("key", "list", "320000").stdout
    naive = node.run(
        "key",
        "revoke",
        entry["issuingKeys"][0]["id"],
        "--compromised-since",
        "2026-01-01T00:00:00",
        "--reason",
        "x",
        ok=False,
    )
    assert "--compromised-since needs a time zone" in naive.stderr
    future = node.run(
        "key",
        "revoke",
        entry["issuingKeys"][0]["id"],
        "--compromised-since",
        "2099-01-01T00:00:00Z",
        "--reason",
        "x",
        ok=False,
    )
    assert "cannot start in the future" in future.stderr


def test_the_trust_workflow(node: Node, tmp_path: Path) -> None:
    assert "no proposal is open" in node.run("trust", "status", ok=False).stderr
    assert "proposed version 1" in node.run("trust", "propose").stdout
    node.run("trust", "sign", "--authority", "CN-SH")
    node.run("trust", "sign", "--authority", "CN-JS")
    short = node.run("trust", "publish", ok=False)
    assert "2 of 3 members signed, 3 required; 1 more signature needed, from each of CN-ZJ" in (
        short.stderr
    )
    node.run("trust", "sign", "--authority", "CN-ZJ")
    published = node.run("trust", "publish").stdout
    genesis = published.split("verifiers pin this genesis digest: ")[1].strip()
    assert len(genesis) == 64

    # Rotate Shanghai's key from a minute on; carry it into version 2 by a majority.
    at = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rotated = node.run("key", "rotate", "CN-SH", "--at", at).stdout
    hint = rotated.split("registry trust propose ")[1].split()
    node.run("trust", "propose", *hint)
    node.run("trust", "sign", "--authority", "CN-JS")
    node.run("trust", "sign", "--authority", "CN-ZJ")
    assert "version 2" in node.run("trust", "publish").stdout
    current = json.loads(node.run("trust", "show").stdout)
    assert current["credentialSubject"]["version"] == 2

    chain = tmp_path / "chain.json"
    node.run("trust", "export", "--out", str(chain))
    held = node.run("trust", "verify", str(chain), "--genesis", genesis).stdout
    assert "✓ the genesis is the pinned one" in held
    assert "✓ previous is version 1's digest" in held
    assert "the chain holds: version 2 is current" in held

    # Tampered in transit: the signatures no longer count, and the walk says so.
    versions = json.loads(chain.read_text(encoding="utf-8"))
    versions[1]["credentialSubject"]["members"][0]["nodeUrl"] = "https://evil.example"
    chain.write_text(json.dumps(versions), encoding="utf-8")
    broken = node.run("trust", "verify", str(chain), "--genesis", genesis, ok=False)
    assert "not counted" in broken.stdout
    assert "0 of 3 members signed, 2 required" in broken.stderr
    assert "the chain does not hold" in broken.stderr
    # An old version offered to a node that has a newer one is refused.
    first = tmp_path / "v1.json"
    first.write_text(json.dumps(versions[0]), encoding="utf-8")
    stale = node.run("trust", "import", str(first), ok=False)
    assert "not newer than the accepted version 2" in stale.stderr


def test_a_member_lists_a_new_witness_key_and_the_policy_changes(node: Node) -> None:
    node.run("trust", "propose")
    for code in NAMES:
        node.run("trust", "sign", "--authority", code)
    node.run("trust", "publish")
    genesis = json.loads(node.run("trust", "show").stdout)["credentialSubject"]
    first = {m["code"]: m["witness"] for m in genesis["members"]}
    assert first["CN-SH"]["name"] == "registry.yrd.example/CN-SH/witness"
    assert "witnessPolicy" not in genesis  # the default: a majority of the others
    listed = node.run("trust", "propose", "--set-witness", "CN-SH", ok=False)
    assert "CN-SH's witness key is listed already" in listed.stderr
    made = node.run("key", "witness", "CN-SH").stdout
    hint = made.split("registry trust propose ")[1].split()
    assert hint == ["--set-witness", "CN-SH"]
    unmet = node.run("trust", "propose", *hint, "--witness-policy", "3", ok=False)
    assert "a witness policy of 3 of 2 other members cannot be met" in unmet.stderr
    node.run("trust", "propose", *hint, "--witness-policy", "2")
    node.run("trust", "sign", "--authority", "CN-JS")
    node.run("trust", "sign", "--authority", "CN-ZJ")
    assert "version 2" in node.run("trust", "publish").stdout
    second = json.loads(node.run("trust", "show").stdout)["credentialSubject"]
    after = {m["code"]: m["witness"] for m in second["members"]}
    assert second["witnessPolicy"] == {"rule": "threshold", "count": 2}
    assert after["CN-SH"]["verifierKey"] != first["CN-SH"]["verifierKey"]
    assert (after["CN-JS"], after["CN-ZJ"]) == (first["CN-JS"], first["CN-ZJ"])


def test_malformed_files_are_one_clear_error(node: Node, tmp_path: Path) -> None:
    cases = {
        "deep.json": "[" * 100_000 + "]" * 100_000,
        "long-number.json": "1" * 5000,
        "not-json.json": "{",
        "latin1.json": b"\xff\xfe".decode("latin-1"),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_text(content, encoding="utf-8")
        for command in (
            ("trust", "verify", str(path), "--genesis", "0" * 64),
            ("trust", "import", str(path)),
            ("trust", "merge", str(path)),
        ):
            result = node.run(*command, ok=False)
            assert "error:" in result.stderr, (name, command)


def test_a_file_that_cannot_be_written_is_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "proposal.json"
    path.write_text('{"kept": true}', encoding="utf-8")
    with pytest.raises(InvalidInput, match="cannot write"):
        write_json(path, {"proof": "\ud800"})
    assert path.read_text(encoding="utf-8") == '{"kept": true}'
    write_json(path, {"名": "上海"})
    assert json.loads(path.read_text(encoding="utf-8")) == {"名": "上海"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_log_audit_command(node: Node, tmp_path: Path) -> None:
    node.run("trust", "propose")
    for code in NAMES:
        node.run("trust", "sign", "--authority", code)
    node.run("trust", "publish")
    settings = Settings(data_dir=tmp_path / "data", database_url=node.env["REGISTRY_DATABASE_URL"])
    items = [
        RECORD.validate_python(
            {
                "type": "SafetyEngineerQualification",
                "authority": "CN-SH",
                "holder": {
                    "name": engineer(n).name,
                    "id_number": resident_id("310101", "19800101", f"00{n}"),
                },
                "certificate_number": f"SH-Q-{n}",
                "category": "chemical",
                "issued_on": "2024-01-01",
            }
        )
        for n in range(4)
    ]
    with engine_scope(settings.database_url) as engine:
        with session_scope(engine) as session:
            issue_records(session, IssuingContext.for_node(settings), items)
        # Four qualifications and the first version of CN-SH's revocation list.
        held = node.run("log", "audit", "CN-SH")
        assert "the log of CN-SH holds: 5 entries, 8 subtree hashes and 1 checkpoints" in (
            held.stdout
        )
        assert "4 record, 4 record_party, 1 status_list" in held.stdout
        with engine.begin() as connection:
            connection.execute(
                text(
                    "UPDATE log_entry SET leaf_hash = (SELECT leaf_hash FROM log_entry "
                    "WHERE leaf_index = 0) WHERE leaf_index = 2"
                )
            )
            connection.execute(text("UPDATE record SET number = 'SH-Q-9' WHERE number = 'SH-Q-3'"))
    broken = node.run("log", "audit", "310000", ok=False)
    assert "✗ entry 2: its leaf hash is not the hash of its credential" in broken.stderr
    assert "number is 'SH-Q-9'; the log says 'SH-Q-3'" in broken.stderr
    assert "the log of CN-SH does not hold: 2 problems" in broken.stderr
    shown = node.run("log", "audit", "CN-SH", "--show", "1", ok=False)
    assert "✗ entry 2" in shown.stderr
    assert "SH-Q-9" not in shown.stderr
    assert "… and 1 more not shown (only the first 1 are printed: --show prints more)" in (
        shown.stderr
    )
    assert "no log" in node.run("log", "audit", "CN-JS", ok=False).stderr


def test_token_commands(node: Node) -> None:
    made = node.run("token", "create", "--role", "issuer:310000", "--name", "上海 issuing desk")
    assert "token 1 for role issuer:CN-SH (上海 issuing desk):" in made.stdout
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("yrd_")
    listed = node.run("token", "list").stdout
    assert "issuer:CN-SH" in listed
    assert token not in listed
    assert "revoked token 1" in node.run("token", "revoke", "1").stdout
    bad = node.run("token", "create", "--role", "root", "--name", "x", ok=False)
    assert "unknown role" in bad.stderr
    past = node.run(
        "token", "create", "--role", "admin", "--name", "x", "--expires", "2000-01-01T00:00Z",
        ok=False,
    )  # fmt: skip
    assert "must lie in the future" in past.stderr
