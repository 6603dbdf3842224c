"""Staff sign-in throttling: django-axes' database handler with two wider limits beside its own.

Axes pauses a (user name, address) pair at AXES_FAILURE_LIMIT failures. This handler also pauses
an address at SIGNIN_ADDRESS_FAILURE_LIMIT failures over any user names (password spraying), and a
user name at SIGNIN_USERNAME_FAILURE_LIMIT failures from any addresses (a distributed guess).
"""

from __future__ import annotations

import logging
import operator
from datetime import timedelta
from functools import reduce
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.conf import settings  # Django's, with axes' defaults filled in
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt, AccessLog
from axes.signals import user_locked_out
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy

from core.errors import json_error, wants_json

log = logging.getLogger(__name__)


class SignInThrottle(AxesDatabaseHandler):
    """Axes keeps one limit for every combination it counts, and its AXES_FAILURE_LIMIT callable
    is not told which combination it is asked about; a limit low enough for a pair would pause a
    whole office behind one NAT address after a few typos. So axes counts the pair as before
    (AXES_LOCKOUT_PARAMETERS), and this handler sums the same attempt rows, within the same cool-off,
    by address alone and by user name alone, each against its own, higher limit. AXES_HANDLER is
    the extension point axes' maintainers name for limits per rule (jazzband/django-axes#661).

    A success still clears only that pair's rows (AXES_RESET_ON_SUCCESS resets by
    AXES_LOCKOUT_PARAMETERS): staff clear their own typos, but signing into one's own account
    clears nothing of a spray over other names from the same address, nor of guesses at one's
    name from elsewhere. Names are counted whether or not an account has them, and every pause
    answers with the same page, so a pause never tells whether a user name exists.
    """

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return self.wider_limit_reached(request, credentials) is not None

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        """Axes records the failure and pauses the pair at its limit; then, unless axes already
        paused this request or it comes from a whitelisted client, the wider limits are checked."""
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or request.axes_locked_out or self.is_whitelisted(request, credentials):
            return
        rule = self.wider_limit_reached(request, credentials)
        if rule is None:
            return
        # Neither the user name nor the address: they are personal data (AXES_SENSITIVE_PARAMETERS).
        log.warning("AXES: sign-in paused: the per-%s failure limit is reached.", rule)
        request.axes_locked_out = True  # AxesMiddleware answers with AXES_LOCKOUT_CALLABLE
        request.axes_credentials = credentials
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        )

    def wider_limit_reached(self, request: Any, credentials: dict[str, Any] | None) -> str | None:
        """The rule ("address" or "username") whose limit the failures recorded within the
        cool-off from this address, or for this user name, have reached; else None. One query."""
        if not settings.AXES_LOCK_OUT_AT_FAILURE:
            return None
        rules: dict[str, tuple[Q, int]] = {}
        if address := request.axes_ip_address:
            rules["address"] = (Q(ip_address=address), settings.SIGNIN_ADDRESS_FAILURE_LIMIT)
        if username := get_client_username(request, credentials):
            rules["username"] = (Q(username=username), settings.SIGNIN_USERNAME_FAILURE_LIMIT)
        if not rules:
            return None
        attempts = AccessAttempt.objects.filter(reduce(operator.or_, (match for match, _ in rules.values())))
        if settings.AXES_COOLOFF_TIME is not None:  # as AxesDatabaseHandler.get_user_attempts counts
            attempts = attempts.filter(attempt_time__gte=get_cool_off_threshold(request))
        totals = attempts.aggregate(
            **{rule: Sum("failures_since_start", filter=match) for rule, (match, _) in rules.items()}
        )
        for rule, (_, limit) in rules.items():
            if (totals[rule] or 0) >= limit and not (
                rule == "username" and signed_in_from_here_before(username, address)
            ):
                return rule
        return None


def signed_in_from_here_before(username: str, address: str | None) -> bool:
    """Whether `username` signed in from `address` within SIGNIN_LOG_DAYS (axes' access log of
    successful sign-ins, kept that long: forget_old_sign_ins). The per-name rule does not pause
    such a pair: guesses at a name from elsewhere must not keep its owner out at their usual
    desk. The pair's own limit and the address's still apply there."""
    if not address:
        return False
    since = timezone.now() - timedelta(days=settings.SIGNIN_LOG_DAYS)
    return AccessLog.objects.filter(username=username, ip_address=address, attempt_time__gte=since).exists()


def forget_old_sign_ins() -> int:
    """Delete axes' records of successful sign-ins (user name, address, browser) older than
    SIGNIN_LOG_DAYS: staff's personal data, kept only as long as they serve the throttle above.
    Failed attempts need nothing: axes removes them once their cool-off has passed."""
    return AxesDatabaseHandler().reset_logs(age_days=settings.SIGNIN_LOG_DAYS)


PAUSED = gettext_lazy(
    "Too many failed sign-ins from this address or for this user name. Try again in a few minutes."
)


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the answer to a paused sign-in, 429 with `Retry-After` (the cool-off,
    the longest a pause lasts once the attempts stop). A page for people; for a script, the
    service's JSON error, where axes' own answer echoed the user name sent, told the pair's limit
    and allowed any origin to read it (CORS `*`). Neither names the rule nor whether the name exists."""
    response: HttpResponse
    if wants_json(request) or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        response = json_error("signin_paused", PAUSED, 429)
    else:
        response = render(request, settings.AXES_LOCKOUT_TEMPLATE, {"message": PAUSED}, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
