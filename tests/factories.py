"""factory_boy factories and builders of test data used across the tests: API payloads, sessions
registered through the service, recordings' plaintext, sealed age files and access grants."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from complaints.models import AccessGrant, AccessRequest, ComplaintCase
from recorder.keys import X25519Identity
from recorder.sealing import CHUNK_SIZE, PAYLOAD_NONCE_SIZE, TAG_SIZE, PayloadReader, Sealer, unwrap_file_key
from recorder.services import register_session


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


# --- API payloads ----------------------------------------------------------------------------------


class ConsentPayload(factory.DictFactory):
    granted_at = factory.LazyFunction(lambda: iso(datetime.now(UTC) - timedelta(minutes=10)))
    view = True
    control = True


class SessionPayload(factory.DictFactory):
    """A valid `POST /api/v1/sessions` body: customer-initiated, consent before the start."""

    external_id = factory.Sequence(lambda n: f"ticket-{n:05d}")
    customer_ref = factory.Sequence(lambda n: f"CUST-{n:06d}")
    agent_ref = factory.Sequence(lambda n: f"agent-{n:03d}")
    initiated_by = "customer"
    started_at = factory.LazyFunction(lambda: iso(datetime.now(UTC) - timedelta(minutes=5)))
    consent = factory.SubFactory(ConsentPayload)


# --- sessions and recordings through the service ---------------------------------------------------

_session_numbers = itertools.count(1)


def controlled_session(
    client: object,
    *,
    external_id: str | None = None,
    customer_ref: str = "CUST-4711",
    agent_ref: str = "agent-1",
) -> str:
    """The id of a session registered for `client` (by the service, no HTTP), started 5 minutes ago
    with the customer's consent to view and control: one that may have a recording. Without an
    `external_id`, a new one each call."""
    now = datetime.now(UTC)
    session = register_session(
        client=client, external_id=external_id or f"session-{next(_session_numbers):05d}",
        customer_ref=customer_ref, agent_ref=agent_ref, initiated_by="customer",
        started_at=now - timedelta(minutes=5), consent_granted_at=now - timedelta(minutes=6),
        consent_view=True, consent_control=True,
    )  # fmt: skip
    return str(session.id)


@dataclass
class Recorded:
    """A session registered and recorded through the recorder API (the `make_session` fixture)."""

    session_id: str
    recording_id: str
    body: bytes


def record_through_api(api: Any, *, customer_ref: str, body: bytes) -> Recorded:
    """`body` uploaded as the recording of a new session of `customer_ref`, as the recorder does."""
    session_id = api.post(
        "/api/v1/sessions", SessionPayload(customer_ref=customer_ref), format="json"
    ).json()["id"]
    answer = api.put(f"/api/v1/sessions/{session_id}/recording", body, content_type="video/webm")
    assert answer.status_code == 201, answer.content
    return Recorded(session_id, answer.json()["id"], body)


# --- plaintext ---------------------------------------------------------------------------------------

MARKER = b"PLAINTEXT-MARKER-7f3a"


def content(size: int, seed: int = 1) -> bytes:
    """Recording-like bytes with a findable marker, so a leak of plaintext is detectable."""
    block = hashlib.sha256(str(seed).encode()).digest() * 2048 + MARKER
    return (block * (size // len(block) + 1))[:size]


def counter_bytes(size: int, seed: int = 0) -> bytes:
    """Distinct bytes at every offset (a counter from `seed`), so a wrong slice cannot pass; cheaper
    than drawing large data from hypothesis."""
    return b"".join((seed + i).to_bytes(4, "big") for i in range(size // 4 + 1))[:size]


# --- sealed age files, in memory -------------------------------------------------------------------

IDENTITY = X25519Identity.generate()
RECORDING = "8d7c2f9e-0000-4000-8000-000000000001"
SEALED = CHUNK_SIZE + TAG_SIZE


def chunk_at(index: int) -> int:
    """Ciphertext offset of chunk `index`, computed independently of the code under test."""
    return PAYLOAD_NONCE_SIZE + index * SEALED


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def seal(data: bytes, piece: int = 100_000, recording_id: str = RECORDING) -> tuple[bytes, bytes]:
    """Header and payload of `data` sealed to IDENTITY, fed to the sealer `piece` bytes at a time."""
    sealer = Sealer([IDENTITY.recipient()], recording_id=recording_id)
    payload = b"".join(sealer.update(p) for p in pieces(data, piece)) + sealer.finalize()
    assert sealer.plaintext_size == len(data)
    assert sealer.payload_size == len(payload)
    return sealer.header, payload


def reader(header: bytes, payload: bytes, read: Callable[[int, int], bytes] | None = None) -> PayloadReader:
    key = unwrap_file_key(header, [IDENTITY], recording_id=RECORDING)
    read = read or (lambda offset, length: payload[offset : offset + length])
    return PayloadReader(key, payload_size=len(payload), read_payload=read)


def open_all(header: bytes, payload: bytes) -> bytes:
    return b"".join(reader(header, payload).iter_all())


def flip(data: bytes, position: int, bit: int = 0) -> bytes:
    """`data` with one bit changed: what tampering, or a bad disk, does."""
    changed = bytearray(data)
    changed[position] ^= 1 << bit
    return bytes(changed)


# --- access grants -----------------------------------------------------------------------------------


def grant_for(
    recording: Any, *, starts: timedelta = timedelta(0), ends: timedelta = timedelta(hours=72)
) -> AccessGrant:
    """A grant row with any window (complaints.services issues real ones after approval; these
    tests pin what unseal itself refuses, whatever window a grant carries)."""
    officer, _ = get_user_model().objects.get_or_create(username="officer")
    now = timezone.now()
    case = ComplaintCase.objects.create(
        customer_ref="CUST-1", customer_ref_hash="0" * 64, channel="phone", complaint="test",
        received_at=now, respond_by=now, opened_by=officer, opened_at=now,
    )  # fmt: skip
    request = AccessRequest.objects.create(
        case=case, requester=officer, justification="test", requested_at=now, status="approved"
    )
    grant = AccessGrant.objects.create(
        case=case, request=request, grantee=officer, starts_at=now + starts, ends_at=now + ends
    )
    grant.recordings.add(recording)
    return grant
