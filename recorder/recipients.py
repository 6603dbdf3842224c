"""Which age recipients ingest seals to, and the embedded X25519 key pair.

This module is the ingest side of key configuration: it loads public recipients only and never
opens the identity file. Identities are loaded by `recorder.unsealing`, and only there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from django.conf import settings

from recorder.keys import (
    KmsRecipient,
    X25519Identity,
    X25519Recipient,
    read_recipients_file,
    write_identity_file,
    write_recipients_file,
)
from recorder.sealing import Recipient


class RecipientConfigError(Exception):
    """No recipient is configured, or the configuration cannot be read."""


def kms_client() -> Any:
    return boto3.client("kms", endpoint_url=settings.KMS_ENDPOINT_URL, region_name=settings.KMS_REGION)


def ingest_recipients() -> list[Recipient]:
    """The recipients every new recording is sealed to, from AGE_RECIPIENTS(_FILE) and KMS_KEY_ID."""
    recipients: list[Recipient] = []
    try:
        recipients.extend(X25519Recipient.from_string(text) for text in settings.AGE_RECIPIENTS)
        if settings.AGE_RECIPIENTS_FILE:
            recipients.extend(read_recipients_file(Path(settings.AGE_RECIPIENTS_FILE)))
    except (OSError, ValueError) as error:
        raise RecipientConfigError(f"cannot load the age recipients: {error}") from error
    if settings.KMS_KEY_ID:
        recipients.append(KmsRecipient(settings.KMS_KEY_ID, kms_client()))
    if not recipients:
        raise RecipientConfigError(
            "no recipient configured: set AGE_RECIPIENTS, AGE_RECIPIENTS_FILE or KMS_KEY_ID, "
            "or run `manage.py init_keys` for the embedded key pair"
        )
    return recipients


def describe(recipient: Recipient) -> str:
    """A label of a recipient for the recording's metadata (public information only)."""
    if isinstance(recipient, X25519Recipient):
        return f"X25519:{recipient}"
    if isinstance(recipient, KmsRecipient):
        return f"aws-kms:{recipient.key_id}"
    return type(recipient).__name__


def ensure_embedded_key_pair(key_dir: Path) -> tuple[Path, Path, bool]:
    """Create the embedded X25519 key pair once: identity (0600) and recipients file.

    Returns (identity path, recipients path, created).
    """
    identity_path = key_dir / "age-identity.txt"
    recipients_path = key_dir / "age-recipients.txt"
    if identity_path.exists() and recipients_path.exists():
        return identity_path, recipients_path, False
    if identity_path.exists() != recipients_path.exists():
        raise RecipientConfigError(f"{key_dir} holds only half a key pair; refusing to replace it")
    key_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    identity = X25519Identity.generate()
    write_identity_file(identity_path, identity)
    write_recipients_file(recipients_path, [identity.recipient()])
    return identity_path, recipients_path, True
