"""Interop with the real `age` and `age-keygen` binaries, both ways: what the vault seals, age opens
with the identity file; what age encrypts, the vault opens; tampering is refused by both."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import pytest

from recorder.keys import (
    KmsRecipient,
    X25519Identity,
    X25519Recipient,
    read_identity_file,
    write_identity_file,
)
from recorder.sealing import (
    CHUNK_SIZE,
    PAYLOAD_NONCE_SIZE,
    TAG_SIZE,
    NoIdentityError,
    PayloadReader,
    Recipient,
    Sealer,
    TamperedError,
    decrypt_file,
    split_age_file,
    unwrap_file_key,
)
from tests.conftest import require_program

SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 1024 * 1024 + 17]


def locate(name: str) -> str:
    return require_program(name, "apt-get install age")


@pytest.fixture
def age() -> str:
    return locate("age")


@pytest.fixture
def age_keygen() -> str:
    return locate("age-keygen")


@pytest.fixture
def identity_file(tmp_path: Path) -> tuple[X25519Identity, Path]:
    identity = X25519Identity.generate()
    path = tmp_path / "keys" / "identity.txt"
    write_identity_file(path, identity)
    return identity, path


def seal_to_file(path: Path, data: bytes, recipients: list[Recipient], recording_id: str = "rec-1") -> Path:
    """header + payload, concatenated: the file the vault's database row and object make up."""
    sealer = Sealer(recipients, recording_id=recording_id)
    with path.open("wb") as handle:
        handle.write(sealer.header)
        for start in range(0, len(data), 100_000):
            handle.write(sealer.update(data[start : start + 100_000]))
        handle.write(sealer.finalize())
    return path


def age_decrypt(age: str, key_path: Path, sealed: Path | bytes) -> subprocess.CompletedProcess[bytes]:
    """`age --decrypt` with the identity in `key_path`, of the file `sealed` or of these bytes on stdin."""
    if isinstance(sealed, bytes):
        return subprocess.run([age, "--decrypt", "-i", str(key_path)], input=sealed, capture_output=True)
    return subprocess.run([age, "--decrypt", "-i", str(key_path), str(sealed)], capture_output=True)


def age_encrypt(age: str, recipient: object, data: bytes) -> bytes:
    return subprocess.run([age, "-r", str(recipient)], input=data, capture_output=True, check=True).stdout


def open_both_ways(raw: bytes, identity: X25519Identity) -> tuple[bytes, bytes]:
    """(decrypt_file's plaintext, split_age_file + unwrap_file_key + PayloadReader's plaintext)."""
    streamed = b"".join(decrypt_file(io.BytesIO(raw), [identity]))
    header, payload = split_age_file(raw)
    key = unwrap_file_key(header, [identity], recording_id="")
    opened = PayloadReader(key, payload_size=len(payload), read_payload=lambda o, n: payload[o : o + n])
    return streamed, b"".join(opened.iter_all())


# --- the vault seals, age opens ------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
def test_age_decrypts_what_the_vault_sealed(age: str, identity_file, tmp_path: Path, size: int) -> None:
    identity, key_path = identity_file
    data = os.urandom(size)
    result = age_decrypt(age, key_path, seal_to_file(tmp_path / "v.age", data, [identity.recipient()]))
    assert result.returncode == 0, result.stderr
    assert result.stdout == data


def test_age_decrypts_with_any_of_several_recipients(age: str, identity_file, tmp_path: Path) -> None:
    identity, key_path = identity_file
    data = os.urandom(70_000)
    others = [X25519Identity.generate().recipient() for _ in range(2)]
    sealed = seal_to_file(tmp_path / "v.age", data, [others[0], identity.recipient(), others[1]])
    assert age_decrypt(age, key_path, sealed).stdout == data


@pytest.mark.parametrize(
    "where",
    ["header MAC", "stanza body", "payload nonce", "first chunk", "last chunk tag", "truncated", "appended"],
)
def test_age_refuses_a_tampered_vault_file(age: str, identity_file, tmp_path: Path, where: str) -> None:
    identity, key_path = identity_file
    data = os.urandom(2 * CHUNK_SIZE + 100)
    sealed = seal_to_file(tmp_path / "v.age", data, [identity.recipient()])
    raw = bytearray(sealed.read_bytes())
    header_size = len(split_age_file(bytes(raw))[0])
    positions = {
        "header MAC": header_size - 5,
        "stanza body": raw.index(b"\n", raw.index(b"-> X25519")) + 5,
        "payload nonce": header_size + 3,
        "first chunk": header_size + PAYLOAD_NONCE_SIZE + 100,
        "last chunk tag": len(raw) - 1,
    }
    if where == "truncated":
        del raw[-(100 + TAG_SIZE) :]  # the last chunk lost whole
    elif where == "appended":
        raw += b"\x00"
    else:
        raw[positions[where]] ^= 0x01
    sealed.write_bytes(bytes(raw))
    result = age_decrypt(age, key_path, sealed)
    assert result.returncode != 0
    assert len(result.stdout) <= 2 * CHUNK_SIZE  # at most the intact chunks before the bad one


