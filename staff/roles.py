"""Staff roles: each is a Django group with a fixed set of permissions, kept in step by code.

The table here is the single source of who may do what; the README repeats it for people.
Nobody's role includes decryption: that needs an access grant, which only the approved complaint
workflow creates (`complaints.services`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, Group, Permission, PermissionsMixin
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

# role -> permissions as "app_label.codename". Permissions not yet defined by a model (an app
# added later) are skipped with no error, and picked up by the next sync after its migration.
ROLE_PERMISSIONS: Mapping[str, tuple[str, ...]] = {
    "compliance_officer": (
        "recorder.view_session",
        "complaints.view_complaintcase",
        "complaints.add_complaintcase",
        "complaints.change_complaintcase",
        "complaints.request_access",
        "complaints.play_recording",
    ),
    "data_protection_officer": (
        "complaints.view_complaintcase",
        "complaints.decide_access_request",
    ),
    "auditor": (
        "audit.view_ledgerentry",
        "retention.view_purgerun",
    ),
    "operator": (
        "recorder.view_session",
        "recorder.view_recording",
        "retention.view_purgerun",
        "retention.view_legalhold",
    ),
}
ROLES = tuple(ROLE_PERMISSIONS)
OFFICER, APPROVER, AUDITOR, OPERATOR = ROLES
# The roles whose pages show metadata only (the ledger, purge runs, the operations dashboard):
# Django's superuser may use those pages without holding the role. The roles that open personal
# data or recordings are for the people in those jobs only (DESIGN "Users").
METADATA_ROLES = (AUDITOR, OPERATOR)
# The roles whose holders open recordings (request, approve, play back): never a superuser's, who
# could otherwise also set the password of the person who approves them; a TOTP second factor.
RECORDING_ROLES = (OFFICER, APPROVER)
# What a person reads for each role (the header, the access report); the code stays the group's name.
ROLE_LABELS = {
    OFFICER: _("Compliance officer"),
    APPROVER: _("Data protection officer"),
    AUDITOR: _("Auditor"),
    OPERATOR: _("Operator"),
}
SUPERUSER_WITH_RECORDING_ROLE = _(
    "%(username)s is a superuser and cannot also be a %(role)s: a superuser can change any account, "
    "so nobody who can open recordings may be one (separation of duties). Use a separate account."
)


def role_label(role: str | None) -> str:
    """The role's name in the reader's language; "" for no role, the code for one not in the table."""
    if not role:
        return ""
    label = ROLE_LABELS.get(role)
    return str(label) if label is not None else str(_("unknown role")) if role == "unknown" else role


class UnknownRole(ValueError):
    pass


def apps_in_roles() -> set[str]:
    """The app labels whose permissions some role carries."""
    return {name.split(".", 1)[0] for names in ROLE_PERMISSIONS.values() for name in names}


def sync_role_groups() -> None:
    """Create the role groups and set each one's permissions to exactly the table's."""
    with transaction.atomic():
        for role, names in ROLE_PERMISSIONS.items():
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.set(_permissions(names))


def _permissions(names: tuple[str, ...]) -> list[Permission]:
    found = []
    for name in names:
        app_label, codename = name.split(".", 1)
        permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
        if permission is not None:
            found.append(permission)
    return found


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The user's role (the first role group they are in), or None for a user without one."""
    if not isinstance(user, PermissionsMixin):
        return None
    names = set(user.groups.values_list("name", flat=True))
    return next((role for role in ROLES if role in names), None)


def role_may(user: Any, permission: str) -> bool:
    """Whether the user's role carries `permission`. Roles decide, as in the complaint workflow's
    services: a superuser without a role may not, whatever has_perm() says."""
    role = role_of(user)
    return role is not None and permission in ROLE_PERMISSIONS[role] and user.has_perm(permission)


def users_with_role(role: str) -> QuerySet[AbstractBaseUser]:
    """The users whose role_of() is `role`, as a query another can fold in as a subquery (no
    round trip of its own): in the role's group and in none of the groups of the roles before it
    in ROLES, since role_of() takes the first."""
    if role not in ROLE_PERMISSIONS:
        raise UnknownRole(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    users = get_user_model().objects.filter(groups__name=role)
    earlier = ROLES[: ROLES.index(role)]
    return users.exclude(groups__name__in=earlier) if earlier else users


def assign_role(*, user: PermissionsMixin, role: str) -> None:
    """Give `user` exactly one role: staff have one job each (separation of duties)."""
    if role not in ROLE_PERMISSIONS:
        raise UnknownRole(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    sync_role_groups()
    groups = user.groups
    with transaction.atomic():
        # Only the groups the user is in: a change is a ledger entry (staff.account_changes).
        groups.remove(*groups.filter(name__in=ROLES).exclude(name=role))
        groups.add(Group.objects.get(name=role))
