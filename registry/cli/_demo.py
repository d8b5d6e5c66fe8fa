"""``registry demo federation``: four real nodes on this machine, one per authority."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from registry.cli._common import console, err_console
from registry.demo.network import FEDERATION_FILE, run_federation, stop_nodes

__all__ = ["demo_app"]

demo_app = typer.Typer(help="Demonstrations on this machine.", no_args_is_help=True)


@demo_app.command("federation")
def federation(
    base_port: Annotated[
        int, typer.Option(min=1, max=65532, help="Shanghai's port; the others follow it.")
    ] = 8001,
    data_dir: Annotated[
        Path, typer.Option(help="A data directory per node is made under it.")
    ] = Path("./federation"),
    follow_interval: Annotated[
        float, typer.Option(min=0.5, help="Seconds between polls of each peer.")
    ] = 2.0,
) -> None:
    """Start four nodes (Shanghai, Jiangsu, Zhejiang, Anhui) on BASE-PORT..BASE-PORT+3,
    each holding only its own keys; build the genesis trust list from proposal files
    each node signs; seed each authority's demo records on its own node; wait until
    every node has mirrored every other; print the URLs and tokens (also written to
    DATA-DIR/federation.json) and serve until interrupted. Run again with the same
    directory, it starts the same nodes."""
    stopping = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    nodes, description = run_federation(
        base_port,
        data_dir,
        say=console.print,
        follow_interval=follow_interval,
    )
    try:
        for node in description["nodes"]:
            console.print(f"[bold]{node['authority']}[/bold]  {node['url']}")
            for role, token in node["tokens"].items():
                console.print(f"  {role:<14} {token}")
        console.print(f"(also in {data_dir / FEDERATION_FILE})")
        console.print(f"Genesis trust list digest (pin it): {description['genesis']}")
        console.print(
            "Every node answers for every member: e.g. "
            f"curl {nodes[0].url}/v1/federation/status -H 'Authorization: Bearer "
            "<admin token of CN-SH>'"
        )
        console.print("Stop with Ctrl-C.")
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, on_signal)
        while not stopping.wait(1.0):
            for node in nodes:
                if node.process is not None and node.process.poll() is not None:
                    err_console.print(f"the node of {node.code} stopped: see its log")
                    stopping.set()
    finally:
        stop_nodes(nodes)
