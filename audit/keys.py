"""The ledger's Ed25519 signing key: from `LEDGER_SIGNING_KEY` (base64 of the 32-byte seed), or
from the PEM file `LEDGER_SIGNING_KEY_FILE`, generated on first use (0600) only at the embedded
default path. A key file group or others can read or write is refused."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

EMBEDDED_KEY_NAME = "ledger-signing-key.pem"
_GROUP_OTHER_RW = stat.S_IRGRP | stat.S_IWGRP | stat.S_IROTH | stat.S_IWOTH


class SigningKeyError(ImproperlyConfigured):
    pass


def ledger_origin() -> str:
    """The checkpoints' origin line and key name: LEDGER_ORIGIN, else one derived from the key."""
    if settings.LEDGER_ORIGIN:
        return str(settings.LEDGER_ORIGIN)
    raw = public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"vault-ledger/{hashlib.sha256(raw).hexdigest()[:16]}"


def signing_key() -> Ed25519PrivateKey:
    seed = settings.LEDGER_SIGNING_KEY
    if seed:
        try:
            raw = base64.b64decode(seed, validate=True)
            return Ed25519PrivateKey.from_private_bytes(raw)
        except (binascii.Error, ValueError):
            raise SigningKeyError("LEDGER_SIGNING_KEY must be the base64 of a 32-byte Ed25519 seed") from None
    path = Path(settings.LEDGER_SIGNING_KEY_FILE)
    if not path.exists():
        if path != embedded_key_path():
            # A configured key that is missing is a mistake (an unmounted volume), not a first run:
            # a fresh key would sign heads no verifier holding the real public key accepts.
            raise SigningKeyError(f"ledger signing key file {path} does not exist")
        _generate(path)
    return _read(path)


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def embedded_key_path() -> Path:
    return Path(settings.EMBEDDED_KEY_DIR) / EMBEDDED_KEY_NAME


def _read(path: Path) -> Ed25519PrivateKey:
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode  # of the file actually read, not a racing one
            if mode & _GROUP_OTHER_RW:
                raise SigningKeyError(
                    f"ledger signing key {path} is accessible to group or others "
                    f"(mode {mode & 0o777:o}); chmod 600 it"
                )
            data = handle.read()
    except OSError as error:
        raise SigningKeyError(f"cannot read ledger signing key {path}: {error.strerror}") from error
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise SigningKeyError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path} does not hold an Ed25519 key")
    return key


def _generate(path: Path) -> None:
    """Write a new key to a private temporary file, then link it into place: processes racing on
    the first run all end up with the one key that won, never a half-written file."""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.parent.chmod(0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".ledger-key-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process was first: use its key
    finally:
        os.unlink(temporary)
