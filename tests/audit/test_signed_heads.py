"""Signed tree heads: the key (generated 0600, unsafe files refused), the exact signed bytes,
the schedule, the API, and the refusal to sign over a rewritten history."""

from __future__ import annotations

import hashlib
import os
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

from audit import keys
from audit.merkle import MerkleTree
from audit.models import LedgerEntry, SignedTreeHead
from audit.selectors import LedgerInconsistent
from audit.services import Actor, record_event, sign_tree_head
from audit.signing import load_public_key
from audit.tasks import sign_ledger_tree_head
from tests.audit.test_ledger import behind_the_triggers_back, tamper_tile_hash

ACTOR = Actor.job("test")


def append_one_by_one(n: int) -> None:
    for i in range(n):
        record_event(action="test.appended", actor=ACTOR, details={"i": i})


def test_the_embedded_key_is_generated_once_with_mode_0600(ledger_key_dir) -> None:
    first = keys.signing_key()
    path = ledger_key_dir / "ledger-signing-key.pem"
    assert path.stat().st_mode & 0o777 == 0o600
    assert keys.public_key().public_bytes_raw() == first.public_key().public_bytes_raw()
    assert [p.name for p in ledger_key_dir.iterdir()] == ["ledger-signing-key.pem"]


def test_a_key_file_others_can_read_is_refused(ledger_key_dir) -> None:
    keys.signing_key()
    os.chmod(ledger_key_dir / "ledger-signing-key.pem", 0o640)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        keys.signing_key()


def test_a_configured_key_file_that_is_missing_is_refused_not_replaced(settings, tmp_path) -> None:
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "mounted" / "ledger.pem")
    with pytest.raises(ImproperlyConfigured, match="does not exist"):
        keys.signing_key()
    assert not (tmp_path / "mounted").exists()


def test_a_key_from_the_environment_setting(settings) -> None:
    seed = bytes(range(32))
    settings.LEDGER_SIGNING_KEY = __import__("base64").b64encode(seed).decode()
    expected = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert keys.public_key().public_bytes_raw() == expected
    settings.LEDGER_SIGNING_KEY = "not base64!"
    with pytest.raises(ImproperlyConfigured):
        keys.signing_key()


@pytest.mark.django_db
def test_a_head_signs_exactly_the_documented_bytes() -> None:
    append_one_by_one(5)
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.COMMAND)
    leaves = [bytes(h) for h in LedgerEntry.objects.order_by("seq").values_list("leaf_hash", flat=True)]
    assert head.tree_size == 5
    assert bytes(head.root_hash) == MerkleTree(b"".join(leaves)).root()
    # written out here from the README, not with the project's helpers
    message = b"vault-ledger tree head v1\n" + struct.pack(">QQ", head.timestamp_ms, 5) + b"\x20"
    message += bytes(head.root_hash)
    public = keys.public_key()
    public.verify(bytes(head.signature), message)  # raises if not
    assert head.key_id == hashlib.sha256(public.public_bytes_raw()).hexdigest()
    assert abs(head.signed_at.timestamp() * 1000 - head.timestamp_ms) < 1


@pytest.mark.django_db
def test_the_beat_schedule_signs_a_head_every_hour_by_default() -> None:
    entry = django_settings.CELERY_BEAT_SCHEDULE["sign-ledger-tree-head"]
    assert entry["task"] == "audit.tasks.sign_ledger_tree_head"
    assert entry["schedule"] == 3600.0
    append_one_by_one(3)
    assert sign_ledger_tree_head() == {"tree_size": 3}
    append_one_by_one(2)
    assert sign_ledger_tree_head() == {"tree_size": 5}
    assert list(SignedTreeHead.objects.values_list("tree_size", "trigger")) == [
        (3, "schedule"),
        (5, "schedule"),
    ]


@pytest.mark.django_db
def test_an_empty_ledger_gets_the_empty_tree_head() -> None:
    head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.COMMAND)
    assert (head.tree_size, bytes(head.root_hash)) == (0, hashlib.sha256(b"").digest())


@pytest.mark.django_db
def test_no_head_is_signed_over_a_rewritten_history() -> None:
    """An attacker who rewrites an entry, its leaf hash and its tile gets no new head to launder
    it (a head reads only the tiles; entries rewritten under them are verify_ledger's to find)."""
    append_one_by_one(6)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    append_one_by_one(2)
    forged = hashlib.sha256(b"\x00forged").digest()
    behind_the_triggers_back(
        "UPDATE audit_ledgerentry SET leaf_hash = %s WHERE seq = 3",
        [forged],  # type: ignore[list-item]
    )
    tamper_tile_hash(level=0, index=0, position=2, new=forged)
    with pytest.raises(LedgerInconsistent, match="altered"):
        sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    assert SignedTreeHead.objects.count() == 1


@pytest.mark.django_db
def test_the_public_key_is_open_to_anyone_and_matches_the_signing_key(client) -> None:
    response = client.get("/api/v1/audit/public-key")
    assert response.status_code == 200
    body = response.json()
    assert body["algorithm"] == "Ed25519"
    assert (
        load_public_key(body["public_key_pem"].encode()).public_bytes_raw()
        == keys.public_key().public_bytes_raw()
    )
    assert "PRIVATE" not in response.content.decode()


@pytest.mark.django_db
def test_the_latest_head_is_for_auditors_only(client, auditor, operator) -> None:
    assert auditor.get("/api/v1/audit/head").json()["error"] == "no_head"
    append_one_by_one(4)
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    body = auditor.get("/api/v1/audit/head").json()
    # the 4 entries, after the two staff's accounts: each created and put in its group
    # (staff.account_changed), each given its role (staff.role_changed)
    assert body["tree_size"] == 2 * 3 + 4 and len(bytes.fromhex(body["root_hash"])) == 32
    assert operator.get("/api/v1/audit/head").status_code == 403
    anonymous = client.get("/api/v1/audit/head")
    assert anonymous.status_code in (401, 403) and "error" in anonymous.json()


@pytest.mark.django_db
def test_the_openapi_schema_documents_the_audit_api(client) -> None:
    schema = client.get("/api/v1/schema?format=json").json()
    for path in [
        "/api/v1/audit/public-key",
        "/api/v1/audit/head",
        "/api/v1/audit/exports",
        "/api/v1/audit/exports/{export_id}/manifest.json",
    ]:
        assert path in schema["paths"], path
