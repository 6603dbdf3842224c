"""The notification preferences page, for every signed-in staff member: parse, call, render."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from core.errors import InvalidInput
from notifications import selectors, services
from notifications.forms import PreferencesForm
from notifications.kinds import kinds_for_role
from staff.authorisation import staff_page
from staff.roles import ROLES, role_of


@staff_page(*ROLES)
def preferences(request: HttpRequest) -> HttpResponse:
    kinds = kinds_for_role(role_of(request.user))
    current = selectors.preferences_of(user_id=request.user.pk)
    form = PreferencesForm(request.POST or None, kinds=kinds, current=current)
    if request.method == "POST" and form.is_valid():
        try:
            services.set_preferences(
                user=request.user, language=form.cleaned_data["language"], muted=form.muted()
            )
        except InvalidInput as refused:
            form.add_error(None, refused.detail)
        else:
            messages.success(request, _("Your notification settings were saved."))
            return redirect("notification-preferences")
    return render(
        request,
        "notifications/preferences.html",
        {"form": form, "email": getattr(request.user, "email", "")},
        status=400 if form.errors else 200,
    )
