"""Every change of a staff account is a ledger entry, committed with the change.

The database itself notices the change: triggers on `auth_user`, `auth_user_groups`,
`auth_user_user_permissions` and django-otp's device tables (migration staff 0002, PostgreSQL and
SQLite) queue one `AccountChange` row per changed account in the transaction of the change, so
`QuerySet.update()`, raw SQL and a psql session are caught as surely as `save()`. The triggers
take the actor from the transaction: PostgreSQL's transaction-local setting `vault.actor`, SQLite's
`staff_accountactor` row. Django's connections get an execute wrapper (`account_write_wrapper`)
that, around every statement writing one of those tables, opens a transaction if none is open,
sets the actor (`acting_as`: the signed-in user of a web request by `ActorMiddleware`, a command's
name; none known: "direct database access"), runs the statement and moves the queue into the
ledger as `staff.account_changed` entries before the transaction can commit. A ledger that
cannot be written fails the statement, and the change rolls back with it. A change made outside
Django (psql, sqlite3) is moved into the ledger by the next sequencing
(`audit.services.sequence_pending`, before each signed head), named "direct database access".

Role changes are also written as `staff.role_changed` with the user's role afterwards
(`record_role_change`), the entry four-eyes checks read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import django.dispatch
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from audit.services import Actor, Event, record_event, record_events
from core.batching import any_of
from staff.models import AccountActor, AccountChange, CredentialStatus
from staff.roles import ROLES, role_of

_flushing: ContextVar[bool] = ContextVar("flushing_database", default=False)
_actor: ContextVar[Actor | Callable[[], Actor | None] | None] = ContextVar("account_actor", default=None)

ACCOUNT_TABLES = (
    "auth_user",
    "auth_user_groups",
    "auth_user_user_permissions",
    "otp_totp_totpdevice",
    "otp_static_staticdevice",
    "otp_static_statictoken",
)
_ACCOUNT_WRITE = re.compile(
    r"\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+[\"`]?("
    + "|".join(ACCOUNT_TABLES)
    + r")[\"`\s(]",
    re.IGNORECASE,
)
DIRECT = Actor(kind="system", id="direct-database-access", label="direct database access")
# Changes that void an account's credentials when anyone but the owner makes them.
_PASSWORD_SET = "password"  # noqa: S105 - the column name, not a password
_SECOND_FACTOR_CHANGES = ("second_factor_removed", "second_factor_added", "second_factor_changed")
_RECOVERY_CHANGES = ("recovery_codes_added", "recovery_codes_removed")

# Sent, inside the transaction of the change, when someone other than the owner set an account's
# password or touched its second factor: `user_id`, `actor` (audit Actor), `reason`. Apps above
# staff act on it (complaints revokes the account's grants).
credentials_voided = django.dispatch.Signal()


@contextmanager
def acting_as(actor: Actor | Callable[[], Actor | None]) -> Iterator[None]:
    """Name who changes accounts within the block (a person, or a command: Actor.job(name)); a
    callable is asked only when an account is written."""
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> Actor | None:
    value = _actor.get()
    return value() if callable(value) else value


class ActorMiddleware:
    """Web requests change accounts as their signed-in user. The user is looked up only if an
    account is written (never on playback's path)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        def signed_in() -> Actor | None:
            user = getattr(request, "user", None)
            return Actor.for_user(user) if getattr(user, "is_authenticated", False) else None

        with acting_as(signed_in):
            return self.get_response(request)


def install(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """`connection_created` receiver: every Django connection writes accounts through the wrapper."""
    if account_write_wrapper not in connection.execute_wrappers:
        connection.execute_wrappers.append(account_write_wrapper)


@contextmanager
def flushing() -> Iterator[None]:
    """While `manage.py flush` empties the whole database, the ledger with it: account writes
    are not moved into the ledger nor applied to credentials (which would write rows about
    accounts the same flush deletes). Only the flush command uses this."""
    token = _flushing.set(True)
    try:
        yield
    finally:
        _flushing.reset(token)


def account_write_wrapper(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
) -> Any:
    if not isinstance(sql, str) or not _ACCOUNT_WRITE.match(sql) or _flushing.get():
        return execute(sql, params, many, context)
    connection = context["connection"]
    with transaction.atomic(using=connection.alias, savepoint=False):
        _set_transaction_actor(connection, current_actor())
        try:
            result = execute(sql, params, many, context)
        finally:
            _clear_transaction_actor(connection)
        _fetch_now(context["cursor"])
        ledger_queued_changes(using=connection.alias)
    return result


class _Fetched:
    """A database cursor whose rows were read already: SQLite neither commits nor opens a
    savepoint while a statement (an INSERT ... RETURNING) still has rows to give, and this
    statement's transaction commits before its caller reads them."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor
        self._rows = list(cursor.fetchall())

    def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    def fetchmany(self, size: int = 1) -> list[Any]:
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    def fetchall(self) -> list[Any]:
        taken, self._rows = self._rows, []
        return taken

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def _fetch_now(cursor: Any) -> None:
    if cursor.db.vendor == "sqlite" and cursor.cursor.description is not None:
        cursor.cursor = _Fetched(cursor.cursor)


def _encode(actor: Actor | None) -> str:
    return json.dumps([actor.kind, actor.id, actor.label]) if actor else ""


def _decode(text: str) -> Actor:
    try:
        kind, actor_id, label = json.loads(text)
        return Actor(kind=kind, id=actor_id, label=label)
    except (ValueError, TypeError):
        return DIRECT


def _set_transaction_actor(connection: BaseDatabaseWrapper, actor: Actor | None) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('vault.actor', %s, true)", [_encode(actor)])
        else:
            table = AccountActor._meta.db_table
            cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - the model's table name
            if actor is not None:
                cursor.execute(f"INSERT INTO {table} (id, label) VALUES (1, %s)", [_encode(actor)])  # noqa: S608


def _clear_transaction_actor(connection: BaseDatabaseWrapper) -> None:
    """After the statement: a later write in the same transaction by a connection's raw driver
    cursor must not be taken for this actor's."""
    if connection.needs_rollback:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT set_config('vault.actor', '', true)")
        else:
            cursor.execute(f"DELETE FROM {AccountActor._meta.db_table}")  # noqa: S608


def ledger_queued_changes(*, using: str = "default") -> int:
    """Move every queued account change visible to this transaction into the ledger, in it:
    each row is deleted and its entry appended together (a concurrent mover finds it gone).
    Then void the credentials someone other than their owner set. Returns how many moved."""
    connection = connections[using]
    table = AccountChange._meta.db_table
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} RETURNING id, queued_at, user_id, username, change, fields, detail, actor"  # noqa: S608
        )
        rows = sorted(cursor.fetchall())
        if not rows:
            return 0
        changes = [
            AccountChange(
                id=row[0],
                queued_at=_aware(connection, row[1]),
                user_id=row[2],
                username=row[3],
                change=row[4],
                fields=row[5] or "",
                detail=row[6] or "",
                actor=row[7] or "",
            )
            for row in rows
        ]
        record_events([_event(change) for change in changes], savepoint=False)
        for change in changes:
            _apply_to_credentials(change)
    return len(changes)


