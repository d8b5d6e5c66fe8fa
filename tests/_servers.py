"""Real `registry serve --demo` processes for end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.ports import free_port
from tests._support import LOOPBACK_NETWORKS, REGISTRY

__all__ = ["Server", "Servers"]


@dataclass
class Server:
    base: str
    log: Path
    pid: int

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Servers:
    """Starts real `registry serve --demo` processes and stops them all at the end."""

    def __init__(self, tmp_path: Path) -> None:
        self._tmp_path = tmp_path
        self._processes: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        database_url: str,
        data_dir: Path,
        *,
        workers: int = 1,
        settings: dict[str, str] | None = None,
        ready_within: float = 180.0,
        port: int | None = None,
    ) -> Server:
        """Start a server (on ``port``, or a free one) and wait for it to answer
        (``ready_within`` seconds at most); ``settings`` are more ``REGISTRY_*``
        variables for it."""
        port = port or free_port()
        env = {
            **os.environ,
            "REGISTRY_WEBHOOK_ALLOWED_NETWORKS": LOOPBACK_NETWORKS,
            **(settings or {}),
            "REGISTRY_DATA_DIR": str(data_dir),
            "REGISTRY_DATABASE_URL": database_url,
            "REGISTRY_NODE_URL": f"http://127.0.0.1:{port}",
        }
        log_path = self._tmp_path / f"server-{port}.log"
        command = [str(REGISTRY), "serve", "--demo", "--host", "127.0.0.1", "--port", str(port)]
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [*command, "--workers", str(workers)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = Server(base=f"http://127.0.0.1:{port}", log=log_path, pid=process.pid)
        self._processes.append(process)
        deadline = time.monotonic() + ready_within
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"server exited with {process.returncode}:\n{server.output}")
            try:
                if httpx.get(f"{server.base}/healthz", timeout=1).status_code == 200:
                    return server
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail(f"no answer at /healthz within {ready_within:g} s:\n{server.output}")

    def stop(self, server: Server) -> None:
        """Stop one server as an operator would (SIGTERM), and wait for it to exit."""
        [process] = [p for p in self._processes if p.pid == server.pid]
        _stop(process)

    def kill(self, server: Server) -> None:
        """Kill one server at once (SIGKILL: no handler runs, nothing is flushed), and
        reap it."""
        [process] = [p for p in self._processes if p.pid == server.pid]
        process.kill()
        process.wait()

    def stop_all(self) -> None:
        for process in self._processes:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
