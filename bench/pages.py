"""The web pages on the demo data: each page's server time, the certificate page's checks
in the browser, each page's weight, and an import of 10,000 rows through the console.

Run: ``.venv/bin/python bench/pages.py [--requests 200] [--loads 20] [--only import]``
(or ``make bench-pages [ONLY=import]``). It seeds the demo as ``make run`` does, on the
embedded SQLite database in a temporary directory, and serves it with ``registry serve``
(one process) on a loopback port. Then:

- **server time**: ``--requests`` GETs of each page one after another, over a kept-alive
  connection on loopback, the pages for employers signed in as the demo's employer (a
  report kept at the desk, and its PDF, among them): p50 and p99 of the round trip,
  which bounds the server's time from above;
- **checks in the browser**: the certificate page (``/c/<id>``, a QR code's address)
  loaded ``--loads`` times in headless Chromium, a fresh context each (nothing
  cached); the page script times its own checks, fetches included (``data-ms``);
- **weight**: each page loaded once in a fresh Chromium context, the bytes of every
  response on the wire (headers and body, compressed where the server compresses).
  The API explorer (``/docs/explorer``, Swagger UI, a tool to try the API rather than a
  page to read) is weighed too, without a target.

- **import** (``--only import`` runs this alone): a 10,000-row XLSX of CE credits
  imported through the authority's console as its official, over HTTP as a browser
  sends it (session cookie, form token): the upload (answered at once), the check's
  progress polled every 0.1 s until the confirmation page, the confirmation, the
  issuing's progress polled likewise until done, the receipt's page and its XLSX; each
  phase timed, and the distinct progress values seen in the check and in the issuing.

Printed first: the machine's reference figures of the same run. Targets: server time
p99 at most 50 ms a page, the checks at most 500 ms, no page over 300 KB before caching,
the import done end to end in at most 15 s with its progress seen moving throughout
(while checked and while issued).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Request, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # bench, when run as a script

from bench._harness.machine import machine, reference
from bench._harness.server import serving
from bench._harness.stats import Latency, Row, at_most, percentile, print_table
from bench._import_page import IMPORT_ROWS, IMPORT_S, import_through_pages, spreadsheet
from devtools.browser import launch_chromium
from registry.datadir import DataDir
from registry.demo.records import DEMO_ENGINEERS
from registry.demo.startup import seed_node
from registry.settings import Settings
from registry.storage.db import engine_scope, upgrade

SERVER_P99_MS = 50.0
CHECKS_MS = 500.0
WEIGHT_KB = 300.0
PUBLIC = ["/", "/sign-in", "/lookup", "/blacklist", "/docs"]
EMPLOYER = ["/desk", "/desk/verify", "/desk/verify-list", "/desk/history"]
OFFICIAL = [
    "/console/import",
    "/console/imports",
    "/console/records",
    "/console/issue",
    "/console/issue/qualification",
    "/console/listings",
    "/console/trust",
    "/console/federation",
]
INSPECTOR = ["/inspect/search", "/inspect/check-list", "/inspect/following", "/inspect/changes"]
ADMINISTRATOR = ["/admin/users", "/admin/tokens", "/admin/audit", "/admin/health"]
SIGNED_IN = {"/desk": "verifier", "/console": "issuer:CN-SH", "/inspect": "enforcement"}
SIGNED_IN |= {"/admin": "admin"}
EXPLORER = "/docs/explorer"


def _name(path: str) -> str:
    """A page as the figures name it: ids replaced."""
    path = re.sub(r"^https?://[^/]+", "", path).split("#")[0]
    path = re.sub(r"^/c/.*", "/c/<id>", path)
    return re.sub(r"^/desk/reports/\d+", "/desk/reports/<id>", path)


def _certificate(base: str, tokens: dict[str, str]) -> str:
    """The page a demo registration's QR code opens: its address, fragment included."""
    holder = next(e for e in DEMO_ENGINEERS if e.registered_by == "CN-SH")
    report = httpx.post(
        f"{base}/v1/verify/engineer",
        json={"id_number": holder.id_number, "region": "CN-SH"},
        headers={"Authorization": f"Bearer {tokens['verifier']}"},
        timeout=30,
    ).json()
    credential = report["credentialSubject"]["registration"]["id"]
    return str(httpx.get(f"{base}/v1/credentials/{credential}/qr").headers["x-qr-text"])


