"""The takeover of a grantee, tried as an administrator would: set the officer's password in the
admin, sign in as the officer, step up, stream. Every step is refused or leaves evidence: the
grant is revoked in the transaction of the password change, the ledger names the administrator,
the case's history says why, and the account opens nothing until its owner renews both
credentials themselves."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import LedgerEntry
from audit.services import Actor
from complaints import services
from complaints.models import AccessGrant, ComplaintCase
from core.errors import Forbidden
from staff.account_changes import acting_as
from staff.models import CredentialStatus
from tests.complaints.test_playback import stream_url, streamed
from tests.staff import account_changes, fresh_totp_code, sign_in, signed_in, step_up, totp_code

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]

NEW = "the administrator chose this 2026"


@pytest.fixture
def grant_in_force(staff, make_session):
    """The officer holds an active grant on a case with one recording; (case, grant, made)."""
    made = make_session(size=4096)
    case = services.open_case(
        officer=staff.officer, customer_ref="CUST-4711", channel="email",
        complaint="The agent changed my settings.", session_ids=[made.session_id],
    )  # fmt: skip
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Check it.")
    grant = services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="Fine.")
    return case, grant, made


def admin_sets_password(staff) -> None:
    root = Client()
    root.force_login(staff.superuser)
    answer = root.post(
        f"/admin/auth/user/{staff.officer.pk}/password/",
        {"password1": NEW, "password2": NEW, "usable_password": "true"},
    )
    assert answer.status_code == 302


def test_a_superuser_who_resets_a_grantees_password_cannot_stream_and_is_named(staff, grant_in_force) -> None:
    case, grant, made = grant_in_force
    officer_browser = signed_in(staff.officer)  # the officer, stepped up, watching
    assert (
        officer_browser.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=0-9").status_code == 206
    )

    admin_sets_password(staff)

    # The evidence: the change names the administrator, the grant went with it, the case says why.
    change = account_changes("olivia")[-1]
    assert (change["actor"], change["change"], change["fields"]) == ("root", "updated", ["password"])
    grant.refresh_from_db()
    assert grant.revoked_at is not None
    revoked = LedgerEntry.objects.get(action="access_grant.revoked", case_id=case.id)
    assert revoked.actor_label == "root" and revoked.details["reason"] == "password_set_by_another"
    assert ComplaintCase.objects.get(pk=case.pk).status == ComplaintCase.Status.OPEN
    status = CredentialStatus.objects.get(user=staff.officer)
    assert status.must_set_password and status.must_enrol and status.voided_by == "root"

    # The officer's own session ended with the password (Django's session hash).
    assert officer_browser.get(stream_url(case.id, made.recording_id)).status_code in (401, 403)

    # The administrator signs in as the officer: the password works, nothing else does.
    attacker = Client()
    assert sign_in(attacker, "olivia", NEW).status_code == 302
    refused = attacker.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=0-9")
    assert refused.status_code == 403
    blocked = attacker.post("/accounts/step-up/", {"password": NEW, "code": fresh_totp_code(staff.officer)})
    assert blocked.status_code == 403 and b"set by someone other than you" in blocked.content
    with pytest.raises(Forbidden):
        services.request_access(officer=staff.officer, case_id=case.id, justification="Again.")
    denied = LedgerEntry.objects.filter(action="access.denied", actor_label="olivia").values_list(
        "details__reason", flat=True
    )
    assert "credentials_renewal_required" in set(denied)


def test_the_owner_renews_both_credentials_and_may_request_again(staff, grant_in_force) -> None:
    case, _, made = grant_in_force
    admin_sets_password(staff)
    owner = Client()
    sign_in(owner, "olivia", NEW)
    mine = "my own passphrase again 77"
    answer = owner.post(
        "/accounts/password/", {"old_password": NEW, "new_password1": mine, "new_password2": mine}
    )
    assert answer.status_code == 302
    status = CredentialStatus.objects.get(user=staff.officer)
    assert not status.must_set_password and status.must_enrol  # the second factor still to renew
    assert account_changes("olivia")[-1]["actor"] == "olivia"
    # Replacing the authenticator needs a code of the present one: the owner has it.
    owner.get("/accounts/second-factor/")
    new_device = TOTPDevice(user=staff.officer, key=owner.session["vault_totp_pending"])
    enrolled = owner.post(
        "/accounts/second-factor/",
        {"current_code": fresh_totp_code(staff.officer), "code": totp_code(new_device)},
    )
    assert enrolled.status_code == 200 and b"recovery codes" in enrolled.content
    status.refresh_from_db()
    assert not status.blocked
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Again.")
    services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="Fine again.")
    assert step_up(owner, staff.officer, password=mine).status_code == 302
    answer = owner.get(stream_url(case.id, made.recording_id), HTTP_RANGE="bytes=0-9")
    assert answer.status_code == 206 and streamed(answer) == made.body[:10]


def test_a_second_factor_removed_by_someone_else_voids_grants_and_step_up(staff, grant_in_force) -> None:
    """Not through the admin (it shows no device): a shell as the superuser, say."""
    case, grant, made = grant_in_force
    officer_browser = signed_in(staff.officer)
    with acting_as(Actor.for_user(staff.superuser)):
        TOTPDevice.objects.filter(user=staff.officer).delete()
    removed = account_changes("olivia")[-1]
    assert (removed["actor"], removed["change"]) == ("root", "second_factor_removed")
    assert AccessGrant.objects.get(pk=grant.pk).revoked_at is not None
    assert officer_browser.get(stream_url(case.id, made.recording_id)).status_code == 403
    # Sent to enrol before any step-up; the account stays blocked until the owner enrols.
    answer = officer_browser.get("/accounts/step-up/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/second-factor/")


def test_the_approver_is_taken_over_the_same_way(staff, make_session) -> None:
    made = make_session(size=2048)
    case = services.open_case(
        officer=staff.officer, customer_ref="CUST-4711", channel="email", complaint="Again.",
        session_ids=[made.session_id],
    )  # fmt: skip
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Check it.")
    root = Client()
    root.force_login(staff.superuser)
    root.post(
        f"/admin/auth/user/{staff.dpo.pk}/password/",
        {"password1": NEW, "password2": NEW, "usable_password": "true"},
    )
    attacker = Client()
    sign_in(attacker, "dora", NEW)
    answer = attacker.post(
        f"/api/v1/access-requests/{request.id}/approve",
        {"reason": "Looks fine."},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=attacker.cookies["csrftoken"].value,
    )
    assert answer.status_code == 403
    with pytest.raises(Forbidden):
        services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="Fine.")
