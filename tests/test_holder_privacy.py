"""Holder privacy: nothing the registry hands out tests a guessed ID number, the person's
disclosure confirms the right number and refuses a wrong one, and the federation's
look-up secret finds a person's records under every version."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
import json
import os
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlmodel import col, select

from api.app import create_app
from api.examples import record_examples
from registry.calendar import china_today
from registry.datadir import DataDir
from registry.demo import DEMO_ENGINEERS, DEMO_LISTED_PERSON
from registry.demo.synthetic import resident_id
from registry.enforcement.dispatcher import dispatch
from registry.errors import Inconsistency
from registry.ids import disclosure_text, resident_id_check_character
from registry.issuing import IssuingContext
from registry.issuing.disclosures import DisclosureSeal
from registry.settings import Settings
from registry.storage.db import engine_scope, session_scope
from registry.storage.models import Disclosure, RecordParty
from tests._receivers import Events, Prompt
from tests._support import LOOPBACK, REGISTRY, seed_demo_node

# The listing example's legal representative: born in 1968 in county 310116.
COUNTY, YEAR = "310116", 1968


def _candidates() -> Iterator[bytes]:
    """Every valid ID number of the county and the year: 365 days x 1,000 sequences."""
    day = date(YEAR, 1, 1)
    while day.year == YEAR:
        for sequence in range(1000):
            first17 = f"{COUNTY}{day:%Y%m%d}{sequence:03d}"
            yield (first17 + resident_id_check_character(first17)).encode("ascii")
        day += timedelta(days=1)


_HEX = re.compile(r"(?<![0-9a-fA-F])(?:[0-9a-fA-F]{64}|[0-9a-fA-F]{32})(?![0-9a-fA-F])")
_B64 = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{22,44}={0,2}")


def _values(text: str) -> set[bytes]:
    """Every 16- or 32-byte value written in ``text`` as hex or base64(url): whatever
    could be a salt, a key or a digest of a number."""
    found = {bytes.fromhex(h) for h in _HEX.findall(text)}
    for token in _B64.findall(text):
        # Standard and URL-safe base64 alike, padded or not.
        stripped = token.rstrip("=").replace("+", "-").replace("/", "_")
        try:
            raw = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(raw) in (16, 32):
            found.add(raw)
    return found


def _guesses_matching(exposed: str) -> set[str]:
    """Every candidate number that some value in ``exposed`` confirms: as its SHA-256,
    its SHA-256 under an exposed salt, or its HMAC under an exposed key."""
    values = _values(exposed)
    digests = {v for v in values if len(v) == 32}
    salted = [hashlib.sha256(v) for v in values]
    matches = set()
    for number in _candidates():
        if hashlib.sha256(number).digest() in digests:
            matches.add(number.decode())
        for prefix in salted:
            attempt = prefix.copy()
            attempt.update(number)
            if attempt.digest() in digests:
                matches.add(number.decode())
        for key in digests:
            if hmac.digest(key, number, "sha256") in digests:
                matches.add(number.decode())
    return matches


@pytest.fixture
def node(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    tokens = seed_demo_node(settings, records=False)
    with TestClient(create_app(settings)) as client:
        yield client, tokens


def _bearer(tokens: dict[str, str], role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def _verify(
    tmp_path: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REGISTRY_DATA_DIR": str(tmp_path / "elsewhere")}
    return subprocess.run(
        [str(REGISTRY), "verify", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_nothing_handed_out_tests_a_guess_and_the_disclosure_confirms_the_number(
    node: tuple[TestClient, dict[str, str]], settings: Settings, tmp_path: Path
) -> None:
    client, tokens = node
    example = record_examples(china_today())["listing"]["value"]
    number = example["related_persons"][0]["id_number"]
    assert number == resident_id(COUNTY, "19680302", "015")
    code = example["listed"]["credit_code"]
    receiver = Prompt(Events(), 1)
    try:
        subscribed = client.post(
            "/v1/subscriptions",
            json={"url": receiver.url, "credit_codes": [code]},
            headers=_bearer(tokens, "enforcement"),
        )
        assert subscribed.status_code == 201, subscribed.text
        issued = client.post(
            "/v1/credentials", json=example, headers=_bearer(tokens, "issuer:CN-SH")
        )
        assert issued.status_code == 201, issued.text
        credential_id = issued.json()["credential"]["id"]
        with engine_scope(settings.database_url) as engine:
            assert (
                dispatch(engine, now=datetime.now(UTC), deadline=10, concurrency=2, policy=LOOPBACK)
                == 1
            )
        webhook = receiver.seen[0][1].decode()
    finally:
        receiver.close()

    # Everything that reaches an employer, a member node, a subscriber or the public.
    credential = client.get(f"/v1/credentials/{credential_id}")
    size = issued.json()["tree_size"]
    entries = client.get(
        "/v1/logs/CN-SH/entries",
        params={"start": 0, "end": size},
        headers=_bearer(tokens, "federation"),
    )
    feed = client.get("/v1/changes", headers=_bearer(tokens, "enforcement"))
    public = client.get("/v1/blacklist/public")
    public_csv = client.get("/v1/blacklist/public", params={"format": "csv"})
    public_xlsx = client.get("/v1/blacklist/public", params={"format": "xlsx"})
    assert public_xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(public_xlsx.content), read_only=True).active
    assert sheet is not None
    cells = "\n".join(str(v) for row in sheet.iter_rows(values_only=True) for v in row)
    assert "3101**********" in cells  # the person, by their masked number only
    exposed = [issued, credential, entries, feed, public, public_csv]
    assert all(a.status_code == 200 for a in exposed[1:]), [a.text for a in exposed]
    assert credential_id in feed.text
    assert credential_id in webhook
    everything = "\n".join([*(a.text for a in exposed), webhook, cells])
    assert example["related_persons"][0]["name"] in everything
    assert number not in everything
    # Every candidate for the county and the year, against every value exposed: the
    # credential binds the number under a salt it does not carry, and keys it under
    # a secret only member nodes hold, so there is nothing to match against.
    assert _guesses_matching(everything) == set()

    # The disclosure: only the issuing authority reads it, for the person.
    for role in ("issuer:CN-JS", "verifier", "enforcement", "federation"):
        refused = client.get(
            f"/v1/credentials/{credential_id}/disclosures", headers=_bearer(tokens, role)
        )
        assert refused.status_code == 403, (role, refused.text)
    answer = client.get(
        f"/v1/credentials/{credential_id}/disclosures", headers=_bearer(tokens, "issuer:CN-SH")
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    (person,) = answer.json()["disclosures"]
    assert (person["position"], person["role"], person["masked"]) == (
        1,
        "principal",
        "3101**********015" + number[-1],
    )
    disclosure = person["disclosure"]
    assert disclosure not in everything
    # The same attack, given the disclosure, finds the number and nothing else: the
    # search above would have found it had anything exposed it.
    assert _guesses_matching(everything + "\n" + disclosure) == {number}

    # Offline, with the person's ID card: `registry verify` confirms the right number
    # and refuses a wrong one, from the disclosure or the certificate's QR code.
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(credential.json()["credential"], ensure_ascii=False), "utf-8")
    trust = tmp_path / "trust.json"
    trust.write_text(client.get("/v1/trust-list/chain").text, "utf-8")
    genesis = client.get("/v1/trust-list/history").json()["genesis"]
    base = [str(path), "--trust-list", str(trust), "--genesis", genesis]
    right = _verify(tmp_path, *base, "--disclosure", disclosure, "--id-number", number)
    assert right.returncode == 0, right.stdout + right.stderr
    assert "holder" in right.stdout
    wrong = resident_id(COUNTY, "19680302", "016")
    refused_number = _verify(tmp_path, *base, "--disclosure", disclosure, "--id-number", wrong)
    assert refused_number.returncode == 1
    assert "do not match anyone the credential names" in refused_number.stdout
    # The ID number asked for, not given on the command line; the QR code's disclosure.
    qr_text = person["qr_text"]
    assert qr_text.endswith("&d=" + disclosure)
    prompted = _verify(tmp_path, *base, "--qr", qr_text, stdin=number + "\n")
    assert prompted.returncode == 0, prompted.stdout + prompted.stderr
    assert number not in prompted.stdout + prompted.stderr
    # The public QR code carries no disclosure.
    public_qr = client.get(f"/v1/credentials/{credential_id}/qr")
    assert public_qr.headers["x-qr-text"] == qr_text.rsplit("&d=", 1)[0]
    holder_qr = client.get(
        f"/v1/credentials/{credential_id}/disclosures/1/qr",
        params={"format": "png"},
        headers=_bearer(tokens, "issuer:CN-SH"),
    )
    assert holder_qr.status_code == 200
    assert holder_qr.headers["content-type"] == "image/png"
    assert "x-qr-text" not in holder_qr.headers
    # Each reading of disclosures is in the access audit.
    trail = client.get("/v1/audit/access", headers=_bearer(tokens, "admin")).json()["entries"]
    assert [e["action"] for e in trail].count("disclosure") == 2


def test_a_disclosure_is_kept_sealed_and_bound_to_its_place(
    node: tuple[TestClient, dict[str, str]], settings: Settings
) -> None:
    client, tokens = node
    example = record_examples(china_today())["qualification"]["value"]
    issued = client.post("/v1/credentials", json=example, headers=_bearer(tokens, "issuer:CN-SH"))
    assert issued.status_code == 201, issued.text
    credential_id = issued.json()["credential"]["id"]
    shown = client.get(
        f"/v1/credentials/{credential_id}/disclosures", headers=_bearer(tokens, "issuer:CN-SH")
    ).json()["disclosures"][0]["disclosure"]
    context = IssuingContext.for_node(settings)
    with engine_scope(settings.database_url) as engine, session_scope(engine) as session:
        row = session.exec(
            select(Disclosure).where(col(Disclosure.credential_id) == credential_id)
        ).one()
        salt = context.seal.open(credential_id, 0, row.sealed)
        assert disclosure_text(salt) == shown
        # Not in clear in the database, in any encoding.
        assert salt not in row.sealed
        # Sealed for this credential and place: moved elsewhere, it does not open.
        with pytest.raises(Inconsistency, match="does not open"):
            context.seal.open(credential_id, 1, row.sealed)
        other = session.exec(
            select(RecordParty).where(col(RecordParty.credential_id) != credential_id)
        ).first()
        if other is not None:
            with pytest.raises(Inconsistency, match="does not open"):
                context.seal.open(other.credential_id, 0, row.sealed)
    # Another node's secret does not open it either.
    elsewhere = DataDir(settings.model_copy(update={"data_dir": settings.data_dir / "x"}))
    with pytest.raises(Inconsistency, match="does not open"):
        DisclosureSeal(elsewhere.node_secret()).open(credential_id, 0, row.sealed)


def test_a_new_look_up_secret_keys_new_records_and_old_ones_are_still_found(
    settings: Settings, tmp_path: Path
) -> None:
    tokens = seed_demo_node(settings)
    engineer = DEMO_ENGINEERS[0]
    before = DataDir(settings).lookup_secrets()
    query = {"id_number": engineer.id_number, "region": "CN-SH"}

    def verify(client: TestClient) -> dict[str, Any]:
        answer = client.post("/v1/verify/engineer", json=query, headers=_bearer(tokens, "verifier"))
        assert answer.status_code == 200, answer.text
        report: dict[str, Any] = answer.json()["credentialSubject"]
        return report

    with TestClient(create_app(settings)) as client:
        first = verify(client)
    assert first["evidence"]["credentials"]
    # The federation's secret is rotated (as `registry federation lookup-secret rotate`
    # does); the node restarts with it.
    DataDir(settings).replace_lookup_secrets(before.rotated())
    after = DataDir(settings).lookup_secrets()
    assert after.current != before.current
    example = record_examples(china_today())["continuing-education"]["value"]
    example = {**example, "holder": {"name": engineer.name, "id_number": engineer.id_number}}
    with TestClient(create_app(settings)) as client:
        issued = client.post(
            "/v1/credentials",
            json=example,
            headers=_bearer(tokens, f"issuer:{example['authority']}"),
        )
        assert issued.status_code == 201, issued.text
        identifier = issued.json()["credential"]["credentialSubject"]["holder"]["identifier"]
        assert identifier["lookupSecret"] == after.current
        second = verify(client)
        # The person Jiangsu listed before the rotation: found by search and by check.
        _, listed_number = DEMO_LISTED_PERSON
        inspector = _bearer(tokens, "enforcement")
        found = client.post(
            "/v1/blacklist/search", json={"id_number": listed_number}, headers=inspector
        )
        assert found.status_code == 200, found.text
        assert [item["decidedBy"] for item in found.json()["listings"]] == ["CN-JS"]
        checked = client.post(
            "/v1/blacklist/check", json={"rows": [{"id_number": listed_number}]}, headers=inspector
        )
        assert checked.status_code == 200, checked.text
        assert len(checked.json()["results"][0]["listings"]) == 1
    old_ids = {c["credential"]["id"] for c in first["evidence"]["credentials"]}
    new_ids = {c["credential"]["id"] for c in second["evidence"]["credentials"]}
    # Every record found before is found still, and the new one beside them.
    assert old_ids < new_ids
    assert issued.json()["credential"]["id"] in new_ids
    versions = {
        c["credential"]["credentialSubject"]["holder"]["identifier"]["lookupSecret"]
        for c in second["evidence"]["credentials"]
        if "holder" in c["credential"]["credentialSubject"]
    }
    assert versions == {before.current, after.current}
    assert second["verdict"] == first["verdict"]
