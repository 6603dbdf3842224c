"""Staff home: after sign-in each role lands on a page listing the sections it may use."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from config.roles import role_may, role_of

# (url name, title, permission that opens it, what it is for); a section whose app is not
# installed is left out.
SECTIONS = (
    (
        "complaints:case-list",
        "Complaint cases",
        "complaints.view_complaintcase",
        "Open a case for a customer's complaint, request access, watch, close.",
    ),
    (
        "complaints:approval-queue",
        "Access requests to decide",
        "complaints.decide_access_request",
        "Approve or reject officers' requests to watch a case's recordings.",
    ),
    (
        "audit:ledger",
        "Audit ledger",
        "audit.view_ledgerentry",
        "Every access, state change and purge; filter, export, verify.",
    ),
    (
        "retention:dashboard",
        "Operations dashboard",
        "recorder.view_recording",
        "Recordings by state, next purges, legal holds, purge runs.",
    ),
)


def sections_for(user: Any, *, current_path: str = "") -> list[dict[str, Any]]:
    """The sections `user` may open, each marked `current` when `current_path` lies inside it."""
    sections: list[dict[str, Any]] = []
    for url_name, title, permission, purpose in SECTIONS:
        # The complaint workflow's pages check the role, not only the permission (a superuser
        # without a role is refused there): offer them only to the roles that carry them.
        complaint_page = url_name.startswith("complaints:")
        if not (role_may(user, permission) if complaint_page else user.has_perm(permission)):
            continue
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        sections.append({"url": url, "title": title, "purpose": purpose, "current": False})
    # The section whose address is the longest prefix of the path (/cases/approvals/ is not /cases/).
    inside = [section for section in sections if current_path.startswith(section["url"])]
    if inside:
        max(inside, key=lambda section: len(section["url"]))["current"] = True
    return sections


@login_required
def home(request: HttpRequest) -> HttpResponse:
    sections = sections_for(request.user)
    return render(request, "home.html", {"sections": sections, "role": role_of(request.user)})
