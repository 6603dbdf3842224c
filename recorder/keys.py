"""age recipients and identities: X25519 (age-encryption.org/v1 "X25519" stanza) and AWS KMS
(an "aws-kms" stanza: the file key encrypted by KMS with the recording id as encryption context),
and the key files in age-keygen's format.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bech32
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from recorder.sealing import FILE_KEY_SIZE, Stanza, TamperedError, b64decode, b64encode, hkdf

X25519_INFO = b"age-encryption.org/v1/X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "age-secret-key-"
ZERO_NONCE = bytes(12)


def _bech32_encode(hrp: str, data: bytes) -> str:
    words = bech32.convertbits(data, 8, 5)
    encoded = bech32.bech32_encode(hrp, words) if words is not None else None
    if encoded is None:
        raise ValueError("cannot encode key")
    return str(encoded)


def _bech32_decode(text: str, hrp: str, what: str) -> bytes:
    found_hrp, words = bech32.bech32_decode(text.strip())
    if found_hrp != hrp or words is None:
        raise ValueError(f"not a valid {what}")
    data = bech32.convertbits(words, 5, 8, False)
    if data is None or len(data) != 32:
        raise ValueError(f"not a valid {what}")
    return bytes(data)


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


class X25519Recipient:
    """A public key `age1...`: anyone holding it can seal, nobody holding only it can open."""

    stanza_type = "X25519"

    def __init__(self, public_key: X25519PublicKey) -> None:
        self.public_key = public_key
        self.public_bytes = _raw_public(public_key)

    @classmethod
    def from_string(cls, text: str) -> X25519Recipient:
        raw = _bech32_decode(text, RECIPIENT_HRP, "age X25519 recipient (age1...)")
        return cls(X25519PublicKey.from_public_bytes(raw))

    def __str__(self) -> str:
        return _bech32_encode(RECIPIENT_HRP, self.public_bytes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other.public_bytes == self.public_bytes

    def __hash__(self) -> int:
        return hash(self.public_bytes)

    def wrap(self, file_key: bytes, *, recording_id: str) -> Stanza:
        ephemeral = X25519PrivateKey.generate()
        share = _raw_public(ephemeral.public_key())
        shared_secret = ephemeral.exchange(self.public_key)
        wrap_key = hkdf(shared_secret, share + self.public_bytes, X25519_INFO)
        body = ChaCha20Poly1305(wrap_key).encrypt(ZERO_NONCE, file_key, None)
        return Stanza(self.stanza_type, (b64encode(share).decode(),), body)


class X25519Identity:
    """A private key `AGE-SECRET-KEY-1...`: configuration of the playback path only."""

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self.private_key = private_key
        self._recipient = X25519Recipient(private_key.public_key())

    @classmethod
    def generate(cls) -> X25519Identity:
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_string(cls, text: str) -> X25519Identity:
        raw = _bech32_decode(text, IDENTITY_HRP, "age identity (AGE-SECRET-KEY-1...)")
        return cls(X25519PrivateKey.from_private_bytes(raw))

    def __str__(self) -> str:
        raw = self.private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return _bech32_encode(IDENTITY_HRP, raw).upper()

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={self._recipient})"  # never the secret

    def recipient(self) -> X25519Recipient:
        return self._recipient

    def unwrap(self, stanza: Stanza, *, recording_id: str) -> bytes | None:
        if stanza.type != X25519Recipient.stanza_type:
            return None
        if len(stanza.args) != 1 or len(stanza.body) != FILE_KEY_SIZE + 16:
            raise TamperedError("malformed X25519 stanza")
        share = b64decode(stanza.args[0].encode())
        if len(share) != 32:
            raise TamperedError("malformed X25519 stanza")
        shared_secret = self.private_key.exchange(X25519PublicKey.from_public_bytes(share))
        if shared_secret == bytes(32):
            raise TamperedError("X25519 share is a low-order point")
        wrap_key = hkdf(shared_secret, share + self._recipient.public_bytes, X25519_INFO)
        try:
            return ChaCha20Poly1305(wrap_key).decrypt(ZERO_NONCE, stanza.body, None)
        except InvalidTag:
            return None  # sealed to another X25519 recipient


class KmsRecipient:
    """Wraps the file key with KMS Encrypt, bound to the recording id (ingest needs kms:Encrypt)."""

    stanza_type = "aws-kms"

    def __init__(self, key_id: str, client: Any) -> None:
        self.key_id, self.client = key_id, client

    def wrap(self, file_key: bytes, *, recording_id: str) -> Stanza:
        answer = self.client.encrypt(
            KeyId=self.key_id, Plaintext=file_key, EncryptionContext={"recording_id": recording_id}
        )
        return Stanza(self.stanza_type, (self.key_id,), bytes(answer["CiphertextBlob"]))


class KmsIdentity:
    """Unwraps aws-kms stanzas with KMS Decrypt (playback needs kms:Decrypt)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def unwrap(self, stanza: Stanza, *, recording_id: str) -> bytes | None:
        if stanza.type != KmsRecipient.stanza_type:
            return None
        try:
            answer = self.client.decrypt(
                CiphertextBlob=stanza.body, EncryptionContext={"recording_id": recording_id}
            )
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in {"InvalidCiphertextException", "IncorrectKeyException"}:
                raise TamperedError("the aws-kms stanza does not belong to this recording") from None
            raise
        file_key = bytes(answer["Plaintext"])
        if len(file_key) != FILE_KEY_SIZE:
            raise TamperedError("the aws-kms stanza holds no age file key")
        return file_key


# --- key files -----------------------------------------------------------------------------------


class KeyFileError(Exception):
    """A key file is missing, malformed or too widely readable."""


def write_identity_file(path: Path, identity: X25519Identity) -> None:
    """Write an identity in age-keygen's format, created 0600 (never replacing an existing file)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = (
        f"# created: {datetime.now(UTC).replace(microsecond=0).isoformat()}\n"
        f"# public key: {identity.recipient()}\n"
        f"{identity}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def read_identity_file(path: Path) -> list[X25519Identity]:
    """Identities from an age identity file; refused unless only its owner can read or write it."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as error:
        raise KeyFileError(f"identity file {path} does not exist") from error
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"identity file {path} is accessible to others (mode {mode & 0o777:o}); chmod 600 it"
        )
    identities = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(X25519Identity.from_string(line))
        except ValueError as error:
            raise KeyFileError(f"{path} line {number}: {error}") from None
    if not identities:
        raise KeyFileError(f"identity file {path} holds no identity")
    return identities


def read_recipients_file(path: Path) -> list[X25519Recipient]:
    recipients = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                recipients.append(X25519Recipient.from_string(line))
            except ValueError as error:
                raise ValueError(f"{path} line {number}: {error}") from None
    return recipients


def write_recipients_file(path: Path, recipients: Sequence[X25519Recipient]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{r}\n" for r in recipients))
    path.chmod(0o644)
