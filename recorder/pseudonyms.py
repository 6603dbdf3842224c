"""Keyed hashes of identifiers and content fingerprints (HMAC-SHA256 with VAULT_HASH_KEY).

A keyed hash lets the service find a customer's tombstone or recognise a re-upload without
keeping the raw value, and without offering an oracle to anyone who lacks the key.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def _key(purpose: str) -> bytes:
    return hmac.new(settings.VAULT_HASH_KEY.encode(), purpose.encode(), hashlib.sha256).digest()


def pseudonym(value: str, *, purpose: str) -> str:
    """Keyed hash of an identifier, e.g. `pseudonym(ref, purpose="customer_ref")`."""
    return hmac.new(_key(purpose), value.encode(), hashlib.sha256).hexdigest()


def content_fingerprint(sha256_digest: bytes) -> str:
    """Keyed fingerprint of a recording's plaintext SHA-256: recognises the same bytes again."""
    return hmac.new(_key("recording-content"), sha256_digest, hashlib.sha256).hexdigest()


def customer_hash(customer_ref: str) -> str:
    """The keyed hash sessions keep of their customer reference, also after purge."""
    return pseudonym(customer_ref.strip(), purpose="customer_ref")
