"""Who may do what in the complaint workflow: roles, case visibility, and refusals on record.

Roles, not permissions, decide: a superuser passes every has_perm() but holds no role, and the
workflow is for the people in these jobs only (DESIGN "Users"). Each refusal of an authenticated
caller is an `access.denied` ledger entry, committed on its own (the refused action writes
nothing else), before the refusal is answered.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext, gettext_lazy, gettext_noop

from audit.services import Actor
from complaints.models import ComplaintCase
from core.errors import Forbidden, NotFound
from staff.authorisation import record_denial
from staff.roles import APPROVER, OFFICER, role_of


def actor_of(user: Any) -> Actor:
    return Actor.for_user(user)


# The refusal's sentence per role (or pair of roles) allowed; `%(doing)s` is the action's words.
_ONLY = {
    (OFFICER,): gettext_lazy("Only a compliance officer may %(doing)s."),
    (APPROVER,): gettext_lazy("Only a data protection officer may %(doing)s."),
    (OFFICER, APPROVER): gettext_lazy("Only compliance officers and data protection officers may %(doing)s."),
}


def require_role(user: Any, roles: str | tuple[str, ...], doing: str, *, reason: str = "") -> None:
    """Roles, not permissions: a superuser passes every has_perm() but holds no role, and the
    workflow is for the people in these jobs only (DESIGN "Users"). Refused on record.

    `doing` is English for the ledger; mark it with gettext_noop so the refusal's sentence is
    read in the caller's language."""
    allowed = (roles,) if isinstance(roles, str) else roles
    if not getattr(user, "is_authenticated", False) or not user.is_active or role_of(user) not in allowed:
        if getattr(user, "is_authenticated", False):
            record_denial(user=user, reason=reason or f"not_{allowed[0]}", details={"action": doing})
        if allowed in _ONLY:
            raise Forbidden(_ONLY[allowed] % {"doing": gettext(doing)}, code="forbidden")
        names = [role.replace("_", " ") for role in allowed]
        who = f"a {names[0]}" if len(names) == 1 else " and ".join(f"{name}s" for name in names)
        raise Forbidden(f"Only {who} may {doing}.", code="forbidden")


def parse_uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def case_for(*, user: Any, case_id: uuid.UUID | str, acting: bool = False) -> ComplaintCase:
    """The case if `user` may see it (`acting`: may act on it, i.e. is its officer), else
    NotFound and an `access.denied` entry: a guessed id learns nothing, but is on record."""
    parsed = parse_uuid(case_id)
    case = ComplaintCase.objects.filter(id=parsed).first() if parsed else None
    role = role_of(user) if getattr(user, "is_authenticated", False) else None
    allowed = case is not None and (
        (role == OFFICER and case.opened_by_id == user.pk) or (role == APPROVER and not acting)
    )
    if case is None or not allowed:
        if getattr(user, "is_authenticated", False):
            record_denial(
                user=user,
                reason="case_not_visible",
                case_id=case.id if case else None,
                details={"requested_case": str(case_id)[:64]},
            )
        raise NotFound(gettext("No such complaint case."), code="case_not_found")
    return case


def require_approver(*, user: Any) -> None:
    """Refuse (on record) anyone but a data protection officer."""
    require_role(user, APPROVER, gettext_noop("see access requests"))
