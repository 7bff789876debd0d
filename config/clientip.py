"""The address a request came from, for rate limits, login lockouts and the access log.

REMOTE_ADDR is the peer that opened the connection. Behind a reverse proxy that is the proxy, and
the client's address is in X-Forwarded-For, which each proxy appends to. Anyone can send that
header, so it is read only when REMOTE_ADDR is one of TRUSTED_PROXIES, and then from the right:
the right-most address that is not itself a trusted proxy is the one a proxy of ours saw; every
address left of it was written by the client and could be anything.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=8)
def _networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _parse(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen by a dual-stack proxy arrives as ::ffff:a.b.c.d: count it as itself.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: tuple[Network, ...]) -> bool:
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as text; None when the connection has none (a unix socket)."""
    remote = _parse(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        return None
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not networks or not _trusted(remote, networks):
        return str(remote)
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            # Our proxies write valid addresses; garbage here came from the client, so the
            # nearest address we can vouch for is the last trusted hop.
            break
        if not _trusted(address, networks):
            return str(address)
        remote = address
    return str(remote)