def _aware(connection: BaseDatabaseWrapper, value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime) and timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_fixed_timezone(0))
    return value if isinstance(value, datetime) else timezone.now()


def _event(change: AccountChange) -> Event:
    details: dict[str, Any] = {
        "user": str(change.user_id),
        "username": change.username,
        "change": change.change,
        "fields": [name for name in change.fields.split(",") if name],
        "queued_at": change.queued_at.isoformat(),
    }
    if change.detail:
        details["target"] = change.detail
    return Event(action="staff.account_changed", actor=_decode(change.actor), details=details)


def _by_owner(change: AccountChange) -> bool:
    actor = _decode(change.actor)
    return actor.kind == "user" and actor.id == str(change.user_id)


def _apply_to_credentials(change: AccountChange) -> None:
    """The owner's own new password or second factor renews the account's credentials; anyone
    else's voids them."""
    password = change.change == "updated" and _PASSWORD_SET in change.fields.split(",")
    second_factor = change.change in _SECOND_FACTOR_CHANGES or change.change in _RECOVERY_CHANGES
    if not (password or second_factor):
        return
    if not get_user_model().objects.filter(pk=change.user_id).exists():
        return
    if _by_owner(change):
        status = CredentialStatus.objects.filter(user_id=change.user_id).first()
        if status is None:
            return
        if password:
            status.must_set_password = False
        if change.change in ("second_factor_added", "second_factor_changed") and "confirmed" in change.fields:
            status.must_enrol = False
        status.save()
        return
    if change.change == "second_factor_added" and "confirmed" not in change.fields:
        return  # an unconfirmed device opens nothing until confirmed, which is a change of its own
    actor = _decode(change.actor)
    now = timezone.now()
    # No get_or_create: it opens a savepoint, which SQLite refuses while the change's own
    # statement (an INSERT ... RETURNING) still has its row to give.
    status = CredentialStatus.objects.filter(user_id=change.user_id).first() or CredentialStatus(
        user_id=change.user_id
    )
    status.must_set_password = True
    status.must_enrol = True
    status.voided_at = now
    status.voided_by = actor.label[:150]
    status.save()
    reason = "password_set_by_another" if password else "second_factor_changed_by_another"
    credentials_voided.send(sender=CredentialStatus, user_id=change.user_id, actor=actor, reason=reason)


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
    actor = current_actor() or Actor.system()
    for user in users:
        record_event(
            action="staff.role_changed",
            actor=actor,
            details={"user": str(user.pk), "username": user.get_username(), "role": role_of(user)},
        )
