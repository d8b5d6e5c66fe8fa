"""Keys: Multikey and did:key encodings, the encrypted key store, the data directory."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import SecretStr

from registry.crypto.keys import Ed25519Signer, KeyStore, Signer
from registry.crypto.multikey import (
    decode_public_multikey,
    did_key_verification_method,
    encode_multibase,
    encode_public_multikey,
    public_key_from_verification_method,
    raw_public_bytes,
)
from registry.datadir import DataDir
from registry.errors import InvalidKeyEncoding, KeyStoreError
from registry.settings import Settings


def test_multikey_round_trip() -> None:
    signer = Ed25519Signer.generate()
    multikey = encode_public_multikey(signer.public_key)
    assert multikey.startswith("z6Mk")
    assert raw_public_bytes(decode_public_multikey(multikey)) == raw_public_bytes(signer.public_key)
    method = did_key_verification_method(signer.public_key)
    assert method == f"did:key:{multikey}#{multikey}"
    assert signer.verification_method == method
    assert raw_public_bytes(public_key_from_verification_method(method)) == raw_public_bytes(
        signer.public_key
    )
    assert isinstance(signer, Signer)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", "starting with 'z'"),
        (encode_multibase(b"\x12\x00" + bytes(32)), "not an Ed25519 Multikey"),
        (encode_multibase(b"\xed\x01" + bytes(31)), "not an Ed25519 Multikey"),
    ],
)
def test_bad_multikeys(value: str, message: str) -> None:
    with pytest.raises(InvalidKeyEncoding, match=message):
        decode_public_multikey(value)


def test_did_key_fragment_must_match() -> None:
    a = encode_public_multikey(Ed25519Signer.generate().public_key)
    b = encode_public_multikey(Ed25519Signer.generate().public_key)
    with pytest.raises(InvalidKeyEncoding, match="fragment"):
        public_key_from_verification_method(f"did:key:{a}#{b}")
    with pytest.raises(InvalidKeyEncoding, match="not a did:key"):
        public_key_from_verification_method(f"did:web:example.test#{a}")


def test_key_store_writes_encrypted_owner_only_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys", passphrase=b"correct horse")
    created = store.create("CN-SH-issuing-1")
    path = tmp_path / "keys" / "CN-SH-issuing-1.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    pem = path.read_bytes()
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):
        load_pem_private_key(pem, password=None)
    loaded = store.load("CN-SH-issuing-1")
    assert loaded.public_key_multibase == created.public_key_multibase
    assert loaded.sign(b"x") == created.sign(b"x")  # Ed25519 is deterministic


def test_key_store_refuses_overwrite_bad_names_and_wrong_passphrase(tmp_path: Path) -> None:
    store = KeyStore(tmp_path, passphrase=b"one")
    store.create("k")
    with pytest.raises(KeyStoreError, match="already exists"):
        store.create("k")
    with pytest.raises(KeyStoreError, match="invalid key name"):
        store.create("../escape")
    with pytest.raises(KeyStoreError, match="wrong passphrase"):
        KeyStore(tmp_path, passphrase=b"two").load("k")
    with pytest.raises(KeyStoreError, match="cannot read"):
        store.load("missing")
    with pytest.raises(KeyStoreError, match="empty"):
        KeyStore(tmp_path, passphrase=b"")


def test_data_dir_generates_secrets_once_owner_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    data_dir = DataDir(settings)
    first = data_dir.key_passphrase()
    assert len(first) >= 32
    assert DataDir(settings).key_passphrase() == first
    assert data_dir.node_secret() != first
    for name in ("key-passphrase", "node-secret"):
        mode = stat.S_IMODE((tmp_path / "data" / "secrets" / name).stat().st_mode)
        assert mode == 0o600
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700
    assert (
        settings.database_url == f"sqlite:///{(tmp_path / 'data' / 'registry.sqlite3').resolve()}"
    )


def test_configured_secrets_win(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        key_passphrase=SecretStr("passphrase-from-env"),
        node_secret=SecretStr("node-secret-from-env"),
    )
    data_dir = DataDir(settings)
    assert data_dir.key_passphrase() == b"passphrase-from-env"
    assert data_dir.node_secret() == b"node-secret-from-env"
    assert not (tmp_path / "secrets" / "key-passphrase").exists()
    assert "from-env" not in repr(settings)


@pytest.mark.parametrize("value", ["", "short"])
def test_empty_or_short_secrets_are_refused(tmp_path: Path, value: str) -> None:
    settings = Settings(data_dir=tmp_path, node_secret=SecretStr(value))
    with pytest.raises(KeyStoreError, match="REGISTRY_NODE_SECRET must have at least 16"):
        DataDir(settings).node_secret()


def test_a_truncated_secret_file_is_refused(tmp_path: Path) -> None:
    data_dir = DataDir(Settings(data_dir=tmp_path))
    data_dir.node_secret()
    (tmp_path / "secrets" / "node-secret").write_bytes(b"")
    with pytest.raises(KeyStoreError, match="fewer than 16 bytes"):
        data_dir.node_secret()


def test_overlong_multibase_is_refused_before_decoding() -> None:
    with pytest.raises(InvalidKeyEncoding, match="longer than"):
        decode_public_multikey("z" + "2" * 100_000)


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("REGISTRY_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.database_url == "postgresql+psycopg://u@h/db"
