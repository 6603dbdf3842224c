"""Fixtures for complaint cases: staff with roles (add_staff), and customers' sessions with real
sealed recordings made through the recorder API."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from audit.models import LedgerEntry
from recorder.models import Recording
from recorder.sealing import CHUNK_SIZE
from tests.factories import SessionPayload

PASSWORD = "correct horse battery staple"


def add_staff(username: str, role: str) -> Any:
    call_command(
        "add_staff", username, "--role", role, "--password-stdin",
        stdin=io.StringIO(PASSWORD + "\n"), stdout=io.StringIO(),
    )  # fmt: skip
    return get_user_model().objects.get(username=username)


@dataclass
class Staff:
    officer: Any
    other_officer: Any
    dpo: Any
    other_dpo: Any
    auditor: Any
    operator: Any
    superuser: Any


@pytest.fixture
def staff(db, settings) -> Staff:
    # Seven users a test: a fast hasher keeps the suite quick (sign-in itself is tested elsewhere).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    superuser = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    return Staff(
        officer=add_staff("olivia", "compliance_officer"),
        other_officer=add_staff("oscar", "compliance_officer"),
        dpo=add_staff("dora", "data_protection_officer"),
        other_dpo=add_staff("dan", "data_protection_officer"),
        auditor=add_staff("audrey", "auditor"),
        operator=add_staff("otto", "operator"),
        superuser=superuser,
    )


def plaintext(size: int) -> bytes:
    """Distinct bytes at every offset (a counter pattern), so a wrong slice cannot pass."""
    return b"".join(i.to_bytes(4, "big") for i in range(size // 4 + 1))[:size]


@dataclass
class Recorded:
    session_id: str
    recording_id: str
    body: bytes


MakeSession = Callable[..., Recorded]


@pytest.fixture
def store_kind() -> str:
    """The local store by default; tests that must see both stores parametrize `store_kind`."""
    return "local"


@pytest.fixture
def make_session(api: APIClient, store, age_keys) -> MakeSession:
    """`make_session(customer_ref, size=...)`: a session registered and recorded through the API."""

    def make(customer_ref: str = "CUST-4711", *, size: int = 3 * CHUNK_SIZE + 1234) -> Recorded:
        session_id = api.post(
            "/api/v1/sessions", SessionPayload(customer_ref=customer_ref), format="json"
        ).json()["id"]
        body = plaintext(size)
        answer = api.put(f"/api/v1/sessions/{session_id}/recording", body, content_type="video/webm")
        assert answer.status_code == 201, answer.content
        return Recorded(session_id, answer.json()["id"], body)

    return make


def ledger_actions(**filters: Any) -> list[str]:
    return list(LedgerEntry.objects.filter(**filters).order_by("seq").values_list("action", flat=True))


def recording(recording_id: str) -> Recording:
    return Recording.objects.get(id=recording_id)
