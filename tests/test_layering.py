"""The layers keep their order: the domain never imports the web, a package imports
only the layers below it, and only the command line starts a web server."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import registry

ROOT = Path(registry.__file__).resolve().parent.parent

LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(layer.split())
    for layer in (
        "errors messages",
        "calendar settings text labels node_log",
        "ids crypto spreadsheets",
        "credentials datadir policies",
        "storage",
        "authorities",
        "tlog tokens",
        "trust accounts",
        "issuing",
        "recognition bulk",
        "ce federation",
        "enforcement",
        "verification",
        "demo administration backup",
        "cli",
    )
)
"""``registry``'s packages and top modules, lowest first. A unit may import its own
modules and those of any lower layer; units of one layer do not import each other."""

_RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def _unit(path: Path, root: Path = ROOT) -> str:
    return path.relative_to(root / "registry").with_suffix("").parts[0]


def _imports(path: Path, root: Path = ROOT) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports, with its line: at the top, in functions, or only
    for type checking; relative imports resolved, ``from registry import x`` as
    ``registry.x``."""
    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            if module.count(".") >= 1:
                yield node.lineno, module
            else:  # a top package: what it names are its modules
                yield from ((node.lineno, f"{module}.{alias.name}") for alias in node.names)


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def upward_imports(paths: list[Path], *, root: Path = ROOT) -> list[str]:
    """Each import in ``paths`` (under ``root/registry``) that climbs a layer or
    crosses within one."""
    found = []
    for path in paths:
        unit = _unit(path, root)
        if unit == "__init__":
            continue
        for line, module in _imports(path, root):
            parts = module.split(".")
            if parts[0] != "registry" or len(parts) < 2 or parts[1] == unit:
                continue
            if _RANK[parts[1]] >= _RANK[unit]:
                found.append(f"{path.relative_to(root)}:{line} imports {module}")
    return found


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in _sources("registry")} - {"__init__"}
    assert units == set(_RANK), "add the new package or module to LAYERS"


def test_no_import_climbs_a_layer() -> None:
    assert upward_imports(_sources("registry")) == []


@pytest.mark.parametrize(
    ("unit", "source", "named"),
    [
        (
            "storage",
            "from registry.authorities import database_keys\n",
            "1 imports registry.authorities",
        ),
        (
            "tlog",
            "from registry.trust.store import current_version\n",
            "1 imports registry.trust.store",
        ),
        (
            "enforcement",
            "def f() -> None:\n    from registry.verification import service\n",
            "2 imports registry.verification",
        ),
        ("ids", "import registry.crypto.keys\n", "1 imports registry.crypto.keys"),
        ("tlog", "from registry import trust\n", "1 imports registry.trust"),
        ("storage", "from .. import tlog\n", "1 imports registry.tlog"),
        (
            "enforcement",
            "from ..verification.service import prove\n",
            "1 imports registry.verification.service",
        ),
        (
            "trust",
            "from registry.issuing.signing import sign_and_log\n",
            "1 imports registry.issuing.signing",
        ),
    ],
)
def test_an_upward_import_fails(tmp_path: Path, unit: str, source: str, named: str) -> None:
    # The check itself, on a module placed in the unit: it must name the import.
    probe = tmp_path / "registry" / unit / "_probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(source, encoding="utf-8")
    assert upward_imports([probe], root=tmp_path) == [f"registry/{unit}/_probe.py:{named}"]


def test_only_the_command_line_starts_a_web_server() -> None:
    servers = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ("registry", "api", "web")
        for path in _sources(package)
        if not path.is_relative_to(ROOT / "registry" / "cli")
        for line, module in _imports(path)
        if module.split(".")[0] in ("uvicorn", "hypercorn", "gunicorn")
    ]
    assert servers == []


def test_only_the_examples_use_the_demo_in_the_api() -> None:
    # In registry/ the layers already keep demo below cli only.
    users = {
        str(path.relative_to(ROOT))
        for path in _sources("api")
        for _, module in _imports(path)
        if module == "registry.demo" or module.startswith("registry.demo.")
    }
    assert users == {"api/examples.py"}


def test_the_benchmarks_and_their_tools_do_not_import_the_tests() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for package in ("bench", "devtools")
        for path in _sources(package)
        for line, module in _imports(path)
        if module.split(".")[0] == "tests"
    ]
    assert found == []


def test_the_api_never_imports_the_command_line() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _sources("api")
        for line, module in _imports(path)
        if module == "registry.cli" or module.startswith("registry.cli.")
    ]
    assert found == []


def test_registry_modules_do_not_import_the_web() -> None:
    modules = [m.name for m in pkgutil.walk_packages(registry.__path__, "registry.")]
    assert "registry.crypto.eddsa_jcs_2022" in modules
    # A fresh interpreter, so that nothing imported by other tests hides an import.
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "web = ('fastapi', 'starlette', 'api', 'web')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in web)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