def _signed_in(base: str, user: dict[str, str]) -> httpx.Client:
    """A client signed in through the sign-in form, as a browser is."""
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
    if token is None:
        raise RuntimeError("the sign-in page carries no form token")
    answer = client.post(
        "/sign-in",
        data={"username": user["username"], "password": user["password"], "csrf_token": token[1]},
    )
    if answer.status_code != 303:
        raise RuntimeError(f"{user['username']} could not sign in: {answer.status_code}")
    return client


def _report(client: httpx.Client) -> str:
    """A report kept at the employer's desk (a demo engineer verified through the form):
    its page's path."""
    form = client.get("/desk/verify").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
    if token is None:
        raise RuntimeError("the desk's form carries no form token")
    holder = next(e for e in DEMO_ENGINEERS if e.registered_by == "CN-SH")
    answer = client.post(
        "/desk/verify",
        data={
            "csrf_token": token[1],
            "way": "id",
            "id_number": holder.id_number,
            "region": "CN-SH",
        },
    )
    if answer.status_code != 303:
        raise RuntimeError(f"the desk did not verify the demo engineer: {answer.status_code}")
    return answer.headers["location"]


def _server_times(client: httpx.Client, path: str, requests: int) -> Latency | None:
    """p50 and p99 (ms) of ``requests`` GETs of ``path``; ``None`` if it is not a page."""
    if client.get(path).status_code != 200:
        return None
    timings = []
    for _ in range(requests):
        began = time.perf_counter()
        client.get(path).raise_for_status()
        timings.append((time.perf_counter() - began) * 1000)
    return Latency.of(timings)


def _role_of(path: str) -> str | None:
    """The demo role whose account opens ``path``; ``None`` for a public page."""
    return next((role for prefix, role in SIGNED_IN.items() if path.startswith(prefix)), None)


def _weights_and_checks(
    base: str,
    pages: list[str],
    cookies: dict[str, list[dict[str, str]]],
    certificate: str,
    loads: int,
) -> tuple[dict[str, float], list[float]]:
    """Each page's kilobytes on the wire, and the certificate page's check times (ms)."""
    weights: dict[str, float] = {}
    checks: list[float] = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for path in pages:
            context = browser.new_context(base_url=base)
            role = _role_of(path)
            if role is not None:
                context.add_cookies([{**c, "url": base} for c in cookies[role]])  # type: ignore[typeddict-item]
            page = context.new_page()
            seen: list[Request] = []

            def finished(request: Request, seen: list[Request] = seen) -> None:
                seen.append(request)

            page.on("requestfinished", finished)
            page.goto(path, wait_until="networkidle")
            if path.startswith("/c/"):
                page.wait_for_selector("#check[data-done]")
            sizes = [request.sizes() for request in seen]
            weights[path] = sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)
            weights[path] /= 1024
            context.close()
        for _ in range(loads):
            context = browser.new_context(base_url=base)
            page = context.new_page()
            page.goto(certificate)
            page.wait_for_selector("#check[data-done]", timeout=30_000)
            if page.get_attribute("#check", "data-done") != "valid":
                raise RuntimeError("the certificate page found the demo credential invalid")
            checks.append(float(page.get_attribute("#check", "data-ms") or "nan"))
            context.close()
        browser.close()
    return weights, checks


def _import(base: str, official: dict[str, str]) -> list[Row]:
    """The import through the console's pages: its phases and its rows of the table."""
    body = spreadsheet(IMPORT_ROWS)
    print(
        f"import: a {IMPORT_ROWS:,}-row XLSX of CE credits ({len(body) / 1024:.0f} KB)", flush=True
    )
    run = import_through_pages(_signed_in(base, official), body)
    issuing = [done for phase, done in run.progress if phase == "issuing"]
    checking = [done for _, done in run.check_progress]
    print(
        f"import {IMPORT_ROWS:,} rows through the pages: "
        f"upload {run.upload:.2f} s, check {run.check:.1f} s, "
        f"confirm to done {run.confirm_to_done:.1f} s, receipt {run.receipt:.2f} s "
        f"(its page {run.receipt_page:.2f} s); "
        f"total {run.total:.1f} s   {at_most(run.total, IMPORT_S, unit=' s')}",
        flush=True,
    )
    print(
        f"check's progress seen: {len(run.check_progress)} distinct values "
        f"({', '.join(str(d) for d in checking)}); "
        f"{len([d for d in checking if 0 < d < IMPORT_ROWS])} between none and all checked",
        flush=True,
    )
    print(
        f"issuing's progress seen: {len(run.progress)} distinct values "
        f"({', '.join(f'{p} {d}' for p, d in run.progress)}); "
        f"{len([d for d in issuing if 0 < d < IMPORT_ROWS])} between none and all issued",
        flush=True,
    )
    return [
        (f"import of {IMPORT_ROWS:,} rows through the pages", f"{run.total:.1f} s", "<= 15 s"),
        ("import: check's progress values seen", str(len(run.check_progress)), "several"),
        ("import: issuing's progress values seen", str(len(run.progress)), "several"),
    ]


