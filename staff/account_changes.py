"""Role changes are ledger entries: who became a data protection officer, when, and by whose hand.

Four-eyes holds between people only if their roles are known: each change of a user's role
groups, through add_staff, the admin or a shell, is written as `staff.role_changed` with the
user's role afterwards. The actor is whoever `acting_as` names (the admin's signed-in user, the
add_staff command), else `system`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from audit.services import Actor, record_event
from core.batching import any_of
from staff.roles import ROLES, role_of

_actor: ContextVar[Actor | None] = ContextVar("role_change_actor", default=None)


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def record_role_change(
    sender: Any, instance: Any, action: str, reverse: bool, pk_set: set[Any] | None, **kwargs: Any
) -> None:
    """m2m_changed of User.groups, from either side."""
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if reverse:  # group.user_set.add(...): the users are in pk_set
        if instance.name not in ROLES:
            return
        users = list(get_user_model().objects.filter(any_of("pk", pk_set or ())))
    else:
        touched = Group.objects.filter(any_of("pk", pk_set or ()), name__in=ROLES).exists()
        if action != "post_clear" and not touched:
            return
        users = [instance]
    actor = _actor.get() or Actor.system()
    for user in users:
        record_event(
            action="staff.role_changed",
            actor=actor,
            details={"user": str(user.pk), "username": user.get_username(), "role": role_of(user)},
        )
