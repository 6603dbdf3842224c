"""Staff sessions: Django's database session store, with the lookup every request makes written
as one SQL statement built once.

A signed-in page or API call loads its session first; a player's `<video>` element makes a Range
request every few seconds while it plays. Django's store builds the same ORM query for each of
them, which took longer (0.15 ms) than the database took to answer it. Everything else (keys,
signing, expiry, saving, cycling at sign-in, clearing at sign-out) is Django's own.
"""

from __future__ import annotations

from functools import cache

from django.contrib.sessions.backends import db
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import connections, router
from django.utils import timezone


@cache
def _lookup_sql(table: str) -> str:
    return f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s"  # noqa: S608 - the model's table name


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> AbstractBaseSession | None:
        """The session row if its key exists and it has not expired, as Django's store decides;
        else None, and the key is dropped (a new session gets a new key)."""
        model = self.model
        connection = connections[router.db_for_read(model)]
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        with connection.cursor() as cursor:
            cursor.execute(_lookup_sql(model._meta.db_table), [self.session_key, now])
            row = cursor.fetchone()
        if row is None or self.session_key is None:
            self._session_key = None
            return None
        return model(session_key=self.session_key, session_data=row[0])
