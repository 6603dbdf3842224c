"""Ledger entries as JSON lines POSTed to an HTTPS endpoint, each request signed with HMAC-SHA256.

The body is one entry a line, each the entry's canonical JSON (audit.canonical: the bytes its leaf
hash covers, as the export carries them). `X-Vault-Signature-256: sha256=<hex>` is
HMAC-SHA256(LEDGER_WEBHOOK_SECRET, body) (RFC 2104), the convention GitHub's webhooks made
common, so a receiver checks it with a library it already has. Any 2xx answer acknowledges the
whole batch; anything else, including a redirect, is a failure and the batch is sent again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from typing import Any

import requests

from audit.canonical import canonical_bytes
from forwarding.syslog import DeliveryFailed

SIGNATURE_HEADER = "X-Vault-Signature-256"
CONTENT_TYPE = "application/jsonl"


def body(entries: Sequence[Mapping[str, Any]]) -> bytes:
    return b"".join(canonical_bytes(fields) + b"\n" for fields in entries)


def signature(secret: bytes, payload: bytes) -> str:
    return "sha256=" + hmac.new(secret, payload, hashlib.sha256).hexdigest()


class WebhookDestination:
    def __init__(self, *, name: str, url: str, secret: bytes, ca_file: str | None, timeout: float) -> None:
        self.name = name
        self.url, self.secret, self.timeout = url, secret, timeout
        # requests checks the certificate and host name; a CA file replaces the system's store.
        self.verify: str | bool = ca_file or True
        self.session = requests.Session()

    def send(self, entries: Sequence[Mapping[str, Any]]) -> None:
        payload = body(entries)
        headers = {"Content-Type": CONTENT_TYPE, SIGNATURE_HEADER: signature(self.secret, payload)}
        try:
            response = self.session.post(
                self.url,
                data=payload,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
                allow_redirects=False,
            )
        except requests.RequestException as error:
            # The exception's text names the URL, which may be configured with a path the reader
            # of the dashboard need not see: the class is enough to act on.
            raise DeliveryFailed(f"{type(error).__name__}: the request did not complete") from error
        if not 200 <= response.status_code < 300:
            raise DeliveryFailed(f"the receiver answered HTTP {response.status_code}")
