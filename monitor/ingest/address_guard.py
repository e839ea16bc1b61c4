"""Feeds that cannot reach inside: every address a feed URL leads to must be on the public internet.

The worker runs inside the organisation's network. A feed URL, typed by an analyst or reached through a
redirect, that leads to loopback, a private range, a link-local or cloud-metadata address would make the
worker fetch from inside that network and store what it finds (server-side request forgery). So:

- when a feed is added (CLI, dashboard, feeds.yaml sync) its host is resolved and checked here;
- when a feed is fetched, every connection, at every redirect hop, goes through `GuardedBackend`: it
  resolves the host once, checks every address the name resolves to, and connects to those checked
  addresses only, so a name that answers differently a moment later (DNS rebinding) changes nothing.
  TLS still verifies the certificate against the host name.

A name that resolves to any refused address is refused, even when it also has a public one: which address
a connection would use is not ours to choose safely.

`allow_private_feeds` (off by default) lets a lab or the test suite poll loopback and private servers.
Unspecified (0.0.0.0, ::), multicast and cloud-metadata addresses are refused even then: no feed lives there.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import urlsplit

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance-metadata services of cloud providers. Most are link-local (refused anyway); Azure's wire
# server and Alibaba's metadata address are not, and are refused by name here.
CLOUD_METADATA = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",   # AWS, GCP, Azure, OpenStack, DigitalOcean, Oracle
    "169.254.170.2",     # AWS ECS task metadata
    "fd00:ec2::254",     # AWS over IPv6
    "168.63.129.16",     # Azure wire server
    "100.100.100.200",   # Alibaba Cloud
    "192.0.0.192",       # Oracle Cloud (legacy)
))
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")
# Never a feed, even in a lab.
ALWAYS_REFUSED = ("unspecified", "multicast", "cloud-metadata")
SETTING_HINT = "set allow_private_feeds = true only for a lab or test set-up"


class AddressRefused(Exception):
    """A feed address the guard refuses; the message says which address, why, and what allows it."""

    kind = "address"


def address_category(ip: IPAddress) -> Optional[str]:
    """Why an address is not a public internet address (None when it is one)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:  # ::ffff:127.0.0.1 and friends reach the IPv4 address inside them
            return address_category(embedded)
        if ip.is_site_local:  # deprecated fec0::/10, still routed inside some networks
            return "private"
    if ip in CLOUD_METADATA:
        return "cloud-metadata"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_multicast:
        return "multicast"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    if not ip.is_global:  # shared (carrier-grade NAT), documentation and benchmarking ranges
        return "non-public"
    return None


def is_refused(category: Optional[str], allow_private: bool) -> bool:
    return category is not None and (not allow_private or category in ALWAYS_REFUSED)


Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for a host, in its order, without duplicates."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for info in infos:
        address = info[4][0].split("%", 1)[0]  # drop an IPv6 zone (fe80::1%eth0)
        if address not in seen:
            seen.append(address)
    return seen


@dataclass(frozen=True)
class AddressGuard:
    allow_private: bool = False
    resolver: Resolver = system_resolver

    def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for host:port, all checked; AddressRefused when any is refused."""
        host = host.strip("[]")
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses = [str(literal)]
        else:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
            if not addresses:
                raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        for address in addresses:
            category = address_category(ipaddress.ip_address(address))
            if is_refused(category, self.allow_private):
                article = "an" if category[0] in "aeiou" else "a"
                what = f"{host} is" if literal is not None else f"{host} resolves to {address},"
                message = f"{what} {article} {category} address: feeds may only reach public internet addresses"
                if category not in ALWAYS_REFUSED:
                    message += f" ({SETTING_HINT})"
                raise AddressRefused(message)
        return addresses

    def check_url(self, url: str) -> None:
        """Check a feed URL's host as the fetcher will (for adding a feed). A name that does not resolve
        now passes: it is checked again, and connected to only if allowed, at every fetch."""
        parts = urlsplit(url)
        if not parts.hostname:
            return
        try:
            port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        except ValueError:
            return  # the URL checks upstream say what is wrong with the port
        try:
            self.checked_addresses(parts.hostname, port)
        except httpcore.ConnectError:
            pass


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, connecting only to addresses the guard checked for this connection."""

    def __init__(self, guard: AddressGuard):
        self.guard = guard
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: Optional[float] = None,
                    local_address: Optional[str] = None,
                    socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                    ) -> httpcore.NetworkStream:
        last_error: Optional[Exception] = None
        for address in self.guard.checked_addresses(host, port):
            try:
                return self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                               socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def connect_unix_socket(self, path: str, timeout: Optional[float] = None,
                            socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
                            ) -> httpcore.NetworkStream:
        raise AddressRefused("feeds are never read from local sockets")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