# --- age encrypts, the vault opens ---------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 5, CHUNK_SIZE, 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 9])
def test_the_vault_reads_what_age_encrypted_to_its_recipient(age: str, tmp_path: Path, size: int) -> None:
    identity = X25519Identity.generate()
    data = os.urandom(size)
    (tmp_path / "plain").write_bytes(data)
    out = tmp_path / "a.age"
    subprocess.run(
        [age, "-r", str(identity.recipient()), "-o", str(out), str(tmp_path / "plain")], check=True
    )
    assert open_both_ways(out.read_bytes(), identity) == (data, data)


def test_the_vault_seeks_in_what_age_encrypted(age: str, tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    data = os.urandom(5 * CHUNK_SIZE + 300)
    header, payload = split_age_file(age_encrypt(age, identity.recipient(), data))
    key = unwrap_file_key(header, [identity], recording_id="")
    opened = PayloadReader(key, payload_size=len(payload), read_payload=lambda o, n: payload[o : o + n])
    for start, end in [(0, 1), (CHUNK_SIZE - 3, CHUNK_SIZE + 3), (4 * CHUNK_SIZE + 1, len(data) + 50)]:
        assert b"".join(opened.iter_range(start, end)) == data[start:end]


def test_the_vault_reads_age_output_from_a_pipe(age: str, tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    data = os.urandom(3 * CHUNK_SIZE + 1)
    (tmp_path / "plain").write_bytes(data)
    with subprocess.Popen(
        [age, "-r", str(identity.recipient()), str(tmp_path / "plain")], stdout=subprocess.PIPE
    ) as process:
        assert process.stdout is not None
        assert b"".join(decrypt_file(process.stdout, [identity])) == data  # type: ignore[arg-type]
    assert process.returncode == 0


def test_the_vault_reads_what_age_encrypted_to_an_age_keygen_key(
    age: str, age_keygen: str, tmp_path: Path
) -> None:
    key_path = tmp_path / "keygen.txt"
    subprocess.run([age_keygen, "-o", str(key_path)], check=True, capture_output=True)
    [identity] = read_identity_file(key_path)  # as age-keygen left it: no chmod
    recipient = subprocess.run(
        [age_keygen, "-y", str(key_path)], capture_output=True, text=True, check=True
    ).stdout.strip()
    data = os.urandom(CHUNK_SIZE + 77)
    (tmp_path / "plain").write_bytes(data)
    out = tmp_path / "a.age"
    subprocess.run([age, "-r", recipient, "-o", str(out), str(tmp_path / "plain")], check=True)
    assert open_both_ways(out.read_bytes(), identity) == (data, data)
    # and the other way: the vault seals to that recipient string, age opens with age-keygen's file
    sealed = seal_to_file(tmp_path / "v.age", data, [X25519Recipient.from_string(recipient)])
    assert age_decrypt(age, key_path, sealed).stdout == data


def test_the_vault_refuses_a_tampered_age_file(age: str, tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    data = os.urandom(2 * CHUNK_SIZE + 10)
    encrypted = bytearray(age_encrypt(age, identity.recipient(), data))
    encrypted[-20] ^= 0x01
    with pytest.raises(TamperedError):
        open_both_ways(bytes(encrypted), identity)


def test_an_age_file_for_someone_else_is_no_identity(age: str) -> None:
    encrypted = age_encrypt(age, X25519Identity.generate().recipient(), b"x")
    with pytest.raises(NoIdentityError):
        open_both_ways(encrypted, X25519Identity.generate())


# --- key files -----------------------------------------------------------------------------------


def test_age_keygen_derives_our_recipient_from_our_identity_file(age_keygen: str, identity_file) -> None:
    identity, key_path = identity_file
    printed = subprocess.run([age_keygen, "-y", str(key_path)], capture_output=True, text=True, check=True)
    assert printed.stdout.strip() == str(identity.recipient())


def test_a_key_file_made_by_age_keygen_is_read(age_keygen: str, tmp_path: Path) -> None:
    key_path = tmp_path / "keygen.txt"
    subprocess.run([age_keygen, "-o", str(key_path)], check=True, capture_output=True)
    text = key_path.read_text()
    [identity] = read_identity_file(key_path)
    assert str(identity) in text
    assert f"# public key: {identity.recipient()}" in text


# --- an aws-kms stanza next to the X25519 one ----------------------------------------------------


def test_age_ignores_the_kms_stanza_and_opens_with_the_x25519_identity(
    age: str, identity_file, tmp_path: Path, moto, kms_key_id: str
) -> None:
    identity, key_path = identity_file
    kms = moto.client("kms")
    data = os.urandom(100_000)
    for recipients in (
        [KmsRecipient(kms_key_id, kms), identity.recipient()],  # the unknown stanza first
        [identity.recipient(), KmsRecipient(kms_key_id, kms)],
    ):
        sealed = seal_to_file(tmp_path / "v.age", data, recipients, "rec-9")
        assert b"\n-> aws-kms " in sealed.read_bytes()
        result = age_decrypt(age, key_path, sealed)
        assert result.returncode == 0, result.stderr
        assert result.stdout == data
