"""Django's `flush`, which empties every table, the ledger included (tests run it after each
transactional test). On SQLite it deletes rows one table after another, which fires the account
triggers (PostgreSQL's TRUNCATE fires none): their changes are neither ledgered nor applied to
credentials during the flush, and what they queued is emptied after it, so a flush leaves the
database empty rather than holding rows about accounts it deleted."""

from __future__ import annotations

from typing import Any

from django.core.management.commands import flush

from staff.account_changes import flushing
from staff.models import AccountChange


class Command(flush.Command):
    def handle(self, **options: Any) -> None:
        with flushing():
            super().handle(**options)
        AccountChange.objects.using(options["database"]).all().delete()
