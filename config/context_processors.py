"""Template context every page gets: the signed-in user's role, for the header."""

from __future__ import annotations

from django.http import HttpRequest

from config.roles import role_of


def role(request: HttpRequest) -> dict[str, str | None]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"role": None}
    return {"role": role_of(user)}
