"""Step-up before playback and before approving access: the password AND a current code of the
owner's second factor (TOTP or a recovery code), within STEP_UP_MAX_AGE. Signing in is not a
step-up: an administrator who set someone's password and signs in as them still lacks the code.

The time of the last step-up is kept in the staff session. A step-up from before the account's
credentials were voided (someone else set its password or touched its second factor:
staff.account_changes) does not count, and an account whose credentials wait for their owner to
renew them cannot step up at all. Wrong passwords and wrong codes count in the sign-in throttle
(django-axes), so guessing codes pauses like guessing passwords.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters

from audit.services import Actor, record_event
from core.errors import Forbidden
from staff.authorisation import record_denial, staff_page
from staff.models import CredentialStatus
from staff.roles import ROLES
from staff.second_factor import credential_status, enrolled, needs_second_factor, verify_code

STEP_UP_MAX_AGE = 15 * 60  # seconds
SESSION_KEY = "vault_authenticated_at"
WRONG = gettext_lazy("That password or code is not right.")


def recently_authenticated(request: HttpRequest, *, voided_at: datetime | None = None) -> bool:
    """Whether the session stepped up within STEP_UP_MAX_AGE, and after `voided_at` (when the
    account's credentials were last voided; the caller's lookup may carry it)."""
    at = request.session.get(SESSION_KEY)
    if not (isinstance(at, int | float) and 0 <= time.time() - at < STEP_UP_MAX_AGE):
        return False
    return voided_at is None or at > voided_at.timestamp()


def stepped_up(request: HttpRequest) -> bool:
    """recently_authenticated, with the account's credential status looked up (one query)."""
    status = credential_status(request.user)
    if status is not None and status.blocked:
        return False
    return recently_authenticated(request, voided_at=status.voided_at if status else None)


class StepUpRequired(Forbidden):
    code = "step_up_required"


class CredentialsNotOwn(Forbidden):
    code = "credentials_renewal_required"


RENEW = gettext_lazy(
    "Your password or second factor was set by someone other than you; until you set a new password "
    "and enrol a new authenticator yourself, you cannot request, approve or play back."
)


def require_own_credentials(user: Any, *, doing: str) -> None:
    """Refuse (on record) an account whose credentials someone else set, until its owner renews
    them (CredentialStatus)."""
    status = CredentialStatus.objects.filter(user_id=user.pk).first()
    if status is not None and status.blocked:
        record_denial(user=user, reason="credentials_renewal_required", details={"doing": doing})
        raise CredentialsNotOwn(RENEW)


def step_up_url(next_url: str) -> str:
    return f"{reverse('step-up')}?{urlencode({'next': next_url})}"


@sensitive_post_parameters("password", "code")
@staff_page(*ROLES)
def step_up(request: HttpRequest) -> HttpResponse:
    """Re-enter the password and a current code; failures count towards the sign-in throttle."""
    next_url = request.POST.get("next") or request.GET.get("next") or reverse("home")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = reverse("home")
    user = request.user
    second_factor = needs_second_factor(user)
    if second_factor and not enrolled(user):
        messages.info(
            request, gettext("Enrol an authenticator first: playback and approvals need its codes.")
        )
        return HttpResponseRedirect(f"{reverse('second-factor')}?{urlencode({'next': next_url})}")
    status = credential_status(user)
    blocked = status is not None and status.blocked
    error = RENEW if blocked else ""
    if request.method == "POST" and not blocked:
        username = user.get_username()
        authenticated = authenticate(request, username=username, password=request.POST.get("password", ""))
        kind: str | None = "password"
        if authenticated is None or authenticated.pk != user.pk:
            kind = None  # counted by axes through authenticate()
        elif second_factor:
            kind = verify_code(user, request.POST.get("code", ""))
            if kind is None:  # the password was right: the wrong code counts as a failed sign-in
                user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
        if kind is not None:
            request.session[SESSION_KEY] = time.time()  # to the microsecond, as voided_at is
            request.session.cycle_key()
            with transaction.atomic():
                record_event(
                    action="auth.stepped_up", actor=Actor.for_user(user), details={"second_factor": kind}
                )
            messages.success(request, gettext("Confirmed. Playback and approvals are open for 15 minutes."))
            return HttpResponseRedirect(next_url)
        error = WRONG
    context = {"next": next_url, "error": error, "second_factor": second_factor, "blocked": blocked}
    status_code = 403 if blocked else 400 if error else 200
    return render(request, "staff/step_up.html", context, status=status_code)
