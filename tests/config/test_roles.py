"""A role decided inside a query (users_with_role) is the role role_of() decides, for any groups."""

from __future__ import annotations

from itertools import combinations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from staff.roles import ROLES, UnknownRole, role_of, sync_role_groups, users_with_role

pytestmark = pytest.mark.django_db


def test_users_with_role_agrees_with_role_of_for_every_mix_of_groups() -> None:
    """Staff have one role each, but a group can be added by hand in the admin: whoever holds
    several is, in the query as in role_of(), the first role of ROLES they hold."""
    sync_role_groups()
    Group.objects.create(name="not-a-role")
    groups = [*ROLES, "not-a-role"]
    users = []
    for size in range(len(groups) + 1):
        for names in combinations(groups, size):
            user = get_user_model().objects.create_user(username="u-" + "+".join(names))
            user.groups.set(Group.objects.filter(name__in=names))
            users.append(user)
    for role in ROLES:
        found = set(users_with_role(role).values_list("pk", flat=True))
        assert found == {user.pk for user in users if role_of(user) == role}, role


def test_users_with_role_refuses_an_unknown_role() -> None:
    with pytest.raises(UnknownRole):
        users_with_role("superuser")