def _pages(
    server_base: str, args: argparse.Namespace, tokens: dict[str, str], users: Any
) -> list[Row]:
    """Each page's server time and weight, and the certificate page's checks."""
    certificate = _certificate(server_base, tokens)
    page_of_certificate = certificate.split("#")[0].removeprefix(server_base)
    public = httpx.Client(base_url=server_base, timeout=30)
    clients = {role: _signed_in(server_base, users[role]) for role in set(SIGNED_IN.values())}
    report = _report(clients["verifier"])
    desks = [*EMPLOYER, report, report + "/report.pdf", *OFFICIAL, *INSPECTOR, *ADMINISTRATOR]
    rows: list[Row] = []
    missed = []
    for path in [*PUBLIC, page_of_certificate, *desks]:
        role = _role_of(path)
        client = public if role is None else clients[role]
        found = _server_times(client, path, args.requests)
        name = _name(path)
        if found is None:
            missed.append(name)
            continue
        print(
            f"server time {name:20} p50 {found.p50:6.1f} ms  p99 {found.p99:6.1f} ms   "
            f"{at_most(found.p99, SERVER_P99_MS, what='p99 ', unit=' ms')}",
            flush=True,
        )
        rows.append((f"server time {name} (p99)", f"{found.p99:.1f} ms", "<= 50 ms"))
    if missed:
        print(f"not served here (no such page yet): {', '.join(missed)}", flush=True)
    asked = [*PUBLIC, page_of_certificate, *EMPLOYER, report, *OFFICIAL, *INSPECTOR]
    asked += [*ADMINISTRATOR, EXPLORER]
    served = [p for p in asked if _name(p) not in missed]
    cookies = {
        role: [{"name": c.name, "value": c.value or ""} for c in client.cookies.jar]
        for role, client in clients.items()
    }
    pages = [certificate if p.startswith("/c/") else p for p in served]
    weights, checks = _weights_and_checks(server_base, pages, cookies, certificate, args.loads)
    for path, kilobytes in weights.items():
        name = _name(path)
        if path == EXPLORER:  # an optional tool to try the API, not a page to read
            print(f"weight {name:20} {kilobytes:7.1f} KB   (no target)", flush=True)
            rows.append((f"weight {name}", f"{kilobytes:.1f} KB", "none"))
            continue
        print(
            f"weight {name:20} {kilobytes:7.1f} KB   {at_most(kilobytes, WEIGHT_KB, unit=' KB')}",
            flush=True,
        )
        rows.append((f"weight {name}", f"{kilobytes:.1f} KB", "<= 300 KB"))
    worst = percentile(checks, 100)
    print(
        f"checks in the browser ({len(checks)} loads of /c/<id>): p50 "
        f"{percentile(checks, 50):.0f} ms, slowest {worst:.0f} ms   "
        f"{at_most(worst, CHECKS_MS, what='slowest ', unit=' ms')}",
        flush=True,
    )
    rows.append(("certificate checks in Chromium (slowest)", f"{worst:.0f} ms", "<= 500 ms"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="GETs a page.")
    parser.add_argument("--loads", type=int, default=20, help="Certificate page loads.")
    parser.add_argument(
        "--only", choices=("all", "import"), default="all", help="Measure one figure only."
    )
    args = parser.parse_args()
    print(machine(), flush=True)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        settings = Settings(
            data_dir=root / "data", database_url=f"sqlite:///{root / 'registry.sqlite3'}", demo=True
        )
        data_dir = DataDir(settings)
        data_dir.ensure()
        reference(settings.database_url)
        with engine_scope(settings.database_url) as engine:
            upgrade(engine)
            seed_node(settings, engine, data_dir)
        tokens = json.loads(data_dir.read_private("demo-tokens.json") or "{}")
        users = json.loads(data_dir.read_private("demo-users.json") or "{}")
        with serving(settings, root / "server.log") as server:
            if args.only == "import":
                print_table("Pages on the demo data", _import(server.base, users["issuer:CN-SH"]))
                return
            rows = _pages(server.base, args, tokens, users)
            # Last: the 10,000 credentials it issues are not among the pages' data above.
            rows.extend(_import(server.base, users["issuer:CN-SH"]))
    print_table("Pages on the demo data", rows)


if __name__ == "__main__":
    main()
