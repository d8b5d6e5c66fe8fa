"""The log audit on PostgreSQL: how long ``registry log audit`` takes on large logs, and
how much memory it holds while it runs.

Run: ``.venv/bin/python bench/audit.py [--engineers 20000]`` (or ``make bench-audit``).
It starts a throwaway PostgreSQL cluster (or uses ``REGISTRY_BENCH_DATABASE_URL``, where
the loaded engineers are kept as ``bench/verify.py`` keeps them, in the same data
directory), seeds the demo federation, loads ``--engineers`` synthetic engineers as
``bench/verify.py`` does (10 credentials each: a qualification, a registration, 8 CE
credits; ``--engineers 100000`` is a million credentials, about 250,000 per log), then
runs the real command, ``registry log audit CN-xx``, on each of the four logs, one
after the other, and prints for each its entries, the wall-clock time (process start
included), the entries audited per second and the command's peak resident memory
(``VmHWM``, read while it runs).

No target is set: the figures say how long an audit of a log of that size takes on
this machine, and that its memory stays flat as the log grows.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._database import bench_database
from bench._harness.machine import machine, reference
from bench._verify_data import data_directory, prepare
from devtools import REGISTRY
from registry.demo.synthetic import AUTHORITIES

_HELD = re.compile(r"holds: (\d+) entries")


def _high_water(pid: int) -> int:
    """The process's peak resident memory so far, in KiB (``VmHWM``; 0 once it is gone).

    Not ``wait4``'s ``ru_maxrss``: that counts the pages the child shared with this
    process between fork and exec, and this process holds the loaded engineers."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) if found else 0


def audit(code: str, env: dict[str, str]) -> tuple[str, float, int]:
    """Run ``registry log audit code``: its first output line, seconds, peak RSS (KiB)."""
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [str(REGISTRY), "log", "audit", code],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        peak = 0
        while process.poll() is None:
            peak = max(peak, _high_water(process.pid))
            time.sleep(0.05)
        took = time.perf_counter() - began
        output.seek(0)
        text = output.read()
    if process.returncode != 0:
        raise SystemExit(f"registry log audit {code} failed:\n{text}")
    return text.strip().splitlines()[0], took, peak


def run(url: str, *, engineers: int, batch: int, data_dir: Path | None) -> None:
    kept = bool(os.environ.get("REGISTRY_BENCH_DATABASE_URL"))
    directory, remove = data_directory(url, data_dir, kept=kept)
    try:
        measure(url, directory, engineers=engineers, batch=batch)
    finally:
        if remove:
            shutil.rmtree(directory, ignore_errors=True)


def measure(url: str, directory: Path, *, engineers: int, batch: int) -> None:
    settings, _, loaded = prepare(url, directory, engineers, batch=batch)
    if loaded is not None:
        people, took = loaded
        print(f"loaded {people} engineers, {10 * people} credentials, in {took:.0f} s")
    env = {
        **os.environ,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_DATABASE_URL": url,
    }
    total_entries, total_seconds = 0, 0.0
    print(f"{'log':<6} {'entries':>9} {'seconds':>8} {'entries/s':>10} {'peak RSS':>10}")
    for code in AUTHORITIES:
        line, took, peak = audit(code, env)
        found = _HELD.search(line)
        entries = int(found.group(1)) if found else 0
        total_entries += entries
        total_seconds += took
        print(
            f"{code:<6} {entries:>9} {took:>8.1f} {entries / took:>10.0f} {peak / 1024:>7.0f} MiB",
            flush=True,
        )
    print(
        f"{'all':<6} {total_entries:>9} {total_seconds:>8.1f} "
        f"{total_entries / total_seconds:>10.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engineers", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=5000, help="records per issuing batch")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="keys and secrets of the loaded node"
    )
    args = parser.parse_args()
    if not 0 < args.engineers <= 9_000_000:
        parser.error("--engineers is between 1 and 9,000,000")
    print(machine())
    with bench_database() as url:
        reference(url)
        run(url, engineers=args.engineers, batch=args.batch, data_dir=args.data_dir)


if __name__ == "__main__":
    main()
