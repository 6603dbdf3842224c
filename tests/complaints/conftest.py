"""Fixtures for complaint cases: the local store (tests that must see both stores parametrize
`store_kind`), a case with an access request awaiting approval, and the ledger's actions.

The staff and the recordings (`staff`, `make_session`) are tests/conftest.py's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from audit.models import LedgerEntry
from complaints import services
from complaints.models import AccessRequest, ComplaintCase


@dataclass
class World:
    case: ComplaintCase
    recording_id: str
    request: AccessRequest


@pytest.fixture
def world(staff, make_session) -> World:
    """A case of CUST-4711 opened by the officer on one recorded session, access requested."""
    recorded = make_session("CUST-4711")
    case = services.open_case(
        officer=staff.officer, customer_ref="CUST-4711", channel="phone",
        complaint="The agent changed my settings.", session_ids=[recorded.session_id],
    )  # fmt: skip
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    return World(case=case, recording_id=recorded.recording_id, request=request)


def ledger_actions(**filters: Any) -> list[str]:
    return list(LedgerEntry.objects.filter(**filters).order_by("seq").values_list("action", flat=True))
