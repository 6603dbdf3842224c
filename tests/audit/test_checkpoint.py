"""Standard checkpoints (C2SP tlog-checkpoint as signed notes) and the read-only log API: the
signed-note signature against golang.org/x/mod/sumdb/note's published test vectors and against
a verification written here from the specification, tiles and proofs a standard client uses,
who may read them, caching, and the offline verifier's --checkpoint."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from rest_framework.test import APIClient

from audit import signed_note
from audit.keys import public_key
from audit.merkle import verify_consistency, verify_inclusion
from audit.models import LedgerEntry, SignedTreeHead
from audit.services import sign_tree_head
from audit.signing import raw_public_key
from audit.tiles import TILE_WIDTH, Tile, TiledTree, inclusion_tiles, tile_path
from tests.audit.conftest import run_verifier
from tests.ledger import append

# golang.org/x/mod/sumdb/note, note_test.go (TestSign, TestNewVerifier, TestOpen).
GO_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
GO_SIGNED = (
    GO_TEXT + "\n\u2014 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_ENOCH_SIGNATURE = "\u2014 EnochRoot " + (
    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)


def go_key() -> Ed25519PrivateKey:
    encoded = GO_SIGNER_KEY.split("+", 4)[4]
    raw = base64.b64decode(encoded)
    assert raw[0] == 1  # the Ed25519 algorithm byte
    return Ed25519PrivateKey.from_private_bytes(raw[1:])


def test_a_note_signs_byte_for_byte_as_the_go_reference_does() -> None:
    key = go_key()
    assert signed_note.sign(GO_TEXT, name="PeterNeumann", key=key) == GO_SIGNED
    assert signed_note.verifier_key("PeterNeumann", key.public_key()) == GO_VERIFIER_KEY


def test_the_go_reference_notes_open_and_altered_ones_do_not() -> None:
    key = go_key().public_key()
    # Another signer's line (EnochRoot's, a witness) is left unchecked, as note.Open does.
    assert signed_note.open_note(GO_SIGNED + GO_ENOCH_SIGNATURE, name="PeterNeumann", key=key) == GO_TEXT
    with pytest.raises(ValueError, match="does not verify"):
        signed_note.open_note(GO_SIGNED.replace("cryptography", "cryptographY"), name="PeterNeumann", key=key)
    with pytest.raises(ValueError, match="no signature of PeterNeumann"):
        signed_note.open_note(GO_TEXT + "\n" + GO_ENOCH_SIGNATURE, name="PeterNeumann", key=key)
    for malformed in (GO_TEXT, GO_TEXT + "\n", "\x01" + GO_SIGNED, GO_SIGNED + "Unexpected line.\n"):
        with pytest.raises(signed_note.MalformedNote):
            signed_note.open_note(malformed, name="PeterNeumann", key=key)


def independently_verified(note: str, key: Ed25519PublicKey) -> tuple[str, int, bytes]:
    """A checkpoint checked from the specifications alone: (origin, size, root)."""
    text, signatures = note.split("\n\n", 1)
    text += "\n"
    origin, size, root = text.splitlines()[:3]
    raw = raw_public_key(key)
    key_hash = hashlib.sha256(origin.encode() + b"\n\x01" + raw).digest()[:4]
    for line in signatures.splitlines():
        dash, name, blob = line.split(" ")
        signature = base64.b64decode(blob)
        if dash == "\u2014" and name == origin and signature[:4] == key_hash:
            key.verify(signature[4:], text.encode())  # raises InvalidSignature
            return origin, int(size), base64.b64decode(root)
    raise AssertionError("no signature line of the ledger's key")


@pytest.mark.django_db
def test_the_checkpoint_is_the_latest_head_signed_as_a_standard_note(auditor: APIClient, settings) -> None:
    settings.LEDGER_ORIGIN = "vault.example.com/audit-ledger"
    append(300)
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    response = auditor.get("/api/v1/audit/checkpoint")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=5"
    note = response.content.decode()
    assert independently_verified(note, public_key()) == (
        "vault.example.com/audit-ledger",
        head.tree_size,
        bytes(head.root_hash),
    )
    assert note.startswith(f"vault.example.com/audit-ledger\n{head.tree_size}\n")


@pytest.mark.django_db
def test_the_default_origin_names_the_key(auditor: APIClient) -> None:
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    origin = auditor.get("/api/v1/audit/checkpoint").content.decode().split("\n")[0]
    assert origin == "vault-ledger/" + hashlib.sha256(raw_public_key(public_key())).hexdigest()[:16]


def fetched_tree(client: APIClient, size: int) -> TiledTree:
    """A standard tlog-tiles client: tiles fetched by path, partial ones at the checkpoint's width."""

    def fetch(keys: set[tuple[int, int]]) -> dict[tuple[int, int], Tile]:
        found = {}
        for level, index in keys:
            width = min(TILE_WIDTH, (size >> (8 * level)) - index * TILE_WIDTH)
            response = client.get(f"/api/v1/audit/{tile_path(level, index, width)}")
            assert response.status_code == 200, tile_path(level, index, width)
            assert response["Cache-Control"] == "private, max-age=31536000, immutable"
            assert len(response.content) == 32 * width
            found[(level, index)] = Tile(level, index, response.content, b"")
        return found

    return TiledTree(size, fetch, use_inner=False)  # a client has only the spec's hashes


