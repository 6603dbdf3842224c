"""The time zone a request reads and shows times in: DISPLAY_TIME_ZONE for the staff pages, UTC for
the API, whose JSON (like the ledger) is always UTC."""

from __future__ import annotations

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

API_PREFIX = "/api/"


class DisplayTimeZoneMiddleware:
    """Activate DISPLAY_TIME_ZONE for pages, so `|date`, the admin and a form's date input are
    read in the zone the staff live in; the API keeps Django's default, UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response
        self.zone = ZoneInfo(settings.DISPLAY_TIME_ZONE)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.path.startswith(API_PREFIX):
            timezone.deactivate()
            return self.get_response(request)
        timezone.activate(self.zone)
        try:
            return self.get_response(request)
        finally:
            # A worker thread serves the next request with a clean slate, API or page.
            timezone.deactivate()
