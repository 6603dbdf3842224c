"""age recipients and identities: X25519 (c2sp.org/age "X25519" stanza) and AWS KMS (an "aws-kms"
stanza: the file key encrypted by KMS, bound to the recording id), and key files in age-keygen's format.
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

from recorder.age_header import FILE_KEY_SIZE, TAG_SIZE, Stanza, TamperedError, b64decode, b64encode, hkdf

X25519_INFO = b"age-encryption.org/v1/X25519"
RECIPIENT_HRP = "age"
IDENTITY_HRP = "age-secret-key-"
ZERO_NONCE = bytes(12)  # spec: the wrap key is used once, so the nonce is fixed at zero
KMS_CONTEXT_KEY = "recording_id"


def _bech32_encode(hrp: str, data: bytes) -> str:
    return str(bech32.bech32_encode(hrp, bech32.convertbits(data, 8, 5) or []))


def _bech32_decode(text: str, hrp: str, what: str) -> bytes:
    """32 key bytes from Bech32 (BIP 173; all upper or all lower case, as the spec allows).

    Error messages never repeat the text: it may be a secret key.
    """
    found_hrp, words = bech32.bech32_decode(text.strip())
    if found_hrp is None or words is None:
        raise ValueError(f"not a valid {what}: bad Bech32 encoding or checksum")
    if found_hrp != hrp:
        raise ValueError(f"not a valid {what}: it starts with {found_hrp.upper()!r}")
    data = bech32.convertbits(words, 5, 8, False)
    if data is None or len(data) != 32:
        raise ValueError(f"not a valid {what}: it does not hold a 32-byte key")
    return bytes(data)


def _raw_public(key: X25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _wrap_key(shared_secret: bytes, share: bytes, recipient: bytes) -> ChaCha20Poly1305:
    """Spec "X25519 recipient stanza": HKDF(shared secret, salt = share || recipient, info)."""
    return ChaCha20Poly1305(hkdf(shared_secret, share + recipient, X25519_INFO))


class X25519Recipient:
    """A public key `age1...`: anyone holding it can seal, nobody holding only it can open."""

    stanza_type = "X25519"

    def __init__(self, public_key: X25519PublicKey) -> None:
        self.public_key = public_key
        self.public_bytes = _raw_public(public_key)

    @classmethod
    def from_string(cls, text: str) -> X25519Recipient:
        what = "age X25519 recipient (age1...)"
        public_key = X25519PublicKey.from_public_bytes(_bech32_decode(text, RECIPIENT_HRP, what))
        try:  # a low-order point would make every wrap fail; say so when the key is configured
            X25519PrivateKey.generate().exchange(public_key)
        except ValueError:
            raise ValueError(f"not a valid {what}: a low-order point") from None
        return cls(public_key)

    def __str__(self) -> str:
        return _bech32_encode(RECIPIENT_HRP, self.public_bytes)

    def __repr__(self) -> str:
        return f"X25519Recipient({self})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other.public_bytes == self.public_bytes

    def __hash__(self) -> int:
        return hash(self.public_bytes)

    def wrap(self, file_key: bytes, *, recording_id: str) -> Stanza:
        # A fresh ephemeral secret per stanza and file (spec MUST).
        ephemeral = X25519PrivateKey.generate()
        share = _raw_public(ephemeral.public_key())
        aead = _wrap_key(ephemeral.exchange(self.public_key), share, self.public_bytes)
        body = aead.encrypt(ZERO_NONCE, file_key, None)
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
            return None  # spec: identities MUST ignore stanzas of other types
        share = self._checked_share(stanza)
        try:
            shared_secret = self.private_key.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:  # an all-zero shared secret: spec says abort
            raise TamperedError("the X25519 share is a low-order point") from None
        aead = _wrap_key(shared_secret, share, self._recipient.public_bytes)
        try:
            return aead.decrypt(ZERO_NONCE, stanza.body, None)
        except InvalidTag:
            return None  # sealed to another X25519 recipient

    @staticmethod
    def _checked_share(stanza: Stanza) -> bytes:
        """Spec: reject unless one more argument, a canonical 32-byte base64 share, and a body of
        exactly 32 bytes, checked before decrypting (against partitioning oracle attacks)."""
        if len(stanza.args) != 1 or len(stanza.body) != FILE_KEY_SIZE + TAG_SIZE:
            raise TamperedError("malformed X25519 stanza")
        share = b64decode(stanza.args[0].encode())
        if len(share) != 32:
            raise TamperedError("malformed X25519 stanza")
        return share


class KmsRecipient:
    """Wraps the file key with KMS Encrypt, bound to the recording id (ingest needs kms:Encrypt)."""

    stanza_type = "aws-kms"

    def __init__(self, key_id: str, client: Any) -> None:
        if not key_id or not all("\x21" <= ch <= "\x7e" for ch in key_id):
            raise ValueError("a KMS key id must be printable ASCII without spaces (a header argument)")
        self.key_id, self.client = key_id, client

    def __repr__(self) -> str:
        return f"KmsRecipient({self.key_id!r})"

    def wrap(self, file_key: bytes, *, recording_id: str) -> Stanza:
        answer = self.client.encrypt(
            KeyId=self.key_id, Plaintext=file_key, EncryptionContext={KMS_CONTEXT_KEY: recording_id}
        )
        return Stanza(self.stanza_type, (self.key_id,), bytes(answer["CiphertextBlob"]))


class KmsIdentity:
    """Unwraps aws-kms stanzas with KMS Decrypt (playback needs kms:Decrypt)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def unwrap(self, stanza: Stanza, *, recording_id: str) -> bytes | None:
        if stanza.type != KmsRecipient.stanza_type:
            return None
        if len(stanza.args) != 1 or not stanza.body:
            raise TamperedError("malformed aws-kms stanza")
        try:
            answer = self.client.decrypt(
                CiphertextBlob=stanza.body, EncryptionContext={KMS_CONTEXT_KEY: recording_id}
            )
        except ClientError as error:
            # KMS answers InvalidCiphertextException both for altered blobs and for a blob bound
            # to another recording id (the encryption context is authenticated data).
            if error.response.get("Error", {}).get("Code") == "InvalidCiphertextException":
                raise TamperedError("the aws-kms stanza does not belong to this recording") from None
            raise
        return bytes(answer["Plaintext"])


