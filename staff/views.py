"""Staff home: after sign-in each role lands on a page listing the sections it may use; and the
403 page, which puts a refused page on record."""

from __future__ import annotations

from typing import Any, cast

from django.contrib.auth.views import PasswordChangeDoneView, PasswordChangeView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, resolve, reverse, reverse_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.services import Actor, record_event
from core.errors import json_error, wants_json
from staff.authorisation import View, served_roles, serves, staff_page
from staff.roles import ROLES, role_of

# (url name, title, what it is for). Who may open a section is what its page declares
# (staff_page); a section whose app is not installed is left out.
SECTIONS = (
    (
        "complaints:case-list",
        _("Complaint cases"),
        _("Open a case for a customer's complaint, request access, watch, close."),
    ),
    (
        "complaints:approval-queue",
        _("Access requests to decide"),
        _("Approve or reject officers' requests to watch a case's recordings."),
    ),
    (
        "privacy:subject-requests",
        _("Data-subject requests"),
        _("What the vault holds about a customer (Art. 15), and erasure on request (Art. 17)."),
    ),
    (
        "audit:ledger",
        _("Audit ledger"),
        _("Every access, state change and purge; filter, export, verify."),
    ),
    (
        "retention:dashboard",
        _("Operations dashboard"),
        _("Recordings by state, next purges, legal holds, purge runs."),
    ),
)


def sections_for(user: Any, *, current_path: str = "") -> list[dict[str, Any]]:
    """The sections `user` may open, each marked `current` when `current_path` lies inside it."""
    sections: list[dict[str, Any]] = []
    for url_name, title, purpose in SECTIONS:
        try:
            url = reverse(url_name)
        except NoReverseMatch:
            continue
        if serves(user, served_roles(resolve(url).func)):
            sections.append({"url": url, "title": title, "purpose": purpose, "current": False})
    # The section whose address is the longest prefix of the path (/cases/approvals/ is not /cases/).
    inside = [section for section in sections if current_path.startswith(section["url"])]
    if inside:
        max(inside, key=lambda section: len(section["url"]))["current"] = True
    return sections


# The owner sets their own password (after an administrator set one, say): Django's view, a staff
# page of every role. The change is ledgered with its owner as actor (staff.account_changes).
password_change = staff_page(*ROLES)(
    cast(
        "View",
        PasswordChangeView.as_view(
            template_name="staff/password_change.html", success_url=reverse_lazy("password-change-done")
        ),
    )
)
password_changed = staff_page(*ROLES)(
    cast("View", PasswordChangeDoneView.as_view(template_name="staff/password_change_done.html"))
)


@staff_page(*ROLES)
def home(request: HttpRequest) -> HttpResponse:
    sections = sections_for(request.user)
    return render(request, "staff/home.html", {"sections": sections, "role": role_of(request.user)})


def handler403(request: Any, exception: Exception | None = None) -> HttpResponse:
    """A staff page refused (PermissionDenied, e.g. a role without the page): on record as
    `access.denied` for a signed-in user. The API's refusals are recorded by ServesRoles and the
    services."""
    user = getattr(request, "user", None)
    if getattr(user, "is_authenticated", False):
        match = getattr(request, "resolver_match", None)
        record_event(
            action="access.denied",
            actor=Actor.for_user(user),
            details={
                "reason": "page_forbidden",
                "page": (match.view_name if match else "")[:100],
                "method": str(request.method)[:10],
            },
        )
    if wants_json(request):
        return json_error("forbidden", gettext("You may not do this."), 403)
    return render(request, "403.html", status=403)
