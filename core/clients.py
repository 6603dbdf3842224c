"""The client's address, as the ledger and sign-in throttling see it (throttling by an IPv6 /64).

Behind `TRUSTED_PROXY_COUNT` proxies of our own (a TLS load balancer: 1), the socket's address
(REMOTE_ADDR) is the last proxy's. Each proxy appends the address it was called from to
X-Forwarded-For, so the client is the entry that many places from the right; entries further
left are whatever the client chose to send. Without trusted proxies, or when the header is
shorter than the count or not an address, the socket's address is the client's.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings


def client_address(request: Any) -> str:
    peer = str(request.META.get("REMOTE_ADDR", ""))
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if count <= 0:
        return peer
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < count:
        return peer
    try:
        return str(ipaddress.ip_address(forwarded[-count]))
    except ValueError:
        return peer


def throttled_address(request: Any) -> str:
    """The address sign-in throttling counts (AXES_CLIENT_IP_CALLABLE): the client's, except that
    an IPv6 client is counted by its /64, shown as the network's first address. One subscriber or
    one server is given a whole /64, and could otherwise try each guess from a new address.
    An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address."""
    address = client_address(request)
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False).network_address)
    return address
