"""The browser the pages are tested and measured in: Debian's Chromium, headless,
driven by Playwright (whose own browser download is not used)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Playwright

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "launch_chromium"]

CHROMIUM = Path("/usr/bin/chromium")
"""Where Debian's ``chromium`` package puts it (``scripts/ensure-chromium``)."""

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def launch_chromium(playwright: Playwright) -> Browser:
    """Chromium, headless, as the tests and benchmarks run it; raises
    ``FileNotFoundError`` when it is not installed."""
    if not CHROMIUM.exists():
        raise FileNotFoundError(
            f"Chromium is missing at {CHROMIUM}: run `make test` or scripts/ensure-chromium"
        )
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_FLAGS))
