"""Each staff member turns off the kinds they do not need, except approvals waiting for them, and
chooses the language of their e-mails; a German reader gets German e-mails."""

from __future__ import annotations

import pytest

from complaints import services
from core.errors import InvalidInput
from notifications.models import NotificationPreferences
from notifications.services import set_preferences
from tests.notifications.conftest import request_access
from tests.staff import signed_in

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]
PAGE = "/accounts/notifications/"


def test_the_page_lists_the_kinds_of_each_role_and_the_address(addressed) -> None:
    officer = signed_in(addressed.officer).get(PAGE)
    assert officer.status_code == 200
    assert b"Your access request was approved or rejected" in officer.content
    assert b"olivia@staff.example.org" in officer.content
    assert b"A purge run failed" not in officer.content
    dpo = signed_in(addressed.dpo).get(PAGE).content.decode()
    assert "An access request awaits your decision" in dpo
    assert 'name="access_request_waiting"' in dpo and "disabled" in dpo
    assert b"A purge run failed" in signed_in(addressed.operator).get(PAGE).content
    assert b"Your role receives no notifications." in signed_in(addressed.auditor).get(PAGE).content


def test_a_kind_turned_off_is_not_sent(smtp, addressed, opened, django_capture_on_commit_callbacks) -> None:
    answer = signed_in(addressed.officer).post(PAGE, {"language": "en", "grant_ending": "on"})
    assert answer.status_code == 302
    muted = NotificationPreferences.objects.get(user=addressed.officer).muted
    assert muted == ["access_decided", "answer_due"]
    request = request_access(addressed, opened, django_capture_on_commit_callbacks)
    smtp.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_access_request(approver=addressed.dpo, request_id=request.id, reason="Yes.")
    assert smtp.received == []


def test_approvals_waiting_cannot_be_turned_off(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    answer = signed_in(addressed.dpo).post(PAGE, {"language": "en", "access_request_waiting": ""})
    assert answer.status_code == 302
    assert NotificationPreferences.objects.get(user=addressed.dpo).muted == []
    with pytest.raises(InvalidInput) as refused:
        set_preferences(user=addressed.dpo, language="en", muted=["access_request_waiting"])
    assert refused.value.code == "notification_required"
    with pytest.raises(InvalidInput):  # another role's kind
        set_preferences(user=addressed.dpo, language="en", muted=["purge_lag"])
    request_access(addressed, opened, django_capture_on_commit_callbacks)
    assert "dora@staff.example.org" in smtp.addressees()


def test_an_unknown_language_is_refused_with_the_form_again(addressed) -> None:
    answer = signed_in(addressed.officer).post(PAGE, {"language": "fr"})
    assert answer.status_code == 400
    assert not NotificationPreferences.objects.exists()


def test_a_german_reader_gets_german_e_mails(
    smtp, addressed, opened, django_capture_on_commit_callbacks
) -> None:
    set_preferences(user=addressed.dpo, language="de", muted=[])
    request_access(addressed, opened, django_capture_on_commit_callbacks)
    german = smtp.to("dora@staff.example.org")[0]
    english = smtp.to("dan@staff.example.org")[0]
    assert german.subject == f"[Vault] Fall {opened.short}: Ein Zugriffsantrag wartet auf Ihre Entscheidung"
    assert german.message["Content-Language"] == "de"
    assert "Hier entscheiden:" in german.body
    assert english.subject == f"[Vault] Case {opened.short}: an access request awaits your decision"


def test_the_header_links_the_page_for_staff_with_a_role(addressed) -> None:
    assert b'href="/accounts/notifications/"' in signed_in(addressed.auditor).get("/").content
