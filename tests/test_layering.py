"""The domain never imports the web: no registry module pulls in FastAPI or Starlette."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import registry


def test_registry_modules_do_not_import_the_web() -> None:
    modules = [m.name for m in pkgutil.walk_packages(registry.__path__, "registry.")]
    assert "registry.crypto.eddsa_jcs_2022" in modules
    # A fresh interpreter, so that nothing imported by other tests hides an import.
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "web = ('fastapi', 'starlette', 'api')\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in web)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
