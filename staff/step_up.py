"""Step-up authentication: before playback the officer must have entered the password within
STEP_UP_MAX_AGE. The time of the last authentication is kept in the staff session."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters

from audit.services import Actor, record_event
from staff.authorisation import staff_page
from staff.roles import ROLES

STEP_UP_MAX_AGE = 15 * 60  # seconds
SESSION_KEY = "vault_authenticated_at"


def note_authentication(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """`user_logged_in` receiver: the session remembers when its user last proved the password."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = int(time.time())


def recently_authenticated(request: HttpRequest) -> bool:
    at = request.session.get(SESSION_KEY)
    return isinstance(at, int) and 0 <= time.time() - at < STEP_UP_MAX_AGE


def step_up_url(next_url: str) -> str:
    return f"{reverse('step-up')}?{urlencode({'next': next_url})}"


@sensitive_post_parameters("password")
@staff_page(*ROLES)
def step_up(request: HttpRequest) -> HttpResponse:
    """Re-enter the password; failures count towards the sign-in throttle (django-axes)."""
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = reverse("home")
    error = ""
    if request.method == "POST":
        user = authenticate(
            request, username=request.user.get_username(), password=request.POST.get("password", "")
        )
        if user is not None and user.pk == request.user.pk:
            request.session[SESSION_KEY] = int(time.time())
            request.session.cycle_key()
            with transaction.atomic():
                record_event(action="auth.stepped_up", actor=Actor.for_user(user))
            messages.success(request, "Password confirmed. Playback is open for 15 minutes.")
            return HttpResponseRedirect(next_url)
        error = "That password is not right."
    status = 400 if error else 200
    return render(request, "staff/step_up.html", {"next": next_url, "error": error}, status=status)