@pytest.mark.django_db
def test_a_standard_client_proves_an_entry_from_the_checkpoint_and_tiles(auditor: APIClient) -> None:
    append(70_000 // 100)
    append(66_000)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    _, size, root = independently_verified(
        auditor.get("/api/v1/audit/checkpoint").content.decode(), public_key()
    )
    tree = fetched_tree(auditor, size)
    assert tree.root() == root
    for seq in (1, 256, 257, 65_536, 65_537, size):
        leaf = bytes(LedgerEntry.objects.get(seq=seq).leaf_hash)
        tree.prefetch(inclusion_tiles(seq - 1, size))
        assert tree.leaf(seq - 1) == leaf
        assert verify_inclusion(leaf, seq - 1, size, tree.inclusion_proof(seq - 1), root)


@pytest.mark.django_db
def test_tiles_past_the_signed_head_or_misspelt_are_not_served(auditor: APIClient) -> None:
    append(297)
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    assert head.tree_size == 300  # with the auditor's account created, its group and its role
    append(300)  # tiled at the next head only, and unsigned until then
    for path in (
        "tile/0/001.p/45",
        "tile/0/002",
        "tile/0/001",
        "tile/1/000",
        "tile/0/1",
        "tile/0/x000/001",
        "tile/0/000.p/256",
        "tile/0/001.p/0",
        "tile/64/000",
    ):
        response = auditor.get(f"/api/v1/audit/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"] in {"no_tile", "not_found"}
    assert auditor.get("/api/v1/audit/tile/0/001.p/44").status_code == 200
    assert auditor.get("/api/v1/audit/tile/0/000").status_code == 200
    assert auditor.get("/api/v1/audit/tile/0/000.p/7").content == b"".join(
        bytes(h)
        for h in LedgerEntry.objects.filter(seq__lte=7).order_by("seq").values_list("leaf_hash", flat=True)
    )


@pytest.mark.django_db
def test_proofs_through_the_api_verify_against_signed_heads(auditor: APIClient) -> None:
    append(297)  # after the auditor's account created, its group and its role: 300
    first, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    append(1000)
    second, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    body = auditor.get("/api/v1/audit/proofs/inclusion", {"seq": 123, "tree_size": first.tree_size}).json()
    proof = [bytes.fromhex(p) for p in body["inclusion_proof"]]
    assert body["leaf_hash"] == bytes(LedgerEntry.objects.get(seq=123).leaf_hash).hex()
    assert verify_inclusion(
        bytes.fromhex(body["leaf_hash"]), 122, first.tree_size, proof, bytes(first.root_hash)
    )
    body = auditor.get("/api/v1/audit/proofs/consistency", {"first": first.tree_size}).json()
    assert body["second"] == second.tree_size
    proof = [bytes.fromhex(p) for p in body["consistency_proof"]]
    assert verify_consistency(
        first.tree_size, second.tree_size, bytes(first.root_hash), bytes(second.root_hash), proof
    )
    unsigned = auditor.get("/api/v1/audit/proofs/inclusion", {"seq": 1, "tree_size": 500})
    assert unsigned.status_code == 404 and unsigned.json()["error"] == "no_head"
    outside = auditor.get("/api/v1/audit/proofs/inclusion", {"seq": 301, "tree_size": first.tree_size})
    assert outside.status_code == 404 and outside.json()["error"] == "not_in_tree"
    bad = auditor.get("/api/v1/audit/proofs/inclusion", {"seq": "x"})
    assert bad.status_code == 400 and set(bad.json()) == {"error", "detail"}


LOG_PATHS = (
    "/api/v1/audit/checkpoint",
    "/api/v1/audit/tile/0/000.p/3",
    "/api/v1/audit/proofs/inclusion?seq=1",
    "/api/v1/audit/proofs/consistency?first=0",
)


@pytest.mark.django_db
def test_auditors_and_the_read_token_read_the_log_and_nobody_else(
    client, auditor: APIClient, operator: APIClient, settings
) -> None:
    settings.LEDGER_READ_TOKEN = "monitor-token-for-tests-0123456789"
    append(3)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    for path in LOG_PATHS:
        assert auditor.get(path).status_code == 200, path
        assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {settings.LEDGER_READ_TOKEN}").status_code == 200
        anonymous = client.get(path)
        assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == 'Bearer realm="ledger"'
        assert operator.get(path).status_code == 403
        wrong = client.get(path, HTTP_AUTHORIZATION="Bearer not-the-token")
        assert wrong.status_code in (401, 403) and set(wrong.json()) == {"error", "detail"}
        # The read token opens only the log: never the entries or exports.
    token = {"HTTP_AUTHORIZATION": f"Bearer {settings.LEDGER_READ_TOKEN}"}
    assert client.get("/api/v1/audit/head", **token).status_code == 403
    assert client.post("/api/v1/audit/exports", {}, format="json", **token).status_code == 403
    settings.LEDGER_READ_TOKEN = ""
    assert client.get(LOG_PATHS[0], HTTP_AUTHORIZATION="Bearer ").status_code in (401, 403)


@pytest.mark.django_db
def test_the_offline_verifier_checks_a_checkpoint_alone_and_against_an_export(
    auditor: APIClient, tmp_path: Path
) -> None:
    from tests.audit.test_export import export, fill_ledger

    fill_ledger()
    files = export(auditor, tmp_path)
    checkpoint = tmp_path / "checkpoint"
    checkpoint.write_bytes(auditor.get("/api/v1/audit/checkpoint").content)
    alone = run_verifier("--checkpoint", checkpoint, files["key"])
    assert alone.returncode == 0 and "VERIFIED checkpoint of vault-ledger/" in alone.stdout, alone.stderr
    both = run_verifier(files["jsonl"], files["manifest"], files["key"], "--checkpoint", checkpoint)
    assert both.returncode == 0, both.stdout + both.stderr
    lines = checkpoint.read_text().split("\n")
    lines[1] = str(int(lines[1]) - 1)  # a smaller tree under the same signature
    forged = tmp_path / "forged"
    forged.write_text("\n".join(lines))
    result = run_verifier("--checkpoint", forged, files["key"])
    assert result.returncode == 1 and "not signed by this public key" in result.stdout
    garbage = tmp_path / "garbage"
    garbage.write_text("not a checkpoint")
    assert run_verifier("--checkpoint", garbage, files["key"]).returncode == 2