# --- key files -----------------------------------------------------------------------------------


class KeyFileError(Exception):
    """A key file is missing, malformed or accessible to others."""


_GROUP_OTHER_RW = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


def write_identity_file(path: Path, identity: X25519Identity) -> None:
    """Write an identity in age-keygen's format, mode 0600, never replacing an existing file."""
    _make_private_dir(path.parent)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # RFC 3339, as age-keygen writes
    text = f"# created: {created}\n# public key: {identity.recipient()}\n{identity}\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exact, whatever the umask
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _make_private_dir(directory: Path) -> None:
    """Create missing directories 0700; an existing directory is the operator's and left as is."""
    if directory.is_dir():
        return
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)


def read_identity_file(path: Path) -> list[X25519Identity]:
    """Identities from an age identity file; refused unless only its owner can read or write it."""
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode  # of the file actually read, not a racing one
            if mode & _GROUP_OTHER_RW:
                raise KeyFileError(
                    f"identity file {path} is accessible to group or others (mode {mode & 0o777:o}); "
                    "chmod 600 it"
                )
            text = handle.read().decode("utf-8", errors="replace")
    except OSError as error:
        raise KeyFileError(f"cannot read identity file {path}: {error.strerror}") from error
    identities = []
    for number, line in _key_lines(text):
        try:
            identities.append(X25519Identity.from_string(line))
        except ValueError as error:
            raise KeyFileError(f"{path} line {number}: {error}") from None
    if not identities:
        raise KeyFileError(f"identity file {path} holds no identity")
    return identities


def read_recipients_file(path: Path) -> list[X25519Recipient]:
    """Recipients, one `age1...` a line; OSError if unreadable, ValueError naming a bad line."""
    recipients = []
    for number, line in _key_lines(path.read_text()):
        try:
            recipients.append(X25519Recipient.from_string(line))
        except ValueError as error:
            raise ValueError(f"{path} line {number}: {error}") from None
    return recipients


def write_recipients_file(path: Path, recipients: Sequence[X25519Recipient]) -> None:
    """Public keys only, yet 0600 like every file of the data folder: which keys a vault seals to
    is its operator's business, and a copy for another machine is made by its owner."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text("".join(f"{recipient}\n" for recipient in recipients))
    path.chmod(0o600)


def _key_lines(text: str) -> list[tuple[int, str]]:
    """(line number, content) of the lines holding keys: comments and blank lines skipped."""
    lines = ((number, line.strip()) for number, line in enumerate(text.splitlines(), start=1))
    return [(number, line) for number, line in lines if line and not line.startswith("#")]
