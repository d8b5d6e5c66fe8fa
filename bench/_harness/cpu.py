"""Where each core's time went while a load ran: the server, PostgreSQL, this client
and everything else, from Linux's ``/proc`` (elsewhere the figures are zero).

Take a ``snapshot()`` before and after the load; ``cpu_split`` subtracts them.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url

__all__ = ["Snapshot", "cpu_split", "postmaster", "snapshot"]

Snapshot = dict[int, tuple[str, int, int]]
"""Each process's name, parent and CPU ticks so far; the machine's busy ticks at pid 0."""

PARTS = ("server", "postgres", "client", "other")


def _busy() -> int:
    """CPU ticks the whole machine has spent busy so far (Linux; else 0)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:8]]
    except (OSError, ValueError):
        return 0
    return sum(fields) - fields[3] - fields[4]  # all but idle and iowait


def snapshot() -> Snapshot:
    """Every process's name, parent and CPU ticks so far (Linux; else nothing), and
    the machine's busy ticks under pid 0."""
    found = {0: ("machine", 0, _busy())}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        found[int(stat.parent.name)] = (name, int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def postmaster(url: str) -> int | None:
    """The process id of the local PostgreSQL server ``url`` names, if found."""
    port = make_url(url).port or 5432
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if words and words[0].endswith(b"postgres") and b"-p" in words:
            at = words.index(b"-p")
            if at + 1 < len(words) and words[at + 1] == str(port).encode():
                return int(cmdline.parent.name)
    return None


def _tree(processes: Snapshot, root: int | None) -> set[int]:
    """``root`` and its descendants."""
    if root is None:
        return set()
    tree = {root}
    grew = True
    while grew:
        children = {pid for pid, (_, parent, _) in processes.items() if parent in tree}
        grew = not children <= tree
        tree |= children
    return tree


def cpu_split(
    before: Snapshot, after: Snapshot, server: int, database: int | None
) -> tuple[dict[str, float], list[float]]:
    """CPU seconds each part used between two snapshots: the server (the process
    tree of pid ``server``), the PostgreSQL benchmarked (that of ``database``, its
    postmaster; every ``postgres`` process if ``None``), this client, and everything
    else on the machine (processes that came and went too); and each server
    process's own."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    served = _tree(after, server)
    postgres = _tree(after, database)
    split = dict.fromkeys(PARTS, 0.0)
    processes: list[float] = []
    for pid, (name, _, ticks) in sorted(after.items()):
        used = (ticks - before[pid][2] if pid in before else ticks) / tick
        if pid == 0:
            continue
        if pid in served:
            split["server"] += used
            processes.append(used)
        elif pid in postgres or (database is None and name == "postgres"):
            split["postgres"] += used
        elif pid == os.getpid():
            split["client"] += used
    busy = (after[0][2] - before[0][2]) / tick
    split["other"] = max(0.0, busy - split["server"] - split["postgres"] - split["client"])
    return split, processes
