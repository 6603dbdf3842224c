"""Who may do what in the complaint workflow: roles, case visibility, and refusals on record.

Roles, not permissions, decide: a superuser passes every has_perm() but holds no role, and the
workflow is for the people in these jobs only (DESIGN "Users"). Each refusal of an authenticated
caller is an `access.denied` ledger entry, committed on its own (the refused action writes
nothing else), before the refusal is answered.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet

from audit.services import Actor, record_event
from complaints.models import ComplaintCase
from config.errors import Forbidden, NotFound
from config.roles import role_of

OFFICER = "compliance_officer"
APPROVER = "data_protection_officer"


def actor_of(user: Any) -> Actor:
    return Actor.for_user(user)


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
        actor=actor_of(user),
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


def require_role(user: Any, role: str, doing: str) -> None:
    """Roles, not permissions: a superuser passes every has_perm() but holds no role, and the
    workflow is for the people in these jobs only (DESIGN "Users")."""
    if not getattr(user, "is_authenticated", False) or not user.is_active or role_of(user) != role:
        if getattr(user, "is_authenticated", False):
            record_denial(user=user, reason=f"not_{role}", details={"action": doing})
        raise Forbidden(f"Only a {role.replace('_', ' ')} may {doing}.", code="forbidden")


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
        raise NotFound("No such complaint case.", code="case_not_found")
    return case


def require_approver(*, user: Any) -> None:
    """Refuse (on record) anyone but a data protection officer."""
    require_role(user, APPROVER, "see access requests")


def visible_cases(*, user: Any) -> QuerySet[ComplaintCase]:
    """The cases `user` may list (officers: their own; DPOs: all); anyone else is refused on record."""
    from complaints.selectors import cases_for_user

    if role_of(user) not in (OFFICER, APPROVER):
        record_denial(user=user, reason="no_case_role", details={"action": "list complaint cases"})
        raise Forbidden("Only compliance officers and data protection officers see cases.", code="forbidden")
    return cases_for_user(user=user)
