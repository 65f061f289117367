"""What the browser tests share: Debian's Chromium, headless and offline, and a record of what a
page asked for and what went wrong in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@dataclass
class Watched:
    """URLs a page requested and the errors it met (console errors, uncaught exceptions and,
    with ``http_errors``, responses of 400 and above)."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def foreign(self, live_server: str) -> list[str]:
        """Requests that left the server under test."""
        origin = urlsplit(live_server).netloc
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme in {"http", "https", "ws", "wss"} and urlsplit(u).netloc != origin
        ]


def open_page(
    browser: Any, *, console: bool = True, http_errors: bool = False
) -> tuple[Any, Watched]:
    """A 1400×900 page of ``browser`` with its requests and errors recorded."""
    watched = Watched()
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.on("request", lambda r: watched.requests.append(r.url))
    page.on("pageerror", lambda e: watched.errors.append(str(e)))
    if console:
        page.on("console", lambda m: watched.errors.append(m.text) if m.type == "error" else None)
    if http_errors:
        page.on(
            "response",
            lambda r: watched.errors.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
    return page, watched
