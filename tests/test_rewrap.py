"""``registry key rewrap``: every file key of the node under a new passphrase; an
interrupted run is finished by the next; a wrong old passphrase changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from registry.crypto import rewrap
from registry.crypto.keys import KeyStore, replace_private_file
from registry.datadir import DataDir
from registry.errors import KeyStoreError
from registry.settings import Settings
from tests._support import run_command

NEW = "a new passphrase, long enough"
KEYS = ("CN-SH-issuing-1", "CN-SH-log-1", "CN-SH-witness-1", "CN-JS-issuing-1")


@pytest.fixture
def node(tmp_path: Path) -> Settings:
    """A node's data directory with four file keys under its generated passphrase
    (the command touches no database)."""
    settings = Settings(data_dir=tmp_path / "data", database_url="sqlite:///unused")
    store = DataDir(settings).key_store()
    for name in KEYS:
        store.create(name)
    return settings


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {"REGISTRY_DATA_DIR": str(settings.data_dir), **extra}


def _opens(settings: Settings, passphrase: bytes) -> set[str]:
    store = KeyStore(settings.data_dir / "keys", passphrase=passphrase)
    opened = set()
    for name in KEYS:
        try:
            store.load(name).sign(b"x")
        except KeyStoreError:
            continue
        opened.add(name)
    return opened


def _files(settings: Settings) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((settings.data_dir / "keys").iterdir())}


# Without a terminal, the passphrase is read from standard input, with that warning.
@pytest.mark.filterwarnings("ignore:Can not control echo on the terminal")
def test_rewrap_moves_every_key_and_the_passphrase_file(node: Settings) -> None:
    old = DataDir(node).key_passphrase()
    public = {name: DataDir(node).key_store().load(name).public_key_multibase for name in KEYS}
    # Asked for twice, as an operator types it (not echoed).
    done = run_command(["key", "rewrap"], _env(node), stdin=f"{NEW}\n{NEW}\n")
    assert done.returncode == 0, done.stderr
    assert "New key passphrase" in done.stdout
    assert "4 key(s) rewrapped" in done.stdout
    assert NEW not in done.stdout + done.stderr
    # The node reads the new passphrase from its file and signs; the old one is refused.
    assert DataDir(node).key_passphrase() == NEW.encode()
    store = DataDir(node).key_store()
    for name in KEYS:
        signer = store.load(name)
        assert signer.public_key_multibase == public[name]
        signer.public_key.verify(signer.sign(b"after"), b"after")
    assert _opens(node, old) == set()
    assert not [p for p in (node.data_dir / "keys").iterdir() if not p.name.endswith(".pem")]
    assert {(p.stat().st_mode & 0o777) for p in (node.data_dir / "keys").iterdir()} == {0o600}


def test_an_interrupted_rewrap_is_finished_by_the_next_run(
    node: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = DataDir(node).key_passphrase()
    new_file = tmp_path / "new-passphrase"
    new_file.write_text(NEW + "\n")
    installed: list[str] = []
    real_install = replace_private_file

    def fail_after_two(path: Path, data: bytes) -> None:
        if len(installed) == 2:
            raise OSError(28, "No space left on device")
        real_install(path, data)
        installed.append(path.name)

    monkeypatch.setattr(rewrap, "replace_private_file", fail_after_two)
    args = ["key", "rewrap", "--new-passphrase-file", str(new_file)]
    done = run_command(args, _env(node))
    assert done.returncode == 1
    assert "run the rewrap again to finish" in done.stderr
    # Every key opens under one of the two; the passphrase file still names the old.
    under_new, under_old = _opens(node, NEW.encode()), _opens(node, old)
    assert len(under_new) == 2
    assert under_new | under_old == set(KEYS)
    assert DataDir(node).key_passphrase() == old

    monkeypatch.setattr(rewrap, "replace_private_file", real_install)
    done = run_command(args, _env(node))
    assert done.returncode == 0, done.stderr
    assert "2 key(s) were under the new passphrase already" in done.stdout
    assert _opens(node, NEW.encode()) == set(KEYS)
    assert DataDir(node).key_passphrase() == NEW.encode()


def test_a_wrong_old_passphrase_or_a_bad_new_one_changes_nothing(
    node: Settings, tmp_path: Path
) -> None:
    before = _files(node)
    old = DataDir(node).key_passphrase()
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase at all\n")
    done = run_command(
        ["key", "rewrap", "--old-passphrase-file", str(wrong)],
        _env(node, REGISTRY_NEW_KEY_PASSPHRASE=NEW),
    )
    assert done.returncode == 1
    assert "opens under neither passphrase: nothing was changed" in done.stderr
    for new, message in [("short", "at least 16 bytes"), (old.decode(), "is the old one")]:
        done = run_command(["key", "rewrap"], _env(node, REGISTRY_NEW_KEY_PASSPHRASE=new))
        assert done.returncode == 1
        assert message in done.stderr
    assert _files(node) == before
    assert DataDir(node).key_passphrase() == old


def test_a_configured_passphrase_is_rewrapped_and_the_setting_named(tmp_path: Path) -> None:
    old = "the configured passphrase"
    settings = Settings(data_dir=tmp_path / "data", key_passphrase=SecretStr(old))
    DataDir(settings).key_store().create("CN-SH-issuing-1")
    env = _env(settings, REGISTRY_KEY_PASSPHRASE=old)
    refused = run_command(["key", "rewrap", "--generate"], env)
    assert refused.returncode == 1
    assert "REGISTRY_KEY_PASSPHRASE" in refused.stderr
    done = run_command(["key", "rewrap"], {**env, "REGISTRY_NEW_KEY_PASSPHRASE": NEW})
    assert done.returncode == 0, done.stderr
    assert "set REGISTRY_KEY_PASSPHRASE to the new passphrase" in done.stdout
    assert not (settings.data_dir / "secrets" / "key-passphrase").exists()
    assert KeyStore(settings.data_dir / "keys", passphrase=NEW.encode()).load("CN-SH-issuing-1")
