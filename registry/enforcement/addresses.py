"""Where a webhook may be sent: public addresses only, unless the node allows a network.

A subscription names a URL; the registry POSTs to it from inside the node's network.
Left unchecked, a subscriber could have the node send requests to its own loopback
services, the private network behind it, or a cloud's metadata service. So every
address the URL's host resolves to must be a public one (``AddressPolicy.check``):
not loopback, private, link-local, unique-local, shared (CGNAT), multicast,
reserved, unspecified or a known metadata address, and not an IPv6 form that embeds
such an IPv4 address. A network the node's settings name
(``REGISTRY_WEBHOOK_ALLOWED_NETWORKS``) is allowed all the same.

The check is made when subscribing and again at every delivery, which connects to
the very address it checked (``registry.enforcement.webhooks.http_post``), so that
a name that resolves differently the second time (DNS rebinding) cannot switch it.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from registry.errors import FieldError, InvalidInput

__all__ = ["AddressPolicy", "Resolver", "resolve_host"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

Resolver = Callable[[str, int], Sequence[str]]
"""``(host, port) -> addresses``: what a name resolves to, as text."""

_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),  # AWS, GCP, Azure, Alibaba Cloud, OpenStack
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS over IPv6
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (RFC 6598)
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")  # IPv6's private networks (RFC 4193)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # an IPv4 address behind a NAT64 (RFC 6052)
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")  # an IPv4 address in 6to4 (RFC 3056)


def resolve_host(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6), as the system resolver says.
    Raises ``OSError`` when it resolves to none."""
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in found))


def _kind(address: IPAddress) -> str | None:
    """What makes ``address`` one a webhook may not go to, or ``None`` if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            inner = _kind(embedded)
            return f"{inner} (in an IPv6 address)" if inner else None
    if any(address in network for network in _METADATA):
        return "cloud metadata"
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("shared (CGNAT)", isinstance(address, ipaddress.IPv4Address) and address in _SHARED),
        ("unique-local", isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL),
        ("site-local", isinstance(address, ipaddress.IPv6Address) and address.is_site_local),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    )
    for name, holds in checks:
        if holds:
            return name
    if not address.is_global:
        return "reserved"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses webhooks may go to: public ones, and those in ``allowed``.

    ``resolve`` turns a host name into addresses (the system resolver unless given:
    tests give one that answers chosen addresses, and no connection is made).
    """

    allowed: tuple[IPNetwork, ...] = ()
    resolve: Resolver = field(default=resolve_host, compare=False)

    def refusal(self, address: str) -> str | None:
        """Why ``address`` is not one a webhook may go to, or ``None`` if it may."""
        parsed = ipaddress.ip_address(address.split("%", 1)[0])
        mapped = parsed.ipv4_mapped if isinstance(parsed, ipaddress.IPv6Address) else None
        if any(
            parsed in network or (mapped is not None and mapped in network)
            for network in self.allowed
        ):
            return None
        kind = _kind(parsed)
        return None if kind is None else f"{parsed}, a {kind} address"

    def check(self, host: str, port: int) -> list[str]:
        """The addresses ``host`` resolves to, each one allowed; raises ``InvalidInput``
        (on the field ``url``) naming the first that is not, or when it resolves to
        none."""
        try:
            addresses = [str(ipaddress.ip_address(host))]  # an address: nothing to look up
        except ValueError:
            addresses = []
        try:
            addresses = addresses or list(self.resolve(host, port))
        except (OSError, UnicodeError) as exc:
            raise InvalidInput(
                f"the URL's host {host} does not resolve",
                errors=(FieldError("url", f"{host} does not resolve to any address"),),
            ) from exc
        if not addresses:
            raise InvalidInput(
                f"the URL's host {host} does not resolve",
                errors=(FieldError("url", f"{host} does not resolve to any address"),),
            )
        for address in addresses:
            why = self.refusal(address)
            if why is not None:
                message = (
                    f"{host} resolves to {why}: webhooks go to public addresses only, "
                    "unless the node's settings allow that network"
                )
                raise InvalidInput(message, errors=(FieldError("url", message),))
        return addresses
