"""Domain errors and the one place that maps them to JSON `{"error", "detail"}` responses.

The `error` code is for machines and stays English; the `detail` sentence is for a person and is
given lazily (gettext_lazy, format_lazy), so it is put into the reader's language only here, at
the edge, and never into the ledger or the database in whichever language a request spoke.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """An error a client can act on: a stable `code`, an HTTP `status` and a human sentence (lazy
    where it is translated: `str(error.detail)` reads it in the active language)."""

    code: str = "error"
    status: int = status.HTTP_400_BAD_REQUEST

    def __init__(
        self, detail: str | Promise, *, code: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(detail)
        # A lazy sentence behaves as the str it becomes (formatting, messages, form errors), and
        # must stay lazy until shown; typed as str so every caller may treat it as one.
        self.detail: str = cast("str", detail)
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status = status_code


class InvalidInput(DomainError):
    code = "invalid"
    status = status.HTTP_400_BAD_REQUEST


class Forbidden(DomainError):
    code = "forbidden"
    status = status.HTTP_403_FORBIDDEN


class NotFound(DomainError):
    code = "not_found"
    status = status.HTTP_404_NOT_FOUND


class Conflict(DomainError):
    code = "conflict"
    status = status.HTTP_409_CONFLICT


def error_body(code: str, detail: str | Promise) -> dict[str, str]:
    """The JSON error: the code as it is, the sentence in the request's language."""
    return {"error": code, "detail": str(detail)}


def _first_message(detail: Any) -> str:
    """Flatten DRF's nested validation detail into one readable sentence."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            message = _first_message(value)
            parts.append(message if field == "non_field_errors" else f"{field}: {message}")
        return "; ".join(parts)
    if isinstance(detail, list):
        return " ".join(_first_message(item) for item in detail)
    return str(detail)


_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "forbidden",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.ParseError: "malformed_json",
    exceptions.ValidationError: "invalid",
    exceptions.Throttled: "throttled",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """REST framework hook: every error leaves as `{"error": code, "detail": sentence}`."""
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.detail), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, OperationalError | InterfaceError):
        # The database went away (restart, failover, network): nothing was kept, and a client
        # should send again shortly, which a 503 says and a 500 does not.
        logger.error("database unavailable: %s", type(exc).__name__)
        return Response(
            error_body(
                "database_unavailable", gettext("The database is unavailable; nothing was kept. Try again.")
            ),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    detail = _first_message(exc.detail) if isinstance(exc, exceptions.APIException) else str(exc)
    response.data = error_body(code, detail)
    return response


def json_error(code: str, detail: str | Promise, status_code: int) -> JsonResponse:
    return JsonResponse(error_body(code, detail), status=status_code)


def wants_json(request: Any) -> bool:
    """JSON for the API and machines; a page for people browsing the staff pages."""
    return bool(request.path.startswith("/api/") or "text/html" not in request.headers.get("Accept", ""))


def handler404(request: Any, exception: Exception | None = None) -> HttpResponse:
    """JSON for the API and machines; a page for people browsing the staff pages."""
    if wants_json(request):
        return json_error("not_found", gettext("No such resource."), 404)
    return render(request, "404.html", status=404)


def handler400(request: Any, exception: Exception | None = None) -> HttpResponse:
    """A request Django refused before any view (a body over DATA_UPLOAD_MAX_MEMORY_SIZE, say)."""
    if wants_json(request):
        return json_error(
            "bad_request", gettext("The request could not be read (too large or malformed)."), 400
        )
    return render(request, "400.html", status=400)


class MethodNotAllowedPage:
    """A browser sent to a form's address with GET (a reload, a bookmark) gets a page saying what
    to do, not the empty 405 Django answers; API callers keep a JSON error."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if response.status_code != 405 or getattr(response, "streaming", False) or response.content:
            return response
        allowed = response.get("Allow", "")
        answer: HttpResponse
        if wants_json(request):
            answer = json_error(
                "method_not_allowed",
                gettext("This address answers only %(methods)s.") % {"methods": allowed},
                405,
            )
        else:
            answer = render(request, "405.html", {"allowed": allowed}, status=405)
        answer["Allow"] = allowed
        return answer


def handler500(request: Any) -> JsonResponse:
    return json_error(
        "server_error", gettext("The server failed to handle the request; nothing was kept."), 500
    )
