"""Middleware of the operations side: request ids, and health probes answered before anything else."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from django.http import HttpRequest, HttpResponse

from ops.health import readiness
from ops.logs import REQUEST_ID_HEADER, accepted_request_id, current_request_id
from ops.views import metrics


class RequestIdMiddleware:
    """Takes the caller's X-Request-ID (if valid) or makes one, logs under it, echoes it back."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = accepted_request_id(request.headers.get(REQUEST_ID_HEADER))
        # Not reset on the way out: Django logs an error response (django.request) after the
        # middleware chain returns, and that line must carry the id too. The next request on
        # this thread sets its own.
        current_request_id.set(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


class HealthCheckMiddleware:
    """Answers /healthz, /readyz and /metrics ahead of the host check, HTTPS redirect, sessions
    and auth: load balancers and Prometheus call by address, over plain HTTP, without cookies.

    /healthz: the process serves requests (touches nothing else). /readyz: every dependency a
    request needs (database, broker, object store, recipients), each reported; 503 if one fails.
    /metrics guards itself (allowed addresses or a bearer token).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == "/healthz":
            return _json({"status": "ok", "detail": "The process is up."}, 200)
        if request.path == "/readyz":
            results = readiness()
            ready = all(result.ok for result in results)
            body = {
                "status": "ok" if ready else "error",
                "detail": "Ready to serve." if ready else "A dependency is not ready; see checks.",
                "checks": {result.name: result.as_json() for result in results},
            }
            return _json(body, 200 if ready else 503)
        if request.path == "/metrics":
            return metrics(request)
        return self.get_response(request)


def _json(body: Mapping[str, object], status: int) -> HttpResponse:
    response = HttpResponse(json.dumps(body), content_type="application/json", status=status)
    response["Cache-Control"] = "no-store"
    return response
