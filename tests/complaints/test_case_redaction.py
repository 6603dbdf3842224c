"""A closed case ends: CASE_RETENTION after closing its customer reference becomes its keyed hash
and its free texts a marker, its key goes with them; dates, outcome and ledger history stay, and
the ledger still verifies. Free text never entered the ledger in the first place."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
import time_machine

from audit.exports import ExportFilters
from audit.models import LedgerEntry
from audit.services import create_export
from complaints import commitments, services
from complaints.models import AccessRequest, ComplaintCase
from complaints.tasks import redact_closed_cases
from core.periods import add_period
from recorder.pseudonyms import customer_hash
from retention.services import purge_expired
from tests.ledger import verify_ledger
from tests.staff import signed_in, signed_in_api

pytestmark = pytest.mark.django_db
NAME = "Jane Q. Doe of 12 Elm Street"  # personal data an officer types into a reason


def _texts_anywhere(text: str) -> list[str]:
    found = []
    for case in ComplaintCase.objects.all():
        if text in " ".join([case.customer_ref, case.complaint, case.summary]):
            found.append(f"case {case.id}")
    for request in AccessRequest.objects.all():
        if text in request.justification + request.reason:
            found.append(f"request {request.id}")
    found += [
        f"ledger {seq}"
        for seq, d in LedgerEntry.objects.values_list("seq", "details")
        if text in json.dumps(d)
    ]
    return found


@pytest.fixture
def closed_case(staff, world) -> ComplaintCase:
    services.approve_access_request(
        approver=staff.dpo, request_id=world.request.id, reason=f"Approved; {NAME}"
    )
    services.close_case(
        officer=staff.officer,
        case_id=world.case.id,
        outcome="abuse_not_confirmed",
        summary=f"Called {NAME} back.",
    )
    return ComplaintCase.objects.get(pk=world.case.pk)


def test_free_text_is_kept_with_the_case_and_only_committed_to_in_the_ledger(closed_case) -> None:
    assert sorted(_texts_anywhere(NAME)) == sorted(
        [f"request {closed_case.access_requests.get().id}", f"case {closed_case.id}"]
    )
    closing = LedgerEntry.objects.get(action="case.closed", case_id=closed_case.id)
    assert closing.details["text"] == "case.summary"
    assert commitments.check(closing.details, key=closed_case.text_key, text=closed_case.summary)
    assert not commitments.check(closing.details, key=closed_case.text_key, text=closed_case.summary + " ")


def test_a_closed_case_is_redacted_case_retention_after_closing(closed_case, staff, settings) -> None:
    due = add_period(closed_case.closed_at, settings.CASE_RETENTION)
    with time_machine.travel(due - timedelta(seconds=1), tick=False):
        assert redact_closed_cases() == 0
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        assert redact_closed_cases() == 1
        assert redact_closed_cases() == 0  # once
        purge_expired()  # beat ran it long before: the case's sessions ended with their recordings
    case = ComplaintCase.objects.get(pk=closed_case.pk)
    assert case.customer_ref == customer_hash("CUST-4711") == case.customer_ref_hash
    assert case.complaint.startswith("[redacted ") and "retention_expired" in case.complaint
    assert case.summary == case.complaint and case.text_key == ""
    assert (case.outcome, case.closed_at, case.opened_at) == (
        closed_case.outcome, closed_case.closed_at, closed_case.opened_at
    )  # fmt: skip
    for raw in (NAME, "CUST-4711", "The agent changed my settings.", "Needed."):
        assert _texts_anywhere(raw) == [], raw
    answer = signed_in_api(staff.dpo).get(f"/api/v1/cases/{case.id}")
    assert answer.status_code == 200
    for raw in (NAME, "CUST-4711", "The agent changed my settings."):
        assert raw not in answer.content.decode(), raw
    entry = LedgerEntry.objects.get(action="case.redacted", case_id=case.id)
    assert entry.details["reason"] == "retention_expired" and entry.actor_label == "case-retention"
    # The history stays, and the ledger, never changed, still verifies.
    assert LedgerEntry.objects.filter(case_id=case.id, action="case.closed").exists()
    verify_ledger()


def test_an_open_case_is_never_redacted(world, settings) -> None:
    with time_machine.travel(add_period(world.case.opened_at, "P10Y"), tick=False):
        assert redact_closed_cases() == 0
    assert ComplaintCase.objects.get(pk=world.case.pk).customer_ref == "CUST-4711"


def test_case_retention_is_a_setting(closed_case, settings) -> None:
    settings.CASE_RETENTION = "P2Y"
    with time_machine.travel(add_period(closed_case.closed_at, "P1Y") + timedelta(days=1), tick=False):
        assert redact_closed_cases() == 0
    with time_machine.travel(add_period(closed_case.closed_at, "P2Y") + timedelta(days=1), tick=False):
        assert redact_closed_cases() == 1


def _texts_json(staff, export_id) -> list[dict]:
    answer = signed_in_api(staff.auditor).get(f"/api/v1/audit/exports/{export_id}/texts.json")
    assert answer.status_code == 200
    return answer.json()["texts"]


def test_the_auditor_sees_each_text_beside_its_entry_proven_then_when_and_why_it_went(
    closed_case, staff, settings
) -> None:
    page = signed_in(staff.auditor).get(f"/audit/?case_id={closed_case.id}").content.decode()
    assert f"Called {NAME} back." in page and "matches the commitment" in page
    export = create_export(user=staff.auditor, filters=ExportFilters(case_id=closed_case.id))
    texts = {t["where"]: t for t in _texts_json(staff, export.id)}
    assert set(texts) == {"request.justification", "request.reason", "case.summary"}
    closing = LedgerEntry.objects.get(action="case.closed", case_id=closed_case.id)
    summary = texts["case.summary"]
    assert summary["seq"] == closing.seq and summary["matches"] is True
    # Anyone can check it without the vault: HMAC-SHA256(key, text) is the entry's commitment.
    digest = hmac.new(bytes.fromhex(summary["key"]), summary["text"].encode(), hashlib.sha256).hexdigest()
    assert digest == closing.details["text_hmac"]
    download = signed_in_api(staff.auditor).get(f"/api/v1/audit/exports/{export.id}/entries.jsonl")
    entries_before = b"".join(download.streaming_content)

    with time_machine.travel(add_period(closed_case.closed_at, settings.CASE_RETENTION) + timedelta(days=1)):
        assert redact_closed_cases() == 1
    page = signed_in(staff.auditor).get(f"/audit/?case_id={closed_case.id}").content.decode()
    assert NAME not in page and "retention_expired" in page and "redacted" in page
    after = {t["where"]: t for t in _texts_json(staff, export.id)}
    assert after["case.summary"]["text"] is None and after["case.summary"]["key"] is None
    assert (
        after["case.summary"]["redaction_reason"] == "retention_expired"
        and after["case.summary"]["redacted_at"]
    )
    # The signed export is unchanged (the manifest's digest still names it) and the ledger verifies.
    download = signed_in_api(staff.auditor).get(f"/api/v1/audit/exports/{export.id}/entries.jsonl")
    entries_after = b"".join(download.streaming_content)
    assert entries_after == entries_before
    assert hashlib.sha256(entries_after).hexdigest() == export.files["entries.jsonl"]["sha256"]
    verify_ledger()
