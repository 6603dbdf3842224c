"""The one way a page or a staff API view says whom it serves, and the one rule that decides it.

Every staff page is decorated with `staff_page(*roles)` and every staff API view names its roles
in `serves` under the `ServesRoles` permission; both ask `serves()`. Refusals of a signed-in user
are `access.denied` ledger entries: the page's by the 403 handler (`staff.views.handler403`), the
API's here, before the refusal is answered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.views import APIView

from audit.services import Actor, record_event
from core.errors import Forbidden, NotFound
from core.pagination import PagedListView
from staff.roles import METADATA_ROLES, ROLES, role_of

View = Callable[..., HttpResponse]


def serves(user: Any, roles: Collection[str]) -> bool:
    """Whether a page or call serving `roles` admits `user`: a signed-in, active user whose role
    is one of them. Roles decide, not permissions: Django's superuser passes every has_perm() but
    holds no role, and is admitted only where a metadata role is served (METADATA_ROLES)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; one of: {', '.join(ROLES)}")
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    role = role_of(user)
    if role is not None:
        return role in roles
    return bool(user.is_superuser) and any(served in METADATA_ROLES for served in roles)


def staff_page(*roles: str) -> Callable[[View], View]:
    """A staff page serving `roles`: anonymous callers are sent to sign in; anyone else whom the
    page does not serve gets 403 (on record, handler403). Never cached. A service's NotFound or
    Forbidden becomes the 404 or 403 page."""

    def decorate(view: View) -> View:
        @wraps(view)
        @login_required
        @never_cache
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not serves(request.user, roles):
                raise PermissionDenied
            try:
                return view(request, *args, **kwargs)
            except NotFound as error:
                raise Http404(error.detail) from error
            except Forbidden as error:
                raise PermissionDenied(error.detail) from error

        wrapped.serves_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorate


def served_roles(view: Any) -> tuple[str, ...]:
    """The roles a page (staff_page) or a staff API view (`serves`) declares."""
    roles = getattr(view, "serves_roles", None) or getattr(getattr(view, "view_class", None), "serves", ())
    return tuple(roles or ())


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """Django's staff session (with CSRF on unsafe methods); any Authorization header is refused,
    so a recorder token never reaches a staff call, not even beside a session cookie."""

    def authenticate(self, request: Request) -> Any:
        if request.META.get("HTTP_AUTHORIZATION"):
            raise exceptions.AuthenticationFailed(
                gettext("Staff calls take a signed-in session; tokens are not accepted here.")
            )
        return super().authenticate(request)


class ServesRoles(permissions.BasePermission):
    """DRF's side of `staff_page`: the view's `serves` names its roles. A view that answers about
    one object names in `refused_as_not_found` the (code, sentence) of its 404 for an id that does
    not exist, and gives anyone it does not serve the same 404: a refused id learns nothing."""

    def has_permission(self, request: Request, view: Any) -> bool:
        if view.serves_token is not None and request.auth == view.serves_token:
            return True  # a machine its own authentication let in (the ledger's read token)
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False
        if serves(user, view.serves):
            return True
        record_denial(
            user=user,
            reason="role_not_served",
            details={"view": type(view).__name__, "method": str(request.method)[:10]},
        )
        if view.refused_as_not_found is not None:
            code, detail = view.refused_as_not_found
            raise NotFound(detail, code=code)
        return False


def record_denial(
    *,
    user: Any,
    reason: str,
    case_id: uuid.UUID | str | None = None,
    recording_id: uuid.UUID | str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write `access.denied`, committed on its own unless the caller holds a transaction: the
    refusal is kept although nothing else is."""
    record_event(
        action="access.denied",
        actor=Actor.for_user(user),
        case_id=case_id,
        recording_id=recording_id,
        details=_printable({"reason": reason, **(details or {})}),
    )


def _printable(value: Any) -> Any:
    """Details as the ledger may keep them: a guessed id is the caller's text, and a NUL in it
    (which PostgreSQL's jsonb refuses) must not turn the refusal into an error with no record."""
    if isinstance(value, dict):
        return {key: _printable(item) for key, item in value.items()}
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    return value


class StaffAPIView(APIView):
    """A staff API view: a signed-in session (no token), serving the roles its `serves` names."""

    authentication_classes = [StaffSessionAuthentication]
    permission_classes = [ServesRoles]
    serves: tuple[str, ...] = ()
    serves_token: str | None = None  # the request.auth of a machine the view also serves
    refused_as_not_found: tuple[str, str | Promise] | None = None  # (error code, sentence)


# A staff call whose GET answers one page of a list (`limit`, `offset`). No docstring: it would be
# published as the description of each operation of its subclasses.
class StaffListView(StaffAPIView, PagedListView):
    pass
