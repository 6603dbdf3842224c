"""The SIEM destinations set by environment, each a small implementation of `Destination`:
syslog (forwarding.syslog) and an HTTPS webhook (forwarding.webhook).

A destination's name is its URL without credentials, query or fragment. It labels the metric and
keys the cursor: pointing a variable at another SIEM starts that SIEM at the first entry.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from forwarding.syslog import SyslogDestination, tls_context
from forwarding.webhook import WebhookDestination

SYSLOG_SCHEMES = {"tcp": False, "tls": True}  # scheme: encrypted
SYSLOG_DEFAULT_PORTS = {"tcp": 514, "tls": 6514}  # RFC 6587 practice; RFC 5425 section 4.1


class ForwardingConfigError(ImproperlyConfigured):
    pass


class Destination(Protocol):
    name: str

    def send(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """Deliver the entries, in order, or raise forwarding.syslog.DeliveryFailed."""


def _syslog_name(url: str) -> tuple[str, str, int, bool]:
    parts = urlsplit(url.strip())
    if parts.scheme not in SYSLOG_SCHEMES or not parts.hostname:
        raise ForwardingConfigError(
            f"LEDGER_SYSLOG_URL must be tcp://host:port or tls://host:port, not {url!r}"
        )
    try:
        port = parts.port or SYSLOG_DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ForwardingConfigError(f"LEDGER_SYSLOG_URL has no valid port: {url!r}") from None
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{shown}:{port}", host, port, SYSLOG_SCHEMES[parts.scheme]


def _webhook_name(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise ForwardingConfigError("LEDGER_WEBHOOK_URL must be an https:// URL")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    port = f":{parts.port}" if parts.port else ""
    return f"https://{host}{port}{parts.path or '/'}"


def configured_names() -> list[str]:
    """The names of the configured destinations; needs no secret (the web process shows the lag)."""
    syslog = [_syslog_name(url)[0] for url in settings.LEDGER_SYSLOG_URL]
    return syslog + [_webhook_name(url) for url in settings.LEDGER_WEBHOOK_URL]


def configured() -> list[Destination]:
    """Every configured destination, ready to send; ForwardingConfigError for a bad setting."""
    names = configured_names()  # every URL is checked before a secret is read
    if len(set(names)) != len(names):
        raise ForwardingConfigError("A destination is configured twice.")
    timeout = float(settings.LEDGER_FORWARD_TIMEOUT_SECONDS)
    destinations: list[Destination] = []
    for url in settings.LEDGER_SYSLOG_URL:
        name, host, port, encrypted = _syslog_name(url)
        destinations.append(
            SyslogDestination(
                name=name,
                host=host,
                port=port,
                tls=tls_context(settings.LEDGER_SYSLOG_CA_FILE) if encrypted else None,
                hostname=settings.LEDGER_SYSLOG_HOSTNAME,
                sd_id=settings.LEDGER_SYSLOG_SD_ID,
                timeout=timeout,
            )
        )
    if settings.LEDGER_WEBHOOK_URL:
        secret = webhook_secret()
        for url in settings.LEDGER_WEBHOOK_URL:
            destinations.append(
                WebhookDestination(
                    name=_webhook_name(url),
                    url=url.strip(),
                    secret=secret,
                    ca_file=settings.LEDGER_WEBHOOK_CA_FILE or None,
                    timeout=timeout,
                )
            )
    return destinations


_GROUP_OTHER = stat.S_IRWXG | stat.S_IRWXO


def webhook_secret() -> bytes:
    """LEDGER_WEBHOOK_SECRET, or the first line of LEDGER_WEBHOOK_SECRET_FILE (0600 or stricter)."""
    if settings.LEDGER_WEBHOOK_SECRET:
        secret = settings.LEDGER_WEBHOOK_SECRET
    elif settings.LEDGER_WEBHOOK_SECRET_FILE:
        path = Path(settings.LEDGER_WEBHOOK_SECRET_FILE)
        try:
            with path.open("rb") as handle:
                if os.fstat(handle.fileno()).st_mode & _GROUP_OTHER:
                    raise ForwardingConfigError(f"{path} must be readable by its owner only (chmod 600)")
                secret = handle.read().decode().strip()
        except OSError as error:
            raise ForwardingConfigError(
                f"LEDGER_WEBHOOK_SECRET_FILE cannot be read: {error.strerror}"
            ) from None
    else:
        raise ForwardingConfigError(
            "LEDGER_WEBHOOK_URL needs LEDGER_WEBHOOK_SECRET or LEDGER_WEBHOOK_SECRET_FILE"
        )
    if len(secret) < 32:
        raise ForwardingConfigError("The webhook secret must be at least 32 characters.")
    return secret.encode()
