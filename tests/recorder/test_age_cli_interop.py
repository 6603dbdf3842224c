"""Interop with the real `age` command-line tool, both ways, and with age-keygen's key files."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from recorder.keys import (
    KeyFileError,
    KmsIdentity,
    KmsRecipient,
    X25519Identity,
    read_identity_file,
    write_identity_file,
)
from recorder.sealing import (
    CHUNK_SIZE,
    PayloadReader,
    Sealer,
    TamperedError,
    decrypt_file,
    split_age_file,
    unwrap_file_key,
)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"the {name} CLI is required in CI")
        pytest.skip(f"{name} CLI not installed: apt-get install age")
    return path


@pytest.fixture
def age() -> str:
    return _tool("age")


@pytest.fixture
def identity_file(tmp_path: Path) -> tuple[X25519Identity, Path]:
    identity = X25519Identity.generate()
    path = tmp_path / "keys" / "identity.txt"
    write_identity_file(path, identity)
    return identity, path


def sealed_file(path: Path, data: bytes, recipients: list, recording_id: str = "rec-1") -> Path:  # type: ignore[type-arg]
    sealer = Sealer(recipients, recording_id=recording_id)
    path.write_bytes(sealer.header + sealer.update(data) + sealer.finalize())
    return path


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 1024 * 1024 + 17])
def test_age_decrypts_what_the_vault_sealed(age: str, identity_file, tmp_path: Path, size: int) -> None:
    identity, key_path = identity_file
    data = os.urandom(size)
    sealed = sealed_file(tmp_path / "v.age", data, [identity.recipient()])
    result = subprocess.run([age, "-d", "-i", str(key_path), str(sealed)], capture_output=True, check=True)
    assert result.stdout == data


def test_age_refuses_a_tampered_vault_file(age: str, identity_file, tmp_path: Path) -> None:
    identity, key_path = identity_file
    sealed = sealed_file(tmp_path / "v.age", os.urandom(100_000), [identity.recipient()])
    changed = bytearray(sealed.read_bytes())
    changed[-500] ^= 0x01
    sealed.write_bytes(bytes(changed))
    result = subprocess.run([age, "-d", "-i", str(key_path), str(sealed)], capture_output=True)
    assert result.returncode != 0


@pytest.mark.parametrize("size", [0, 5, CHUNK_SIZE, 3 * CHUNK_SIZE + 9])
def test_the_vault_reads_what_age_encrypted(age: str, identity_file, tmp_path: Path, size: int) -> None:
    identity, _ = identity_file
    data = os.urandom(size)
    (tmp_path / "plain").write_bytes(data)
    out = tmp_path / "a.age"
    subprocess.run(
        [age, "-r", str(identity.recipient()), "-o", str(out), str(tmp_path / "plain")], check=True
    )
    raw = out.read_bytes()
    assert b"".join(decrypt_file(io.BytesIO(raw), [identity])) == data
    header, payload = split_age_file(raw)
    key = unwrap_file_key(header, [identity], recording_id="")
    opened = PayloadReader(key, payload_size=len(payload), read_payload=lambda o, n: payload[o : o + n])
    assert b"".join(opened.iter_range(size // 3, size)) == data[size // 3 :]


def test_keys_made_by_age_keygen_are_read(age: str, tmp_path: Path) -> None:
    keygen = _tool("age-keygen")
    key_path = tmp_path / "keygen.txt"
    subprocess.run([keygen, "-o", str(key_path)], check=True, capture_output=True)
    key_path.chmod(0o600)
    [identity] = read_identity_file(key_path)
    printed = subprocess.run([keygen, "-y", str(key_path)], capture_output=True, text=True, check=True).stdout
    assert printed.strip() == str(identity.recipient())
    data = os.urandom(70_000)
    sealed = sealed_file(tmp_path / "v.age", data, [identity.recipient()])
    assert (
        subprocess.run([age, "-d", "-i", str(key_path), str(sealed)], capture_output=True, check=True).stdout
        == data
    )


def test_our_identity_file_gives_the_recipient_age_keygen_derives(identity_file) -> None:
    keygen = _tool("age-keygen")
    identity, key_path = identity_file
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    printed = subprocess.run([keygen, "-y", str(key_path)], capture_output=True, text=True, check=True).stdout
    assert printed.strip() == str(identity.recipient())


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_an_identity_file_readable_by_others_is_refused(identity_file, mode: int) -> None:
    _, key_path = identity_file
    key_path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_identity_file(key_path)


def test_kms_and_x25519_stanzas_each_open_the_file(
    age: str, identity_file, tmp_path: Path, moto, kms_key_id: str
) -> None:
    identity, key_path = identity_file
    kms = moto.client("kms")
    data = os.urandom(100_000)
    sealed = sealed_file(
        tmp_path / "v.age", data, [identity.recipient(), KmsRecipient(kms_key_id, kms)], "rec-9"
    )
    raw = sealed.read_bytes()
    assert b"\n-> aws-kms " in raw
    assert b"".join(decrypt_file(io.BytesIO(raw), [KmsIdentity(kms)], recording_id="rec-9")) == data
    assert b"".join(decrypt_file(io.BytesIO(raw), [identity], recording_id="rec-9")) == data
    # The age CLI skips the stanza type it does not know and opens the file with the X25519 one.
    result = subprocess.run([age, "-d", "-i", str(key_path), str(sealed)], capture_output=True, check=True)
    assert result.stdout == data


def test_a_kms_stanza_moved_to_another_recording_is_refused(tmp_path: Path, moto, kms_key_id: str) -> None:
    kms = moto.client("kms")
    sealed = sealed_file(tmp_path / "v.age", b"evidence", [KmsRecipient(kms_key_id, kms)], "rec-1")
    with pytest.raises(TamperedError):
        b"".join(decrypt_file(io.BytesIO(sealed.read_bytes()), [KmsIdentity(kms)], recording_id="rec-2"))
