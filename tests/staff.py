"""Staff for the tests: users made the way `manage.py add_staff` makes them, the seven people of the
complaint workflow, and browsers signed in as one of them. Every test that needs staff comes here."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from audit.services import Actor
from staff.account_changes import acting_as
from staff.roles import RECORDING_ROLES, ROLES, assign_role

PASSWORD = "correct horse battery staple"


def add_staff(username: str, role: str, password: str = PASSWORD) -> str:
    """Run `manage.py add_staff USERNAME --role ROLE --password-stdin` as an operator does (the
    password on standard input, never an argument); what the command printed."""
    out = io.StringIO()
    call_command(
        "add_staff", username, "--role", role, "--password-stdin",
        stdin=io.StringIO(password + "\n"), stdout=out,
    )  # fmt: skip
    return out.getvalue()


def make_staff(username: str, role: str | None, password: str = PASSWORD) -> Any:
    """A staff user with `role`, made by `add_staff` (None: a signed-in account without any role).
    Officers and DPOs also get the TOTP authenticator their owner enrols (enrol_totp)."""
    if role is None:
        return get_user_model().objects.create_user(username=username, password=password)
    add_staff(username, role, password)
    user = get_user_model().objects.get(username=username)
    if role in RECORDING_ROLES:
        enrol_totp(user)
    return user


def enrol_totp(user: Any) -> Any:
    """A confirmed TOTP device of `user`'s, stored as their own enrolment stores it (the owner as
    the actor); the enrolment page itself is tested in tests/staff_accounts."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    with acting_as(Actor.for_user(user)):
        return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def totp_code(device: Any, *, step: int | None = None) -> str:
    """The code `device` shows at time step `step` (default: now), as an authenticator app does."""
    import time

    from django_otp.oath import hotp

    if step is None:
        step = (int(time.time()) - device.t0) // device.step + device.drift
    return str(hotp(device.bin_key, step, digits=device.digits)).zfill(device.digits)


def fresh_totp_code(user: Any) -> str:
    """A current code of `user`'s authenticator that the device has not accepted yet. A device
    takes each time step's code once; a test that steps the same person up several times within
    one 30-second step is given a later step's code while the device's tolerance allows, and
    else the device's record of the last step used is reset first (directly: that column is no
    account change)."""
    import time

    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    now = (int(time.time()) - device.t0) // device.step + device.drift
    step = max(now, device.last_t + 1)
    if step > now + device.tolerance:
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
        step = now
    return totp_code(device, step=step)


def step_up(client: Client, user: Any, *, password: str = PASSWORD, code: str | None = None) -> Any:
    """The step-up form, filled in and sent as the user's browser does: password and a current
    code (fresh_totp_code unless `code`). The response."""
    page = client.get("/accounts/step-up/")
    data = {"password": password, "code": code if code is not None else fresh_totp_code(user), "next": "/"}
    token = client.cookies.get("csrftoken")
    if token is not None:
        data["csrfmiddlewaretoken"] = token.value
    assert page.status_code in (200, 302), page
    return client.post("/accounts/step-up/", data)


def _step_up_if_enrolled(client: Client, user: Any) -> None:
    """Officers and DPOs with an authenticator step up as they would before playback or an
    approval; a sign-in alone is no step-up."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        answer = step_up(client, user)
        assert answer.status_code == 302, answer.content.decode()[:500]


def make_role_holder(username: str, role: str | None) -> Any:
    """A user given `role` by `staff.roles.assign_role` alone, without the command: no password to
    sign in with, not in the admin, its role change on the ledger with no actor. The audit tests
    count the ledger's entries from what this leaves."""
    user = get_user_model().objects.create_user(username=username, password="not used here 12345")
    if role:
        assign_role(user=user, role=role)
    return user


def one_of_each_role() -> dict[str, object]:
    """{role: user} for every role, plus "no_role": a signed-in account with none."""
    users: dict[str, object] = {role: make_staff(role.replace("_", "-"), role) for role in ROLES}
    users["no_role"] = make_staff("no-role", None)
    return users


@dataclass
class Staff:
    """The people of the complaint workflow (the `staff` fixture): two of each role that has a
    four-eyes rule between people, one of each other role, and a superuser without a role."""

    officer: Any
    other_officer: Any
    dpo: Any
    other_dpo: Any
    auditor: Any
    operator: Any
    superuser: Any


def make_workflow_staff() -> Staff:
    superuser = get_user_model().objects.create_superuser("root", "root@example.org", PASSWORD)
    return Staff(
        officer=make_staff("olivia", "compliance_officer"),
        other_officer=make_staff("oscar", "compliance_officer"),
        dpo=make_staff("dora", "data_protection_officer"),
        other_dpo=make_staff("dan", "data_protection_officer"),
        auditor=make_staff("audrey", "auditor"),
        operator=make_staff("otto", "operator"),
        superuser=superuser,
    )


def signed_in(user: Any, *, csrf: bool = False) -> Client:
    """A browser signed in as `user` (`Client.login()` passes no request, which django-axes
    refuses), stepped up with password and code if `user` has an authenticator (officers, DPOs:
    make_staff). With `csrf`, CSRF is enforced and the browser holds the cookie, as after any
    page with a form."""
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    if csrf:
        client.get("/accounts/step-up/")  # a page with a form: sets the CSRF cookie
    _step_up_if_enrolled(client, user)
    return client


def signed_in_api(user: Any) -> APIClient:
    """DRF's test client (bodies by `format=`) signed in as `user`, as `signed_in`."""
    client = APIClient()
    client.force_login(user)
    _step_up_if_enrolled(client, user)
    return client


def sign_in(client: Client, username: str, password: str = PASSWORD) -> Any:
    """The sign-in form, filled in and sent as a browser does (its CSRF cookie first)."""
    client.get("/accounts/login/")
    return client.post(
        "/accounts/login/",
        {
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )


def account_changes(username: str | None = None) -> list[dict[str, Any]]:
    """The ledger's `staff.account_changed` entries (of `username`'s account if given), oldest
    first, each as {"actor", "actor_kind", **details}."""
    from audit.models import LedgerEntry

    entries = LedgerEntry.objects.filter(action="staff.account_changed").order_by("seq")
    found = [{"actor": e.actor_label, "actor_kind": e.actor_kind, **e.details} for e in entries]
    return [entry for entry in found if username is None or entry["username"] == username]


def admin_change_form(client: Client, user: Any, **changes: Any) -> Any:
    """POST the admin's change form of `user` as a superuser's browser does: every field as the
    page shows it, then `changes`. The response."""
    path = f"/admin/auth/user/{user.pk}/change/"
    form = client.get(path).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({key: "" for key in ("last_login_0", "last_login_1")}, date_joined_0="2026-01-01",
                date_joined_1="00:00:00", password=user.password)  # fmt: skip
    data.update(changes)
    return client.post(path, data)
