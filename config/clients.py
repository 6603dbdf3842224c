"""The client's address, as the ledger and sign-in throttling see it.

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
