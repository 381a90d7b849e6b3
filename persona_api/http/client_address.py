"""The client address a request is rate-limited by: the socket peer, or what a trusted proxy says.

With ``PERSONA_TRUSTED_PROXY_HEADER`` set (``X-Forwarded-For``, ``X-Real-IP``, ``Forwarded``...),
the address is the entry ``PERSONA_TRUSTED_PROXY_HOPS`` from the right of that header's list: each
proxy appends the address it received the request from, so the rightmost entry was written by the
proxy next to this service and everything left of the trusted hops came from the client, who can
write anything there. A header that is missing or unreadable falls back to the peer address.

IPv6 addresses count by their /64 network: one host is usually handed a whole /64.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from litestar import Request


def normalize(host: str) -> str | None:
    """``host`` as an address to count by (IPv6 as its /64), or None if it is not an IP address."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    return str(address)


def hop_host(entry: str) -> str:
    """The host of one list entry: ``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:80``, or an RFC 7239
    element such as ``for="[2001:db8::1]:4711";proto=https``."""
    entry = entry.strip()
    if "=" in entry:
        pairs = (part.strip().partition("=") for part in entry.split(";"))
        entry = next((value for name, _, value in pairs if name.lower() == "for"), "")
    entry = entry.strip().strip('"')
    if entry.startswith("["):
        return entry[1 : entry.find("]")]
    if entry.count(":") == 1:  # IPv4 with a port; IPv6 has more colons
        return entry.partition(":")[0]
    return entry


@dataclass(frozen=True)
class ClientAddress:
    """Reads a request's client address; ``header`` None: the socket peer."""

    header: str | None = None
    hops: int = 1

    def __call__(self, request: Request[Any, Any, Any]) -> str:
        if self.header:
            entries = [e for line in request.headers.getall(self.header, []) for e in line.split(",")]
            entries = [e for e in entries if e.strip()]
            if entries:
                found = normalize(hop_host(entries[-min(self.hops, len(entries))]))
                if found is not None:
                    return found
        peer = request.client.host if request.client else "unknown"
        return normalize(peer) or peer
