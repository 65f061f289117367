"""Webhook receivers: public addresses only unless allowed; every resolved address checked; the
connection goes to the checked address; a total deadline and a cap on the answer read."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from geo.alerts.delivery import DeadlineExceeded, DeliveryOptions, send
from geo.alerts.service import create_webhook
from geo.alerts.targets import check_target
from geo.errors import ValidationError

PUBLIC = "93.184.216.34"


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://127.0.0.1:8080/hook", id="loopback"),
        pytest.param("http://localhost/hook", id="localhost-name"),
        pytest.param("http://10.1.2.3/hook", id="private-10"),
        pytest.param("http://172.16.0.1/hook", id="private-172"),
        pytest.param("https://192.168.1.1/hook", id="private-192"),
        pytest.param("http://169.254.169.254/latest/meta-data", id="link-local-metadata"),
        pytest.param("http://100.64.0.1/hook", id="shared-cgnat"),
        pytest.param("http://0.0.0.0/hook", id="unspecified"),
        pytest.param("http://[::1]/hook", id="loopback-v6"),
        pytest.param("http://[fe80::1]/hook", id="link-local-v6"),
        pytest.param("http://[fd00::1]/hook", id="unique-local-v6"),
        pytest.param("http://[::ffff:127.0.0.1]/hook", id="v4-mapped-loopback"),
        pytest.param("http://224.0.0.1/hook", id="multicast"),
    ],
)
def test_non_public_receivers_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_target(url)
    assert info.value.field == "url" and "TIMPORA_WEBHOOK_ALLOW_PRIVATE" in info.value.message
    assert check_target(url, allow_private=True).url == url


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/x", "http:///nohost", "javascript:alert(1)", "http://u:p@example.org/"],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError):
        check_target(url, allow_private=True)


def _resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def fake(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        assert host == "receiver.example"
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[6 if ":" in a else 4], socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_every_resolved_address_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving_to(monkeypatch, PUBLIC, "10.0.0.7")
    with pytest.raises(ValidationError) as info:
        check_target("https://receiver.example/hook")
    assert "10.0.0.7" in info.value.message


def test_the_connection_goes_to_the_checked_address(monkeypatch: pytest.MonkeyPatch) -> None:
    _resolving_to(monkeypatch, PUBLIC, "2606:2800:220:1:248:1893:25c8:1946")
    target = check_target("https://receiver.example:8443/hook?x=1")
    assert target.connect_url == f"https://{PUBLIC}:8443/hook?x=1"
    assert target.host_header == "receiver.example:8443" and target.host == "receiver.example"


def test_registration_checks_the_url(session: Session) -> None:
    with pytest.raises(ValidationError):
        create_webhook(session=session, principal=None, url="http://127.0.0.1:9/x")
    hook, _ = create_webhook(session=session, principal=None, url=f"https://{PUBLIC}/x")
    assert hook["url"] == f"https://{PUBLIC}/x"


class _Slow(BaseHTTPRequestHandler):
    """``/drip``: the status line and then a header byte a second; ``/flood``: an endless body."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.hosts.append(self.headers.get("Host"))  # type: ignore[attr-defined]
        try:
            if self.path == "/drip":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for byte in b"X-Slow: yes\r\n":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(1.0)
            else:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
                chunk = b"x" * 65536
                for _ in range(100_000):  # ~6.5 GB if read to the end
                    self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def slow_receiver() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    server.hosts = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.hosts  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_a_dripping_receiver_meets_the_total_deadline(
    slow_receiver: tuple[str, list[str]],
) -> None:
    base, _ = slow_receiver
    # Every read arrives well within the 5 s read timeout; only the total deadline stops it.
    options = DeliveryOptions(timeout_s=5, deadline_s=1.5, allow_private=True)
    started = time.monotonic()
    with httpx.Client(timeout=options.timeout_s) as http, pytest.raises(DeadlineExceeded):
        send(http, f"{base}/drip", b"{}", {}, options)
    assert time.monotonic() - started < 2.5


def test_an_endless_answer_is_read_up_to_the_cap(slow_receiver: tuple[str, list[str]]) -> None:
    base, hosts = slow_receiver
    options = DeliveryOptions(timeout_s=5, deadline_s=20, allow_private=True)
    started = time.monotonic()
    with httpx.Client(timeout=options.timeout_s) as http:
        assert send(http, f"{base}/flood", b"{}", {}, options) == 200
    assert time.monotonic() - started < 5
    assert hosts == [base.removeprefix("http://")]


def test_delivery_rechecks_the_target(slow_receiver: tuple[str, list[str]]) -> None:
    base, hosts = slow_receiver
    with httpx.Client() as http, pytest.raises(ValidationError):
        send(http, f"{base}/flood", b"{}", {}, DeliveryOptions())
    assert hosts == []  # refused before any connection
