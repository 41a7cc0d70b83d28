"""SSRF guard for webhook targets: customers choose the URL, so it must not reach our own network.

A target is vetted by resolving its host and refusing any address that is not globally routable
(private, loopback, link-local incl. cloud metadata 169.254.169.254, multicast, reserved,
unspecified, CGNAT 100.64/10, IPv6 ULA, and IPv4 embedded in IPv6). Hosts on the allow-list skip
the address checks and may use plain http; that is how an operator admits an internal receiver.

DNS rebinding: the vetted addresses are returned so the caller connects to exactly the address
that was checked (webhook.py pins it); a caller that resolves again must re-vet right before the
request and accepts the short window between the two lookups.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}
# Not caught by is_global/is_private on every Python version, so named explicitly.
BLOCKED_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8",  # "this network"
    "100.64.0.0/10",  # carrier-grade NAT (RFC 6598), e.g. Alibaba Cloud metadata 100.100.100.200
    "192.0.0.0/24",  # IETF protocol assignments
    "198.18.0.0/15",  # benchmarking
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, incl. broadcast
    "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
    "fc00::/7",  # unique local addresses
    "fe80::/10",  # link-local
    "fec0::/10",  # deprecated site-local
    "ff00::/8",  # multicast
))


class UnsafeTarget(Exception):
    """The webhook URL must not be called; reason says why."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class UnresolvableTarget(UnsafeTarget):
    """The host did not resolve: unsafe to call now, but possibly a passing DNS failure."""


@dataclass(frozen=True)
class VettedTarget:
    """A webhook URL that passed the guard, with the addresses that were checked."""

    url: str
    scheme: str
    host: str  # lower-case host name or IP literal, without brackets
    port: int
    addresses: tuple[str, ...]  # vetted IP addresses in resolver order; connect to one of these
    allow_listed: bool


def normalise_host(host: str) -> str:
    """Return a host name in the form allow-list entries are compared in."""
    return host.strip().strip("[]").rstrip(".").lower()


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    if ip in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str) -> str | None:
    """Return why an IP address must not be called, or None when it is publicly routable."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            problem = address_problem(str(embedded))
            if problem:
                return f"{ip} embeds {embedded}: {problem}"
    checks = (("loopback", ip.is_loopback), ("link-local", ip.is_link_local), ("multicast", ip.is_multicast),
              ("unspecified", ip.is_unspecified), ("reserved", ip.is_reserved), ("private", ip.is_private))
    for name, hit in checks:
        if hit:
            return f"{ip} is a non-public address ({name})"
    for network in BLOCKED_NETWORKS:
        if ip.version == network.version and ip in network:
            return f"{ip} is in the non-public range {network}"
    if not ip.is_global:
        return f"{ip} is not a globally routable address"
    return None


def _resolve(host: str, port: int) -> tuple[str, ...]:
    """Resolve host to its IP addresses, in resolver order, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableTarget(f"host {host!r} does not resolve: {exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(sockaddr[0])
    if not addresses:
        raise UnresolvableTarget(f"host {host!r} resolved to no address")
    return tuple(addresses)


def vet_webhook_target(url: str, allowed_hosts: Iterable[str]) -> VettedTarget:
    """Check a webhook URL and resolve it; return the vetted addresses or raise UnsafeTarget."""
    if not isinstance(url, str) or not url.strip():
        raise UnsafeTarget("the webhook URL is empty")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeTarget(f"the webhook URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise UnsafeTarget("the webhook URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"the webhook URL is malformed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise UnsafeTarget(f"scheme {parts.scheme!r} is not allowed: use https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeTarget("the webhook URL must not carry credentials (user:password@)")
    if not parts.hostname:
        raise UnsafeTarget("the webhook URL has no host")
    host = normalise_host(parts.hostname)
    port = port or DEFAULT_PORTS[scheme]
    allow_listed = host in {normalise_host(h) for h in allowed_hosts}
    if scheme != "https" and not allow_listed:
        raise UnsafeTarget(f"plain http is not allowed for {host}: use https")
    addresses = _resolve(host, port)
    if not allow_listed:
        for address in addresses:
            problem = address_problem(address)
            if problem:
                raise UnsafeTarget(f"{host} resolves to a non-public address ({problem})")
    return VettedTarget(url=url, scheme=scheme, host=host, port=port, addresses=addresses,
                        allow_listed=allow_listed)


def check_webhook_target(url: str, allowed_hosts: set[str]) -> None:
    """Raise UnsafeTarget unless the URL is https (or allow-listed) and resolves to public addresses only."""
    vet_webhook_target(url, allowed_hosts)
