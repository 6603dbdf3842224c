"""Ledger helpers shared by the tests: entries appended through the ledger's own service, and
`manage.py verify_ledger` run as an operator runs it."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from audit.services import Actor, Event, record_events


def append(n: int) -> None:
    """`n` test entries, appended in one batch."""
    record_events([Event("test.appended", Actor.job("test"), {"n": i}) for i in range(n)])


def verify_ledger() -> str:
    """What `manage.py verify_ledger` prints; raises CommandError (exit 1) on a bad ledger."""
    out = StringIO()
    call_command("verify_ledger", verbosity=0, stdout=out)
    return out.getvalue()
