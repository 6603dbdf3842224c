"""Django's `createsuperuser`, with the account's creation ledgered with this command as its
actor, in the transaction that creates it (staff.account_changes)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

from audit.services import Actor
from staff.account_changes import acting_as


class Command(createsuperuser.Command):
    def handle(self, *args: Any, **options: Any) -> None:
        with acting_as(Actor.job("createsuperuser")), transaction.atomic(using=options.get("database")):
            super().handle(*args, **options)
