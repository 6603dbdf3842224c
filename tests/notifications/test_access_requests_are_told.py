"""Data protection officers are told when an access request awaits their decision, the officer
when it is decided; the messages name the case by its short id and carry no personal data; a
change that rolls back sends nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from complaints import services
from notifications.models import Notification
from notifications.selectors import tallies
from tests.notifications.conftest import assert_no_personal_data, request_access

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]


def test_every_data_protection_officer_but_the_requester_is_told_of_a_waiting_request(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    request_access(addressed, opened, django_capture_on_commit_callbacks)
    assert smtp.addressees() == ["dan@staff.example.org", "dora@staff.example.org"]
    message = smtp.to("dora@staff.example.org")[0]
    assert message.subject == f"[Vault] Case {opened.short}: an access request awaits your decision"
    assert message.message["From"] == "vault@example.org"
    assert message.message["Auto-Submitted"] == "auto-generated"
    assert "https://vault.example.org/cases/approvals/" in message.body
    assert "Europe/Berlin" not in message.body and ("CET" in message.body or "CEST" in message.body)
    assert_no_personal_data(smtp, *opened.secrets())


def test_the_officer_is_told_of_the_approval_with_the_end_of_the_access(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    request = request_access(addressed, opened, django_capture_on_commit_callbacks)
    smtp.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_access_request(
            approver=addressed.dpo, request_id=request.id, reason="Justified: see X."
        )
    assert smtp.addressees() == ["olivia@staff.example.org"]
    message = smtp.received[0]
    assert message.subject == f"[Vault] Case {opened.short}: your access request was approved"
    assert "Your access ends on" in message.body
    assert f"https://vault.example.org/cases/{opened.case.id}/" in message.body
    assert_no_personal_data(smtp, "Justified: see X.", *opened.secrets())


def test_the_officer_is_told_of_a_rejection_without_its_reason(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    request = request_access(addressed, opened, django_capture_on_commit_callbacks)
    smtp.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.reject_access_request(
            approver=addressed.other_dpo, request_id=request.id, reason="Not shown."
        )
    assert smtp.addressees() == ["olivia@staff.example.org"]
    assert smtp.received[0].subject == f"[Vault] Case {opened.short}: your access request was rejected"
    assert_no_personal_data(smtp, "Not shown.", *opened.secrets())


def test_a_request_that_rolls_back_sends_nothing_and_leaves_no_record(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    class Abandoned(Exception):
        pass

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Abandoned), transaction.atomic():
        services.request_access(officer=addressed.officer, case_id=opened.case.id, justification="Needed.")
        raise Abandoned
    assert smtp.received == []
    assert not Notification.objects.exists()


def test_a_data_protection_officer_without_an_address_is_skipped_and_counted(
    smtp, addressed, opened, django_capture_on_commit_callbacks, caplog
) -> None:
    addressed.other_dpo.email = ""
    addressed.other_dpo.save(update_fields=["email"])
    request_access(addressed, opened, django_capture_on_commit_callbacks)
    assert smtp.addressees() == ["dora@staff.example.org"]
    assert ("access_request_waiting", "no_address", 1) in tallies()
    assert ("access_request_waiting", "sent", 1) in tallies()
    ours = [record for record in caplog.records if not record.name.startswith("mail.log")]  # aiosmtpd's
    logged = " ".join(record.getMessage() for record in ours)
    assert "without an e-mail address" in logged
    assert "dan" not in logged and "dora" not in logged
