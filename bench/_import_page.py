"""The console's import through its pages, end to end: a 10,000-row XLSX of CE credits
uploaded, its check's progress polled as the page's script polls it, confirmed, its
issuing's progress polled likewise, and its receipt downloaded, over HTTP as a browser
sends it (session cookie, form token), each phase timed."""

from __future__ import annotations

import io
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from openpyxl import Workbook

from registry.bulk import template_rows
from registry.calendar import china_today
from registry.credentials import CredentialType
from registry.demo import credit_code
from registry.demo.synthetic import engineer

__all__ = ["IMPORT_ROWS", "IMPORT_S", "ImportRun", "import_through_pages", "spreadsheet"]

IMPORT_ROWS = 10_000
IMPORT_S = 15.0
_POLL_S = 0.1  # faster than the page's script (0.7 s): to see every value it could show
_PROVIDER = credit_code("12310000MB0P10008")


@dataclass(frozen=True)
class ImportRun:
    """One import's phases (seconds: the upload's until answered, the check's until its
    confirmation page, the issuing's from the confirmation until done, the receipt's
    page and its XLSX, the page's alone beside it) and the progress values the poller
    saw while the file was checked and while it was issued."""

    upload: float
    check: float
    confirm_to_done: float
    receipt: float
    receipt_page: float
    check_progress: list[tuple[str, int]]
    progress: list[tuple[str, int]]

    @property
    def total(self) -> float:
        """From the upload's POST to the receipt downloaded."""
        return self.upload + self.check + self.confirm_to_done + self.receipt


def spreadsheet(rows: int) -> bytes:
    """An XLSX of ``rows`` CE credits as an office fills the template in: synthetic
    engineers, one course each, completed over the last 300 days."""
    today = china_today()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("数据")
    sheet.append(template_rows(CredentialType.CE_CREDIT))
    for n in range(rows):
        person = engineer(n)
        sheet.append(
            [
                person.name,
                person.id_number,
                f"安全生产继续教育第{n // 50 + 1}期",
                "上海市安全生产科学研究所",
                _PROVIDER,
                "4",
                "专业" if n % 3 else "公需",
                (today - timedelta(days=n % 300 + 1)).isoformat(),
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page)
    if found is None:
        raise RuntimeError("the page carries no form token")
    return found[1]


def import_through_pages(client: httpx.Client, body: bytes) -> ImportRun:
    """Import ``body`` as the official ``client`` is signed in as; raises
    ``RuntimeError`` if any step is not answered as a browser expects."""
    token = _token(client.get("/console/import").text)
    began = time.perf_counter()
    answer = client.post(
        "/console/import",
        data={"csrf_token": token, "type": "continuing-education"},
        files={"file": ("学时.xlsx", body, "application/octet-stream")},
        timeout=120,
    )
    if answer.status_code != 303:
        raise RuntimeError(f"the upload was answered {answer.status_code}: {answer.text[:2000]}")
    staged = answer.headers["location"]
    client.get(staged)  # the check's progress page, as the browser follows the redirect
    uploaded = time.perf_counter()
    checking, status = _watch(client, staged, "checking")
    if status["state"] != "checked":
        raise RuntimeError(f"the check ended {status['state']}: {client.get(staged).text[:2000]}")
    confirmation = client.get(staged)
    checked = time.perf_counter()
    answer = client.post(f"{staged}/confirm", data={"csrf_token": _token(confirmation.text)})
    if answer.status_code != 303:
        raise RuntimeError(f"the confirmation was answered {answer.status_code}")
    client.get(staged)  # the progress page, as the browser follows the redirect
    seen, status = _watch(client, staged, "running")
    if status["state"] != "done":
        raise RuntimeError(f"the import ended {status['state']}: {client.get(staged).text[:2000]}")
    done = time.perf_counter()
    receipt = client.get(staged).headers["location"]  # the progress page opens the receipt
    client.get(receipt).raise_for_status()
    shown = time.perf_counter()
    downloaded = client.get(f"{receipt}/receipt.xlsx")
    downloaded.raise_for_status()
    end = time.perf_counter()
    return ImportRun(
        uploaded - began,
        checked - uploaded,
        done - checked,
        end - done,
        shown - done,
        checking,
        seen,
    )


def _watch(
    client: httpx.Client, staged: str, state: str
) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """Poll the import's status while it is in ``state``: the distinct (phase, done)
    values seen then, and the status that ended it."""
    seen: list[tuple[str, int]] = []
    while True:
        status: dict[str, Any] = client.get(f"{staged}/status").json()
        value = (str(status["phase"]), int(status["done"]))
        if status["state"] == state and (not seen or seen[-1] != value):
            seen.append(value)
        if status["state"] != state:
            return seen, status
        time.sleep(_POLL_S)
