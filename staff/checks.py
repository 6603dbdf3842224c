"""System check: no account is both a superuser and the holder of a role that opens recordings.
`add_staff` and the admin refuse to make one; this finds one made any other way."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.checks import Error, register
from django.db import DatabaseError

from staff.roles import RECORDING_ROLES, SUPERUSER_WITH_RECORDING_ROLE


@register()
def no_superuser_opens_recordings(app_configs: Any, **kwargs: Any) -> list[Error]:
    """Reads the accounts on every `manage.py check` (and before each command), not only with
    --database: an account like this is the deployment's error, not the code's."""
    try:
        found = list(
            get_user_model()
            .objects.filter(is_superuser=True, groups__name__in=RECORDING_ROLES)
            .values_list("username", "groups__name")
            .order_by("username")
        )
    except DatabaseError:  # not migrated yet: nothing to check
        return []
    return [
        Error(
            SUPERUSER_WITH_RECORDING_ROLE % {"username": username, "role": role},
            hint=f"Remove the superuser status or the {role} role of {username} (the admin, or add_staff "
            "on a separate account).",
            obj=username,
            id="staff.E001",
        )
        for username, role in found
    ]
