"""Staff users for page tests: one per role, made the way `manage.py add_staff` makes them."""

from __future__ import annotations

import io

from django.contrib.auth import get_user_model
from django.core.management import call_command

from staff.roles import ROLES

PASSWORD = "correct horse battery staple"


def make_staff(username: str, role: str | None, password: str = PASSWORD):
    """A staff user with `role` (None: a signed-in account without any role)."""
    if role is None:
        return get_user_model().objects.create_user(username=username, password=password)
    call_command(
        "add_staff", username, "--role", role, "--password-stdin",
        stdin=io.StringIO(password + "\n"), stdout=io.StringIO(),
    )  # fmt: skip
    return get_user_model().objects.get(username=username)


def one_of_each_role() -> dict[str, object]:
    """{role: user} for every role, plus "no_role": a signed-in account with none."""
    users: dict[str, object] = {role: make_staff(role.replace("_", "-"), role) for role in ROLES}
    users["no_role"] = make_staff("no-role", None)
    return users
