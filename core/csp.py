"""Content-Security-Policy: django-csp's middleware, except that a response which already carries
its own policy is passed through without building the site's policy.

The recording stream sets its own, stricter policy (`default-src 'none'; sandbox`); django-csp
would build the site's policy for every Range request (0.05 ms) and then not use it.
"""

from __future__ import annotations

from csp.constants import HEADER
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        report_only = getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        if HEADER in response and not report_only:
            return response  # django-csp never replaces a policy the response set itself
        return super().process_response(request, response)
