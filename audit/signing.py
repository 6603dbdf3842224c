"""What the ledger's Ed25519 signatures cover, byte for byte; `cryptography` and the standard
library only, because the offline verifier imports it.

A signed tree head signs these 58 bytes (modelled on RFC 9162 section 4.10's TreeHead, with a
context string in front so that no signature of the vault can be replayed as another kind):

    b"vault-ledger tree head v1\\n"     26 bytes, ASCII
    timestamp                          uint64, big-endian: milliseconds since 1970-01-01T00:00Z
    tree_size                          uint64, big-endian: entries seq 1..tree_size
    0x20 || root_hash                  the length byte (32), then MTH(D[tree_size]) (RFC 9162)

An export manifest signs b"vault-ledger export manifest v1\\n" followed by the manifest's
canonical JSON (keys sorted, no white space, UTF-8) without its "signature" member.
The key id is the lowercase hex SHA-256 of the raw 32-byte Ed25519 public key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

TREE_HEAD_CONTEXT = b"vault-ledger tree head v1\n"
MANIFEST_CONTEXT = b"vault-ledger export manifest v1\n"


def tree_head_message(*, timestamp_ms: int, tree_size: int, root_hash: bytes) -> bytes:
    if len(root_hash) != 32:
        raise ValueError("a root hash is 32 bytes")
    return TREE_HEAD_CONTEXT + struct.pack(">QQB", timestamp_ms, tree_size, 32) + root_hash


def manifest_message(manifest: Mapping[str, Any]) -> bytes:
    unsigned = {key: value for key, value in manifest.items() if key != "signature"}
    canonical = json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return MANIFEST_CONTEXT + canonical.encode()


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_key(key)).hexdigest()


def public_key_pem(key: Ed25519PublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """A PEM public key, or the JSON the vault serves at /api/v1/audit/public-key."""
    text = data.strip()
    if text.startswith(b"{"):
        text = json.loads(text)["public_key_pem"].encode()
    key = serialization.load_pem_public_key(text)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the public key is not an Ed25519 key")
    return key


def verify(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head as it travels (API, manifest): the signed fields and the signature."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes

    def message(self) -> bytes:
        return tree_head_message(
            timestamp_ms=self.timestamp_ms, tree_size=self.tree_size, root_hash=self.root_hash
        )

    def verify(self, key: Ed25519PublicKey) -> bool:
        return self.key_id == key_id(key) and verify(key, self.signature, self.message())

    def as_json(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": self.timestamp_ms,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TreeHead:
        """ValueError (or KeyError, TypeError) for anything but a well-formed head."""
        head = cls(
            tree_size=int(data["tree_size"]),
            root_hash=bytes.fromhex(data["root_hash"]),
            timestamp_ms=int(data["timestamp"]),
            key_id=str(data["key_id"]),
            signature=base64.b64decode(data["signature"], validate=True),
        )
        if head.tree_size < 0 or len(head.root_hash) != 32 or len(head.signature) != 64:
            raise ValueError("malformed tree head")
        return head


def sign_tree_head(
    key: Ed25519PrivateKey, *, tree_size: int, root_hash: bytes, timestamp_ms: int
) -> TreeHead:
    message = tree_head_message(timestamp_ms=timestamp_ms, tree_size=tree_size, root_hash=root_hash)
    return TreeHead(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp_ms=timestamp_ms,
        key_id=key_id(key.public_key()),
        signature=key.sign(message),
    )
