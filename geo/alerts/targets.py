"""Where a webhook may post: public addresses only, unless an administrator allows private ones.

A webhook URL is a request the server makes on an administrator's word; pointed at loopback,
a private network or link-local addresses (the cloud metadata service at 169.254.169.254), it
would let the service probe or call what only it can reach. So the host is resolved and every
address it resolves to must be global (``ipaddress``'s ``is_global``, not multicast; an
IPv4-mapped IPv6 address is judged by its IPv4 address), unless ``TIMPORA_WEBHOOK_ALLOW_PRIVATE``
is set for an office whose receivers live on its own network. The check runs when a webhook is
registered and again before every delivery, which then connects to the address it checked (no
second lookup a DNS answer could change in between).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from geo.errors import ValidationError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``connect_url``) and what to call the host."""

    url: str
    host: str
    address: Address
    connect_url: str
    host_header: str


def _parse(url: str) -> SplitResult:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ValidationError(f"url must be an http(s) URL; got {url!r}", field="url", value=url)
    if parts.username or parts.password:
        raise ValidationError(
            "url must not carry a user name or password", field="url", value=url.split("@")[-1]
        )
    return parts


def is_public(address: Address) -> bool:
    """A global unicast address (not loopback, private, link-local, shared, reserved, ...)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int) -> list[Address]:
    """Every address ``host`` resolves to (a literal address is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationError(
            f"webhook host {host!r} does not resolve ({exc})", field="url", value=host
        ) from None
    found: list[Address] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if address not in found:
            found.append(address)
    return found


def check_target(url: str, *, allow_private: bool = False) -> Target:
    """The URL checked and pinned to one of its addresses; ValidationError naming what is wrong."""
    parts = _parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if not addresses:
        raise ValidationError(f"webhook host {host!r} has no address", field="url", value=host)
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise ValidationError(
                    f"webhook url {url!r} resolves to {address}, a loopback, private or "
                    "link-local address; an administrator may allow such receivers with "
                    "TIMPORA_WEBHOOK_ALLOW_PRIVATE",
                    field="url",
                    value=url,
                )
    address = addresses[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return Target(
        url=url,
        host=host,
        address=address,
        connect_url=parts._replace(netloc=netloc).geturl(),
        host_header=parts.netloc.rsplit("@", 1)[-1],
    )
