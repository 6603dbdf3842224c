"""Checkpoints (C2SP tlog-checkpoint, https://c2sp.org/tlog-checkpoint) signed as notes (C2SP
signed-note, https://c2sp.org/signed-note) with the ledger's Ed25519 key, both ways; the standard
library and `cryptography` only, because the offline verifier imports it.

A checkpoint is the note text

    <origin>\\n<tree size, decimal>\\n<root hash, base64>\\n

and a signed note is that text, an empty line, and one line per signature:
"\u2014 <key name> <base64(key hash (4 bytes) || Ed25519 signature of the text)>". The key hash is
the first four bytes of SHA-256(key name || 0x0A || 0x01 || raw public key); 0x01 is Ed25519.
The ledger signs with the origin as its key name, as transparency-log clients expect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM_ED25519 = b"\x01"
EM_DASH = "\u2014"
MAX_SIGNATURES = 100  # as golang.org/x/mod/sumdb/note: more is a malformed note
_NAME = re.compile(r"[^\s+]+")  # a key name: no white space, no "+"


class MalformedNote(ValueError):
    pass


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, key: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALGORITHM_ED25519 + _raw(key)).digest()[:4]


def verifier_key(name: str, key: Ed25519PublicKey) -> str:
    """The verifier key string clients configure: <name>+<hex key hash>+<base64(0x01 || key)>."""
    encoded = base64.b64encode(ALGORITHM_ED25519 + _raw(key)).decode()
    return f"{name}+{key_hash(name, key).hex()}+{encoded}"


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a key name: non-empty, no spaces, no '+'")
    return name


def sign(text: str, *, name: str, key: Ed25519PrivateKey) -> str:
    """The signed note of `text` (which must end in a newline and have no empty line)."""
    _check_text(text)
    signature = key_hash(check_name(name), key.public_key()) + key.sign(text.encode())
    return f"{text}\n{EM_DASH} {name} {base64.b64encode(signature).decode()}\n"


def _check_text(text: str) -> None:
    if not text.endswith("\n") or "\n\n" in text or text.startswith("\n"):
        raise MalformedNote("a note's text is lines ending in a newline, none of them empty")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise MalformedNote("a note holds no control characters but newlines")


def open_note(note: str, *, name: str, key: Ed25519PublicKey) -> str:
    """The text of a signed note carrying a valid signature by `key` under `name`; MalformedNote
    for a note that is not well formed, ValueError if no signature of that key verifies."""
    if "\n\n" not in note or not note.endswith("\n"):
        raise MalformedNote("a signed note is text, an empty line, and signature lines")
    split = note.rindex("\n\n")
    text, lines = note[: split + 1], note[split + 2 :].splitlines()
    _check_text(text)
    if not lines or len(lines) > MAX_SIGNATURES:
        raise MalformedNote("a signed note has 1 to 100 signature lines")
    wanted = key_hash(name, key)
    verified = False
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not _NAME.fullmatch(parts[1]):
            raise MalformedNote(f"{line!r} is not a signature line")
        try:
            signature = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            raise MalformedNote(f"{line!r} is not base64") from None
        if len(signature) < 5:
            raise MalformedNote(f"{line!r} is too short to be a signature")
        if parts[1] != name or signature[:4] != wanted:
            continue  # another signer's (a witness's): not ours to check
        try:
            key.verify(signature[4:], text.encode())
        except InvalidSignature:
            raise ValueError(
                f"the signature of {name} does not verify: the note was altered or forged"
            ) from None
        verified = True
    if not verified:
        raise ValueError(f"the note carries no signature of {name} with this key")
    return text


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [
            self.origin,
            str(self.tree_size),
            base64.b64encode(self.root_hash).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise MalformedNote("a checkpoint has an origin, a size and a root hash, a line each")
        origin, size, root = lines[0], lines[1], lines[2]
        if not origin or not re.fullmatch(r"0|[1-9][0-9]*", size):
            raise MalformedNote("a checkpoint's origin is empty or its size is not a decimal number")
        try:
            root_hash = base64.b64decode(root, validate=True)
        except binascii.Error:
            raise MalformedNote("a checkpoint's root hash is not base64") from None
        if len(root_hash) != 32:
            raise MalformedNote("a checkpoint's root hash is not 32 bytes")
        return cls(origin, int(size), root_hash, tuple(lines[3:-1]))


def signed_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    return sign(checkpoint.text(), name=checkpoint.origin, key=key)


def open_checkpoint(note: str, key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint of a note signed by `key` under its own origin (ValueError otherwise)."""
    if "\n\n" not in note:
        raise MalformedNote("a signed note is text, an empty line, and signature lines")
    origin = note.split("\n", 1)[0]
    checkpoint = Checkpoint.parse(open_note(note, name=origin, key=key))
    return checkpoint
