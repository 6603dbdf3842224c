"""Staff sign-in: Django's ModelBackend, with the user lookup every request makes written as one
SQL statement built once.

Each signed-in request loads its user from the session's user id; a player's `<video>` element
makes a Range request every few seconds. Through the ORM that lookup took 0.17 ms, ten times what
the database took to answer it. Passwords, permissions and who may sign in are ModelBackend's own.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router

from core.rows import column_of, row_reader


@cache
def _lookup_sql(alias: str) -> str:
    model = get_user_model()
    quote = connections[alias].ops.quote_name
    columns = row_reader(model, alias).columns("u")
    table, key = quote(model._meta.db_table), quote(column_of(model._meta.pk))
    return f"SELECT {columns} FROM {table} u WHERE u.{key} = %s"  # noqa: S608 - the model's names only


class StaffModelBackend(ModelBackend):
    def get_user(self, user_id: Any) -> Any:
        """The user of this id if there is one and ModelBackend lets them sign in, else None."""
        model = get_user_model()
        alias = router.db_for_read(model)
        connection = connections[alias]
        try:
            value = model._meta.pk.get_db_prep_value(model._meta.pk.to_python(user_id), connection)
        except (ValidationError, TypeError, ValueError):
            return None
        found = row_reader(model, alias).fetch(_lookup_sql(alias), [value])
        if not found:
            return None
        return found[0] if self.user_can_authenticate(found[0]) else None
