"""The federation's look-up secrets: versions, export and import, rotation, and the
data directory that keeps them."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from pydantic import SecretStr

from registry.datadir import DataDir
from registry.errors import InvalidInput
from registry.ids import LookupSecrets, ResidentId
from registry.settings import Settings
from tests._support import run_command

NUMBER = ResidentId("11010519491231002X")


def test_a_rotation_keys_new_records_and_still_finds_old_ones() -> None:
    first = LookupSecrets.generate()
    old_version, old_key = first.key(NUMBER)
    second = first.rotated()
    new_version, new_key = second.key(NUMBER)
    assert new_version != old_version
    assert new_key != old_key
    assert second.keys(NUMBER) == {old_version: old_key, new_version: new_key}
    assert second.current == new_version


def test_export_and_import_round_trip_and_merge_keeps_order() -> None:
    federation = LookupSecrets.generate().rotated()
    assert LookupSecrets.parse(federation.text()) == federation
    member = LookupSecrets((federation.versions[0],))
    merged = member.merged(federation)
    assert merged == federation
    assert merged.merged(federation) == federation


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "there is no look-up secret"),
        ("yrd-lookup-secret deadbeef", "line 1 is not"),
        ("other 00000000 AAAA", "line 1 is not"),
        ("yrd-lookup-secret 00000000 " + "A" * 43, "not of version 00000000"),
    ],
)
def test_a_bad_export_is_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        LookupSecrets.parse(text)


def test_a_short_or_repeated_secret_is_refused() -> None:
    with pytest.raises(InvalidInput, match="at least 32 bytes"):
        LookupSecrets((b"short",))
    secret = LookupSecrets.generate().versions[0]
    with pytest.raises(InvalidInput, match="listed twice"):
        LookupSecrets((secret, secret))


def test_the_data_directory_generates_once_and_keeps_it_owner_only(tmp_path: Path) -> None:
    data = DataDir(Settings(data_dir=tmp_path / "data"))
    first = data.lookup_secrets()
    assert DataDir(Settings(data_dir=tmp_path / "data")).lookup_secrets() == first
    path = tmp_path / "data" / "secrets" / "federation-lookup-secrets"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    rotated = first.rotated()
    data.replace_lookup_secrets(rotated)
    assert data.lookup_secrets() == rotated
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_settings_win_over_the_file(tmp_path: Path) -> None:
    federation = LookupSecrets.generate()
    settings = Settings(
        data_dir=tmp_path / "data", federation_lookup_secret=SecretStr(federation.text())
    )
    assert DataDir(settings).lookup_secrets() == federation
    assert not (tmp_path / "data" / "secrets" / "federation-lookup-secrets").exists()


def _registry(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "REGISTRY_DATA_DIR": str(data_dir),
        "REGISTRY_DATABASE_URL": f"sqlite:///{data_dir / 'registry.sqlite3'}",
        "REGISTRY_FEDERATION_LOOKUP_SECRET": None,
    }
    return run_command(["federation", "lookup-secret", *args], env)


def test_a_member_node_imports_the_federations_secrets_and_a_rotation(tmp_path: Path) -> None:
    genesis, member = tmp_path / "genesis", tmp_path / "member"
    shown = _registry(genesis, "show")
    assert shown.returncode == 0, shown.stderr
    carried = tmp_path / "carried"
    exported = _registry(genesis, "export", str(carried))
    assert exported.returncode == 0, exported.stderr
    assert stat.S_IMODE(os.stat(carried).st_mode) == 0o600
    secret_text = carried.read_text("utf-8")
    assert secret_text.split()[2] not in exported.stdout + shown.stdout  # never printed
    assert _registry(member, "import", str(carried)).returncode == 0
    genesis_secrets = DataDir(Settings(data_dir=genesis)).lookup_secrets()
    assert DataDir(Settings(data_dir=member)).lookup_secrets() == genesis_secrets
    # A rotation at the genesis node, carried again: the member keeps the old version.
    assert _registry(genesis, "rotate").returncode == 0
    again = tmp_path / "again"
    assert _registry(genesis, "export", str(again)).returncode == 0
    assert _registry(member, "import", str(again)).returncode == 0
    held = DataDir(Settings(data_dir=member)).lookup_secrets()
    assert held == DataDir(Settings(data_dir=genesis)).lookup_secrets()
    assert len(held.versions) == 2
    # An export never overwrites, and a bad file is refused in one line, changing nothing.
    refused = _registry(genesis, "export", str(again))
    assert refused.returncode == 1
    assert "exists" in refused.stderr
    garbage = tmp_path / "garbage"
    garbage.write_text("not a secret\n", "utf-8")
    bad = _registry(member, "import", str(garbage))
    assert bad.returncode == 1
    assert "line 1" in bad.stderr
    assert DataDir(Settings(data_dir=member)).lookup_secrets() == held
