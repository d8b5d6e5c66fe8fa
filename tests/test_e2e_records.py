"""End to end on the real server: the demo's records, checked by an outside verifier that
holds only the trust list, and no ID number in clear anywhere the node writes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from api.examples import record_examples
from registry.calendar import china_today
from registry.datadir import DataDir
from registry.demo import DEMO_ENGINEERS, DEMO_LISTED_PERSON
from registry.ids import disclosure_text
from registry.issuing.disclosures import DisclosureSeal
from registry.settings import Settings
from registry.storage.base import metadata
from registry.storage.db import engine_scope
from tests._outside import (
    inclusion_root,
    issuing_key,
    leaf_hash,
    log_verifier_key,
    note_signed_by,
    verify_consistency,
    verify_eddsa_jcs_2022,
)
from tests._servers import Server, Servers


def _numbers() -> list[str]:
    examples = record_examples(china_today())
    found = [e.id_number for e in DEMO_ENGINEERS] + [DEMO_LISTED_PERSON[1]]
    found.append(examples["qualification"]["value"]["holder"]["id_number"])
    found.append(examples["listing"]["value"]["related_persons"][0]["id_number"])
    return found


def _tokens(data_dir: Path) -> dict[str, str]:
    tokens: dict[str, str] = json.loads(
        (data_dir / "secrets" / "demo-tokens.json").read_text(encoding="utf-8")
    )
    return tokens


def _checkpoint(server: Server, trust: dict[str, Any], authority: str) -> tuple[int, bytes]:
    note = httpx.get(f"{server.base}/v1/logs/{authority}/checkpoint").text
    origin, size, root = note_signed_by(note, log_verifier_key(trust, authority))
    assert origin == f"registry.yrd.example/{authority}"
    return size, root


def _verify_log(server: Server, trust: dict[str, Any], authority: str, token: str) -> int:
    """Every entry of the log verifies, and is included under the signed checkpoint."""
    size, root = _checkpoint(server, trust, authority)
    assert size > 0
    entries = httpx.get(
        f"{server.base}/v1/logs/{authority}/entries",
        params={"start": 0, "end": size},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["entries"]
    assert [e["index"] for e in entries] == list(range(size))
    for entry in entries:
        credential = entry["leaf"]
        # A recognition agreement carries a proof set: each proof stands on its own.
        proofs = credential["proof"]
        for proof in proofs if isinstance(proofs, list) else [proofs]:
            verify_eddsa_jcs_2022(
                {**credential, "proof": proof}, issuing_key(trust, proof["verificationMethod"])
            )
        leaf = leaf_hash(credential)
        proof = httpx.get(
            f"{server.base}/v1/logs/{authority}/proof/inclusion",
            params={"leaf_hash": base64.b64encode(leaf).decode(), "tree_size": size},
        ).json()
        assert proof["leaf_index"] == entry["index"]
        assert inclusion_root(leaf, entry["index"], size, proof["hashes"]) == root
    return size


@pytest.mark.e2e
def test_an_outside_verifier_checks_the_demo(pg_url: str, servers: Servers, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = servers.start(pg_url, data_dir)
    tokens = _tokens(data_dir)
    trust = httpx.get(f"{server.base}/v1/trust-list").json()
    sizes = {
        code: _verify_log(server, trust, code, tokens["federation"])
        for code in ("CN-SH", "CN-JS", "CN-ZJ", "CN-AH")
    }
    # A new record: the log grows, and the new checkpoint is consistent with the old.
    _, old_root = _checkpoint(server, trust, "CN-SH")
    example = record_examples(china_today())["listing"]["value"]
    issued = httpx.post(
        f"{server.base}/v1/credentials",
        json=example,
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
    )
    assert issued.status_code == 201, issued.text
    new_size, new_root = _checkpoint(server, trust, "CN-SH")
    assert new_size > sizes["CN-SH"]
    proof = httpx.get(
        f"{server.base}/v1/logs/CN-SH/proof/consistency",
        params={"first": sizes["CN-SH"], "second": new_size},
    ).json()
    verify_consistency(sizes["CN-SH"], new_size, old_root, new_root, proof["hashes"])
    # Its status list is where its entry says, signed by the same authority.
    entry = issued.json()["credential"]["credentialStatus"][0]
    status_list = httpx.get(entry["statusListCredential"]).json()
    verify_eddsa_jcs_2022(
        status_list, issuing_key(trust, status_list["proof"]["verificationMethod"])
    )
    # A rejected request with an ID number in it.
    bad = httpx.post(
        f"{server.base}/v1/credentials",
        json={**example, "measures": []},
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
    )
    assert bad.status_code == 422

    # No ID number in clear: not in the server's output, the API's answers, the log
    # entries (checked above through the API) or any table.
    numbers = _numbers()
    answers = issued.text + bad.text
    for code, size in sizes.items():
        answers += httpx.get(
            f"{server.base}/v1/logs/{code}/entries",
            params={"start": 0, "end": size},
            headers={"Authorization": f"Bearer {tokens['federation']}"},
        ).text
    dump = ""
    with engine_scope(pg_url) as engine, engine.connect() as connection:
        for table in metadata.sorted_tables:
            rows = connection.execute(text(f'SELECT * FROM "{table.name}"')).all()  # noqa: S608
            dump += "\n".join(repr(tuple(row)) for row in rows)
    assert "王立新" in dump  # the dump did read the records
    for number in numbers:
        assert number not in server.output
        assert number not in answers
        assert number not in dump

    # Nor any disclosure, in any encoding, outside what its authority hands the person.
    salts = _disclosures(pg_url, data_dir)
    assert len(salts) > 20
    issued_id = issued.json()["credential"]["id"]
    handed = httpx.get(
        f"{server.base}/v1/credentials/{issued_id}/disclosures",
        headers={"Authorization": f"Bearer {tokens['issuer:CN-SH']}"},
    ).json()["disclosures"]
    assert {d["disclosure"] for d in handed} <= {disclosure_text(s) for s in salts}
    for salt in salts:
        for form in _forms(salt):
            assert form not in server.output
            assert form not in answers
            assert form not in dump


def _disclosures(pg_url: str, data_dir: Path) -> list[bytes]:
    """Every disclosure the node keeps, opened with its own secret."""
    seal = DisclosureSeal(DataDir(Settings(data_dir=data_dir, database_url=pg_url)).node_secret())
    with engine_scope(pg_url) as engine, engine.connect() as connection:
        rows = connection.execute(text("SELECT credential_id, position, sealed FROM disclosure"))
        return [seal.open(row[0], row[1], bytes(row[2])) for row in rows]


def _forms(salt: bytes) -> list[str]:
    """How a salt could be written: hex, base64 and base64url, padded or not."""
    b64 = base64.b64encode(salt).decode()
    return [salt.hex(), salt.hex().upper(), b64, b64.rstrip("="), disclosure_text(salt)]
