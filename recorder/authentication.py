"""Recorder clients authenticate with `Authorization: Bearer <token>` (RFC 6750)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from recorder.models import RecorderClient
from recorder.services import authenticate_token


class RecorderTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[RecorderClient, None] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise exceptions.AuthenticationFailed(gettext("Use Authorization: Bearer <token>."))
        client = authenticate_token(token.strip())
        if client is None:
            raise exceptions.AuthenticationFailed(gettext("The token is unknown or revoked."))
        return client, None

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="recorder"'


class IsRecorderClient(permissions.BasePermission):
    """Permission: the caller is an authenticated recorder client (not a staff user)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, RecorderClient)

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return True
