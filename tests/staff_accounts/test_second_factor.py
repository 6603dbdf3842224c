"""The second factor, tried as its owner and as an attacker: enrolled on its page (the secret
shown once, never again, by no page, the admin included), used at step-up, a wrong code refused
and counted in the sign-in throttle until sign-ins pause, a recovery code used once, an officer
without a device sent to enrol, and a replacement that needs the present device."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import LedgerEntry
from tests.staff import PASSWORD, account_changes, add_staff, fresh_totp_code, step_up, totp_code

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def newcomer() -> tuple[Client, object]:
    """An officer made by add_staff, signed in, with no authenticator yet."""
    add_staff("nora", "compliance_officer")
    user = User.objects.get(username="nora")
    client = Client()
    client.force_login(user)
    return client, user


def enrol(client: Client, user: object) -> tuple[TOTPDevice, list[str]]:
    """The enrolment page as the owner uses it: read the secret, type the app's code."""
    page = client.get("/accounts/second-factor/")
    assert page.status_code == 200 and b"<svg" in page.content
    secret = page.context["secret"]
    key = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    answer = client.post("/accounts/second-factor/", {"code": totp_code(TOTPDevice(user=user, key=key))})
    assert answer.status_code == 200, answer.content.decode()[:300]
    return TOTPDevice.objects.get(user=user), answer.context["codes"]


def test_an_officer_without_a_device_is_sent_to_enrol_before_step_up(newcomer) -> None:
    client, _ = newcomer
    answer = client.get("/accounts/step-up/", {"next": "/cases/"})
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/second-factor/?next=")


def test_enrolment_shows_the_secret_once_and_never_again(newcomer) -> None:
    client, user = newcomer
    device, codes = enrol(client, user)
    assert device.confirmed and len(codes) == 10 and len(set(codes)) == 10
    enrolled_secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    again = client.get("/accounts/second-factor/")
    assert enrolled_secret.encode() not in again.content  # a replacement shows a new secret only
    change = [c for c in account_changes("nora") if c["change"] == "second_factor_added"][-1]
    assert change["actor"] == "nora" and change["fields"] == ["confirmed"]
    assert enrolled_secret not in str(list(LedgerEntry.objects.values_list("details", flat=True)))
    root = Client()
    root.force_login(User.objects.create_superuser("root", "root@example.org", PASSWORD))
    for path in ("/admin/otp_totp/totpdevice/", f"/admin/otp_totp/totpdevice/{device.pk}/change/",
                 "/admin/otp_static/staticdevice/", "/admin/"):  # fmt: skip
        page = root.get(path)
        assert enrolled_secret.encode() not in page.content and device.key.encode() not in page.content
    assert root.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_a_wrong_enrolment_code_stores_nothing(newcomer) -> None:
    client, user = newcomer
    client.get("/accounts/second-factor/")
    answer = client.post("/accounts/second-factor/", {"code": "000000"})
    assert answer.status_code == 400
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_step_up_with_code_recovery_code_once_and_wrong_codes_throttled(newcomer, settings) -> None:
    client, user = newcomer
    _, codes = enrol(client, user)
    assert step_up(client, user).status_code == 302
    assert step_up(client, user, code=codes[0]).status_code == 302
    assert step_up(client, user, code=codes[0]).status_code == 400  # used up
    assert not StaticToken.objects.filter(token=codes[0]).exists()
    assert LedgerEntry.objects.filter(
        action="auth.stepped_up", details__second_factor="recovery_code"
    ).exists()
    # Wrong codes with the right password count as failed sign-ins, with the used-up recovery
    # code above: the failure that reaches the limit and every attempt after it are paused.
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [step_up(client, user, code="123456").status_code for _ in range(limit)]
    assert statuses == [400] * (limit - 2) + [429, 429]
    paused = step_up(client, user)  # even the right code, while paused
    assert paused.status_code == 429
    assert fresh_totp_code(user)  # the device itself is untouched


def test_replacing_an_authenticator_needs_a_code_of_the_present_one(newcomer) -> None:
    client, user = newcomer
    enrol(client, user)
    client.get("/accounts/second-factor/")
    new = TOTPDevice(user=user, key=client.session["vault_totp_pending"])
    answer = client.post("/accounts/second-factor/", {"current_code": "000000", "code": totp_code(new)})
    assert answer.status_code == 400 and b"present authenticator" in answer.content
    assert TOTPDevice.objects.filter(user=user).count() == 1
