"""Template context every page gets: the signed-in user's role, and the sections they may use
(the header's navigation, the same list the home page shows)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from staff.roles import role_label, role_of
from staff.views import sections_for


def role(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"role": None, "role_label": "", "nav_sections": []}
    name = role_of(user)
    return {
        "role": name,
        "role_label": role_label(name),
        "nav_sections": sections_for(user, current_path=request.path),
    }
