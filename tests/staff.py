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

from staff.roles import ROLES, assign_role

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
    """A staff user with `role`, made by `add_staff` (None: a signed-in account without any role)."""
    if role is None:
        return get_user_model().objects.create_user(username=username, password=password)
    add_staff(username, role, password)
    return get_user_model().objects.get(username=username)


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
    """A browser signed in as `user`. `force_login` sends user_logged_in, so the session notes a
    fresh authentication (no step-up asked); `Client.login()` passes no request, which django-axes
    refuses. With `csrf`, CSRF is enforced and the browser holds the cookie, as after any page with
    a form."""
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    if csrf:
        client.get("/accounts/step-up/")  # a page with a form: sets the CSRF cookie
    return client


def signed_in_api(user: Any) -> APIClient:
    """DRF's test client (bodies by `format=`) signed in as `user`, as `signed_in`."""
    client = APIClient()
    client.force_login(user)
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
