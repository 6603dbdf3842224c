"""Django's `changepassword`, with the change ledgered with this command as its actor, in the
transaction that saves it. A password set by a command is not its owner's: the account's
grants are revoked and it cannot open recordings until its owner sets their own
(staff.account_changes)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management.commands import changepassword
from django.db import transaction

from audit.services import Actor
from staff.account_changes import acting_as


class Command(changepassword.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with acting_as(Actor.job("changepassword")), transaction.atomic(using=options.get("database")):
            super().handle(*args, **options)
