"""Recipients and identities: X25519 keys and stanzas, aws-kms stanzas against KMS over HTTP (moto
server), and key files that refuse to be readable by anyone but their owner."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path

import bech32
import pytest

from recorder.keys import (
    KeyFileError,
    KmsIdentity,
    KmsRecipient,
    X25519Identity,
    X25519Recipient,
    read_identity_file,
    read_recipients_file,
    write_identity_file,
    write_recipients_file,
)
from recorder.sealing import (
    NoIdentityError,
    PayloadReader,
    Sealer,
    Stanza,
    TamperedError,
    b64encode,
    decrypt_file,
    unwrap_file_key,
)

# The example key pair of the age specification (c2sp.org/age, "The X25519 recipient type").
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"
FILE_KEY = bytes(range(16))


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# --- X25519 keys ---------------------------------------------------------------------------------


def test_the_spec_example_identity_gives_the_spec_example_recipient() -> None:
    identity = X25519Identity.from_string(SPEC_IDENTITY)
    assert str(identity.recipient()) == SPEC_RECIPIENT
    assert str(identity) == SPEC_IDENTITY
    assert X25519Recipient.from_string(SPEC_RECIPIENT) == identity.recipient()


def test_keys_survive_their_string_form() -> None:
    identity = X25519Identity.generate()
    assert str(identity).startswith("AGE-SECRET-KEY-1")
    assert str(identity.recipient()).startswith("age1")
    assert X25519Identity.from_string(str(identity)).recipient() == identity.recipient()
    assert X25519Recipient.from_string(f"  {identity.recipient()}\n") == identity.recipient()


def test_an_identity_never_shows_its_secret_in_repr() -> None:
    identity = X25519Identity.generate()
    assert str(identity) not in repr(identity)
    assert str(identity.recipient()) in repr(identity)


def _bech32(hrp: str, data: bytes) -> str:
    return str(bech32.bech32_encode(hrp, bech32.convertbits(data, 8, 5)))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Bech32"),
        ("age1", "Bech32"),
        (SPEC_RECIPIENT[:-1] + "q", "Bech32"),  # checksum broken
        (SPEC_RECIPIENT[:10].upper() + SPEC_RECIPIENT[10:], "Bech32"),  # mixed case
        (SPEC_IDENTITY, "starts with 'AGE-SECRET-KEY-'"),
        (_bech32("age", bytes(31)), "32-byte"),
        (_bech32("age", bytes(33)), "32-byte"),
        (_bech32("age", bytes(32)), "low-order"),
    ],
)
def test_a_bad_recipient_string_is_refused_clearly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        X25519Recipient.from_string(text)


@pytest.mark.parametrize(
    "text",
    [SPEC_RECIPIENT, SPEC_IDENTITY[:-1] + "Q", _bech32("age-secret-key-", bytes(20)).upper()],
)
def test_a_bad_identity_string_is_refused_without_repeating_it(text: str) -> None:
    with pytest.raises(ValueError, match="not a valid age identity") as error:
        X25519Identity.from_string(text)
    assert text not in str(error.value)


# --- X25519 stanzas ------------------------------------------------------------------------------


def test_an_x25519_stanza_is_a_fresh_share_and_a_32_byte_body() -> None:
    identity = X25519Identity.generate()
    first = identity.recipient().wrap(FILE_KEY, recording_id="r")
    second = identity.recipient().wrap(FILE_KEY, recording_id="r")
    assert first.type == "X25519" and len(first.args) == 1 and len(first.args[0]) == 43
    assert len(first.body) == 32
    assert first.args != second.args  # a new ephemeral secret each time (spec MUST)
    assert identity.unwrap(first, recording_id="any") == FILE_KEY


def test_an_identity_passes_over_stanzas_that_are_not_its_own() -> None:
    identity = X25519Identity.generate()
    stranger = X25519Identity.generate().recipient().wrap(FILE_KEY, recording_id="r")
    assert identity.unwrap(stranger, recording_id="r") is None
    assert identity.unwrap(Stanza("scrypt", ("salt", "18"), bytes(32)), recording_id="r") is None
    assert identity.unwrap(Stanza("aws-kms", ("key",), b"blob"), recording_id="r") is None


def _malformed(stanza: Stanza) -> list[Stanza]:
    share = stanza.args[0]
    return [
        Stanza("X25519", (), stanza.body),
        Stanza("X25519", (share, "extra"), stanza.body),
        Stanza("X25519", (share,), stanza.body[:-1]),
        Stanza("X25519", (share,), stanza.body + b"\x00"),
        Stanza("X25519", (share[:-2],), stanza.body),  # a 31-byte share
        Stanza("X25519", (share + "=",), stanza.body),
        Stanza("X25519", (b64encode(bytes(32)).decode(),), stanza.body),  # low-order share
    ]


@pytest.mark.parametrize("case", range(7))
def test_a_malformed_x25519_stanza_is_refused(case: int) -> None:
    identity = X25519Identity.generate()
    stanza = _malformed(identity.recipient().wrap(FILE_KEY, recording_id="r"))[case]
    with pytest.raises(TamperedError):
        identity.unwrap(stanza, recording_id="r")


# --- aws-kms stanzas (KMS over HTTP: moto server) ------------------------------------------------


def seal_to(recipients: list, data: bytes, recording_id: str) -> tuple[bytes, bytes]:  # type: ignore[type-arg]
    sealer = Sealer(recipients, recording_id=recording_id)
    return sealer.header, sealer.update(data) + sealer.finalize()


def test_either_identity_alone_opens_a_recording_sealed_to_x25519_and_kms(moto, kms_key_id: str) -> None:
    kms = moto.client("kms")
    identity = X25519Identity.generate()
    data = os.urandom(200_000)
    header, payload = seal_to([identity.recipient(), KmsRecipient(kms_key_id, kms)], data, "rec-1")
    assert f"\n-> aws-kms {kms_key_id}\n".encode() in header
    for identities in ([identity], [KmsIdentity(kms)]):
        key = unwrap_file_key(header, identities, recording_id="rec-1")  # type: ignore[arg-type]
        opened = PayloadReader(key, payload_size=len(payload), read_payload=lambda o, n: payload[o : o + n])
        assert b"".join(opened.iter_all()) == data
        assert b"".join(decrypt_file(io.BytesIO(header + payload), identities, recording_id="rec-1")) == data


def test_a_kms_stanza_does_not_open_under_another_recording_id(moto, kms_key_id: str) -> None:
    kms = moto.client("kms")
    header, payload = seal_to([KmsRecipient(kms_key_id, kms)], b"evidence", "rec-1")
    with pytest.raises(TamperedError):
        unwrap_file_key(header, [KmsIdentity(kms)], recording_id="rec-2")
    with pytest.raises(TamperedError):
        b"".join(decrypt_file(io.BytesIO(header + payload), [KmsIdentity(kms)], recording_id="rec-2"))


def test_an_altered_kms_blob_is_refused(moto, kms_key_id: str) -> None:
    kms = moto.client("kms")
    stanza = KmsRecipient(kms_key_id, kms).wrap(FILE_KEY, recording_id="rec-1")
    changed = bytearray(stanza.body)
    changed[-1] ^= 0x01
    with pytest.raises(TamperedError):
        KmsIdentity(kms).unwrap(Stanza("aws-kms", stanza.args, bytes(changed)), recording_id="rec-1")
    with pytest.raises(TamperedError):
        KmsIdentity(kms).unwrap(Stanza("aws-kms", (), stanza.body), recording_id="rec-1")


def test_kms_identity_passes_over_x25519_stanzas(moto) -> None:
    kms = moto.client("kms")
    header, _ = seal_to([X25519Identity.generate().recipient()], b"evidence", "rec-1")
    with pytest.raises(NoIdentityError):
        unwrap_file_key(header, [KmsIdentity(kms)], recording_id="rec-1")


def test_a_kms_key_id_must_fit_in_a_header_argument() -> None:
    with pytest.raises(ValueError, match="KMS key id"):
        KmsRecipient("alias/with space", client=None)
    with pytest.raises(ValueError, match="KMS key id"):
        KmsRecipient("", client=None)


# --- key files -----------------------------------------------------------------------------------


def test_an_identity_file_round_trips_and_is_private(tmp_path: Path) -> None:
    identity = X25519Identity.generate()
    path = tmp_path / "keys" / "nested" / "identity.txt"
    write_identity_file(path, identity)
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# created: ") and lines[0].endswith("Z")
    assert lines[1:] == [f"# public key: {identity.recipient()}", str(identity)]
    [read] = read_identity_file(path)
    assert read.recipient() == identity.recipient()


def test_an_identity_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "identity.txt"
    write_identity_file(path, X25519Identity.generate())
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        write_identity_file(path, X25519Identity.generate())
    assert path.read_bytes() == before


def test_an_existing_key_directory_is_left_as_it_is(tmp_path: Path) -> None:
    tmp_path.chmod(0o750)
    write_identity_file(tmp_path / "identity.txt", X25519Identity.generate())
    assert mode_of(tmp_path) == 0o750


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o602, 0o666])
def test_an_identity_file_others_can_read_or_write_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "identity.txt"
    write_identity_file(path, X25519Identity.generate())
    path.chmod(mode)
    with pytest.raises(KeyFileError, match="chmod 600"):
        read_identity_file(path)


def test_an_owner_only_identity_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "identity.txt"
    write_identity_file(path, X25519Identity.generate())
    path.chmod(0o400)
    assert len(read_identity_file(path)) == 1


def test_an_identity_file_may_hold_several_identities_and_comments(tmp_path: Path) -> None:
    first, second = X25519Identity.generate(), X25519Identity.generate()
    path = tmp_path / "identities.txt"
    path.write_text(f"# rotated 2024\n\n{first}\n   \n# current\n  {second}  \n")
    path.chmod(0o600)
    assert [i.recipient() for i in read_identity_file(path)] == [first.recipient(), second.recipient()]


@pytest.mark.parametrize(
    ("content", "message"),
    [("", "holds no identity"), ("# only a comment\n\n", "holds no identity"), ("\nnot-a-key\n", "line 2")],
)
def test_an_identity_file_without_a_usable_identity_is_refused(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "identity.txt"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError, match=message):
        read_identity_file(path)


def test_a_missing_identity_file_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="cannot read"):
        read_identity_file(tmp_path / "absent.txt")


def test_a_recipients_file_round_trips_readable_by_its_owner_only(tmp_path: Path) -> None:
    recipients = [X25519Identity.generate().recipient() for _ in range(3)]
    path = tmp_path / "recipients.txt"
    write_recipients_file(path, recipients)
    assert mode_of(path) == 0o600
    assert read_recipients_file(path) == recipients


def test_a_recipients_file_allows_comments_and_names_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "recipients.txt"
    path.write_text(f"# escrow key\n{SPEC_RECIPIENT}\n\n")
    assert read_recipients_file(path) == [X25519Recipient.from_string(SPEC_RECIPIENT)]
    path.write_text(f"{SPEC_RECIPIENT}\nage1nonsense\n")
    with pytest.raises(ValueError, match="line 2"):
        read_recipients_file(path)
