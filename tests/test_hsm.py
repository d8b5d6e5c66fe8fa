"""Keys in a PKCS#11 token (SoftHSM2, in a token directory of the test's own): made
through the CLI, they sign credentials issued through the API, the log's checkpoints
and witness cosignatures, all verified as any other key's; their private half
cannot be read out; a wrong PIN, a missing token or key is a clear one-line error."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
import pytest
from alembic import command
from fastapi.testclient import TestClient
from pkcs11 import Attribute, ObjectClass
from sqlmodel import col, select

from api import create_app
from registry.crypto.keys import KeyLocation
from registry.crypto.multikey import decode_public_multikey
from registry.datadir import DataDir
from registry.errors import KeyStoreError
from registry.federation.cosigning import Cosigner, witnessed
from registry.issuing import IssuingContext
from registry.settings import Settings
from registry.storage.db import alembic_config, engine_scope, session_scope
from registry.storage.models import SigningKey
from registry.tlog.checkpoint import open_note
from registry.tlog.note import parse_verifier_key, parse_witness_key
from registry.tokens import create_token
from registry.trust.document import digest_of
from registry.trust.proposals import seed_genesis
from registry.trust.store import NodeProfile, current_version, stored_versions
from registry.verification.offline import check_file
from tests._support import run_command
from tests._verifying import failures
from tests.test_grouping import _credit

TOKEN = "registry-test"
PIN = "4711-test-pin"
_MODULES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class Hsm:
    """A SoftHSM2 module with one initialised token, and an owner-only PIN file."""

    module: Path
    pin_file: Path

    def env(self, settings: Settings, *, pin_file: Path | None = None) -> dict[str, str]:
        return {
            "REGISTRY_DATABASE_URL": settings.database_url,
            "REGISTRY_DATA_DIR": str(settings.data_dir),
            "REGISTRY_PKCS11_MODULE": str(self.module),
            "REGISTRY_PKCS11_PIN_FILE": str(pin_file or self.pin_file),
            "COLUMNS": "400",
        }

    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(
            update={"pkcs11_module": self.module, "pkcs11_pin_file": self.pin_file}
        )


@pytest.fixture(scope="session")
def hsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hsm]:
    """A token directory of this worker's own, one token initialised in it: the
    module reads SOFTHSM2_CONF when it is first loaded, in this process."""
    module = next((Path(p) for p in _MODULES if Path(p).exists()), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        pytest.fail("SoftHSM2 is not installed: run scripts/ensure-softhsm (make test does)")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    pin_file = root / "pin"
    pin_file.write_text(PIN + "\n")
    pin_file.chmod(0o600)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(conf))
        subprocess.run(
            [util, "--init-token", "--free", "--label", TOKEN, "--so-pin", "1234", "--pin", PIN],
            check=True,
            capture_output=True,
            env={**os.environ, "SOFTHSM2_CONF": str(conf)},
            timeout=30,
        )
        yield Hsm(module=module, pin_file=pin_file)


def _create(env: dict[str, str], code: str, name_zh: str, name_en: str, *extra: str) -> None:
    args = ["authority", "create", code, "--name-zh", name_zh, "--name-en", name_en, *extra]
    done = run_command(args, env)
    assert done.returncode == 0, done.stderr


def _issue(client: TestClient, token: str, body: dict[str, Any]) -> dict[str, Any]:
    made = client.post("/v1/credentials", json=body, headers={"Authorization": f"Bearer {token}"})
    assert made.status_code == 201, made.text
    credential: dict[str, Any] = made.json()["credential"]
    return credential


def test_keys_in_the_token_sign_credentials_checkpoints_and_cosignatures(
    settings: Settings, hsm: Hsm
) -> None:
    env = hsm.env(settings)
    _create(env, "CN-SH", "上海市应急管理局", "Shanghai EMB", "--token", TOKEN)
    _create(env, "CN-JS", "江苏省应急管理厅", "Jiangsu EMD")
    listed = run_command(["key", "list"], env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len([line for line in lines if "CN-SH" in line and f"token '{TOKEN}'" in line]) == 3
    assert len([line for line in lines if "CN-JS" in line and "file keys/CN-JS-" in line]) == 3

    node = hsm.settings(settings)
    context = IssuingContext.for_node(node)
    with engine_scope(node.database_url) as engine:
        with session_scope(engine) as session:
            in_token = {
                k.purpose: k
                for k in session.exec(
                    select(SigningKey).where(col(SigningKey.token_label) == TOKEN)
                )
            }
            assert sorted(in_token) == ["issuing", "log", "witness"]
            assert all(k.authority_code == "CN-SH" for k in in_token.values())
            # No file holds them: the key store's directory has CN-JS's three only.
            files = sorted(p.name for p in (node.data_dir / "keys").iterdir())
            assert [f[:5] for f in files] == ["CN-JS"] * 3
            # The genesis is signed by CN-SH's issuing key in the token, too.
            seed_genesis(session, context.key_store, profile=NodeProfile.from_settings(node))
            tokens = {
                code: create_token(session, f"issuer:{code}", name=code)[1]
                for code in ("CN-SH", "CN-JS")
            }
        with TestClient(create_app(node)) as client:
            ours = _issue(client, tokens["CN-SH"], _credit(1))
            theirs = _issue(client, tokens["CN-JS"], {**_credit(2), "authority": "CN-JS"})
            with Cosigner(engine, key_store=context.key_store) as cosigner:
                cosigner.tick()
            notes = {c: client.get(f"/v1/logs/{c}/checkpoint").text for c in ("CN-SH", "CN-JS")}
        with session_scope(engine) as session:
            chain = [row.canonical for row in stored_versions(session)]
            trust = current_version(session)
    assert trust is not None

    # 1. The credential: signed by the token's issuing key, verified offline as any.
    assert ours["proof"]["verificationMethod"] == in_token["issuing"].verification_method
    chain_json = [json.loads(text) for text in chain]
    check = check_file(ours, trust_lists=chain_json, genesis=digest_of(chain_json[0]), demo=True)
    assert failures(check) == []
    assert theirs["proof"]["verificationMethod"] != ours["proof"]["verificationMethod"]

    # 2. The checkpoint of CN-SH's log: signed by the token's log key, the trust list's.
    member = trust.content.member("CN-SH")
    assert member is not None
    log_key = parse_verifier_key(member.log.verifier_key)
    assert open_note(notes["CN-SH"], [log_key]).text.startswith("registry.yrd.example/CN-SH\n")
    token_log = decode_public_multikey(in_token["log"].public_key_multibase)
    assert log_key.public_key.public_bytes_raw() == token_log.public_bytes_raw()

    # 3. CN-JS's checkpoint is cosigned by CN-SH's witness key in the token.
    cosigners, _ = witnessed(trust.content, "CN-JS", notes["CN-JS"])
    assert "CN-SH" in cosigners
    assert member.witness is not None
    witness_key = decode_public_multikey(in_token["witness"].public_key_multibase)
    assert parse_witness_key(member.witness.verifier_key).public_key.public_bytes_raw() == (
        witness_key.public_bytes_raw()
    )

    # 4. With the token out of reach (its module gone), issuing is a 503 its operator can
    # act on, and nothing is written; CN-JS, whose keys are files, issues on.
    gone = node.model_copy(update={"pkcs11_module": node.data_dir / "unplugged.so"})
    with TestClient(create_app(gone)) as client:
        size = _log_size(client, "CN-SH")
        refused = client.post(
            "/v1/credentials",
            json=_credit(3),
            headers={"Authorization": f"Bearer {tokens['CN-SH']}"},
        )
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"].endswith("signing-key-unavailable")
        assert _log_size(client, "CN-SH") == size
        _issue(client, tokens["CN-JS"], {**_credit(4), "authority": "CN-JS"})

    # 5. The schema before token keys could not say where these are: it is not gone to.
    # (Last: on SQLite the later revisions' steps down are not undone by the refusal.)
    with (
        engine_scope(node.database_url) as engine,
        pytest.raises(RuntimeError, match="held in PKCS#11 tokens"),
    ):
        command.downgrade(alembic_config(engine), "0024")


def _log_size(client: TestClient, authority: str) -> int:
    return int(client.get(f"/v1/logs/{authority}/checkpoint").text.split("\n")[1])


def test_the_private_key_never_leaves_the_token(tmp_path: Path, hsm: Hsm) -> None:
    node = Settings(
        data_dir=tmp_path / "data", pkcs11_module=hsm.module, pkcs11_pin_file=hsm.pin_file
    )
    store = DataDir(node).key_store()
    signer = store.create_in_token(TOKEN, "kept-inside")
    signer.public_key.verify(signer.sign(b"signed inside"), b"signed inside")
    library = pkcs11.lib(str(hsm.module))
    # Logged in already: a token's login is the process's, shared by its sessions.
    with library.get_token(token_label=TOKEN).open() as session:
        private = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="kept-inside")
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        with pytest.raises(pkcs11.AttributeSensitive):
            private[Attribute.VALUE]


def test_a_key_that_could_leave_the_token_is_refused(tmp_path: Path, hsm: Hsm) -> None:
    node = Settings(
        data_dir=tmp_path / "data", pkcs11_module=hsm.module, pkcs11_pin_file=hsm.pin_file
    )
    store = DataDir(node).key_store()
    store.create_in_token(TOKEN, "made-to-log-in")  # the process logs in to the token
    library = pkcs11.lib(str(hsm.module))
    with library.get_token(token_label=TOKEN).open(rw=True) as session:
        session.generate_keypair(
            pkcs11.KeyType.EC_EDWARDS,
            mechanism=pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
            store=True,
            label="extractable",
            public_template={Attribute.EC_PARAMS: bytes.fromhex("06032b6570")},
            private_template={Attribute.SENSITIVE: False, Attribute.EXTRACTABLE: True},
        )
    with pytest.raises(KeyStoreError, match="could leave the token"):
        store.signer(KeyLocation("extractable", TOKEN))


def test_a_wrong_pin_a_missing_token_or_key_is_a_clear_error(
    tmp_path: Path, sqlite_url: str, hsm: Hsm
) -> None:
    node = Settings(data_dir=tmp_path / "data", database_url=sqlite_url)
    env = hsm.env(node)
    _create(env, "CN-SH", "上海市应急管理局", "Shanghai EMB")
    wrong = tmp_path / "wrong-pin"
    wrong.write_text("0000\n")
    wrong.chmod(0o600)
    shared = tmp_path / "shared-pin"
    shared.write_text(PIN)
    shared.chmod(0o640)
    no_module = {k: v for k, v in env.items() if not k.startswith("REGISTRY_PKCS11")}
    cases = [
        (hsm.env(node, pin_file=wrong), [], f"the PIN of PKCS#11 token '{TOKEN}' is wrong"),
        (hsm.env(node, pin_file=shared), [], "may be read by others than its owner"),
        (env, ["--label", "nope", "--existing"], f"token '{TOKEN}' holds no private key labelled"),
        (no_module, [], "needs the token's module: set REGISTRY_PKCS11_MODULE"),
    ]
    for case_env, extra, message in cases:
        done = run_command(["key", "witness", "CN-SH", "--token", TOKEN, *extra], case_env)
        assert done.returncode == 1, done.stdout
        assert message in done.stderr
        assert "Traceback" not in done.stderr + done.stdout
        assert PIN not in done.stderr + done.stdout
    done = run_command(["key", "witness", "CN-SH", "--token", "no-such-token"], env)
    assert done.returncode == 1
    assert "no PKCS#11 token labelled 'no-such-token'" in done.stderr
    # Nothing was recorded: CN-SH still has its three file keys only.
    listed = run_command(["key", "list", "CN-SH"], env).stdout
    assert listed.count("file keys/CN-SH-") == 3
    assert "PKCS#11" not in listed


def test_signing_from_threads_and_after_the_token_was_reset(tmp_path: Path, hsm: Hsm) -> None:
    node = Settings(
        data_dir=tmp_path / "data", pkcs11_module=hsm.module, pkcs11_pin_file=hsm.pin_file
    )
    signer = DataDir(node).key_store().create_in_token(TOKEN, "from-threads")
    messages = [f"message {n}".encode() for n in range(64)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(signer.sign, messages))
    for message, signature in zip(messages, signatures, strict=True):
        signer.public_key.verify(signature, message)
    # The library reset under the node (as when a token is unplugged and back): every
    # session it had is gone; the next signature opens a new one and logs in again.
    pkcs11.lib(str(hsm.module)).reinitialize()
    signer.public_key.verify(signer.sign(b"after the reset"), b"after the reset")
