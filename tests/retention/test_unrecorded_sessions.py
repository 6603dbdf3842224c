"""Sessions that never got a recording end too: pseudonymised RECORDING_RETENTION after they ended
(or were registered, if they never ended), by the scheduled purge, unless a legal hold keeps them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine

from audit.models import LedgerEntry
from audit.services import Actor
from core.periods import add_period
from recorder.models import Session
from recorder.pseudonyms import customer_hash
from retention.services import place_legal_hold, purge_expired, release_legal_hold
from tests.factories import controlled_session

pytestmark = pytest.mark.django_db
OFFICER = Actor(kind="user", id="1", label="officer")


def _unrecorded(client, n: int, *, prefix: str = "NOREC") -> list[Session]:
    ids = [
        controlled_session(client, external_id=f"{prefix}-ticket-{i}", customer_ref=f"{prefix}-CUST-{i}",
                           agent_ref=f"{prefix}-AGENT-{i}")
        for i in range(n)
    ]  # fmt: skip
    return list(Session.objects.filter(id__in=ids).order_by("registered_at"))


def _raw_anywhere(value: str) -> list[str]:
    """Tables whose text holds `value` anywhere (every text column of the vault's session and ledger)."""
    found = []
    if (
        Session.objects.filter(customer_ref=value).exists()
        or Session.objects.filter(agent_ref=value).exists()
    ):
        found.append("session ref")
    if Session.objects.filter(external_id=value).exists():
        found.append("session external_id")
    for details in LedgerEntry.objects.values_list("details", flat=True):
        if value in json.dumps(details):
            found.append("ledger")
    return found


def test_a_session_that_never_ended_is_pseudonymised_at_registration_plus_retention(
    recorder_client, settings
) -> None:
    [session] = _unrecorded(recorder_client[0], 1)
    due = add_period(session.registered_at, settings.RECORDING_RETENTION)
    with time_machine.travel(due - timedelta(seconds=1), tick=False):
        assert purge_expired().pseudonymised == 0
    session.refresh_from_db()
    assert session.customer_ref == "NOREC-CUST-0"
    with time_machine.travel(due + timedelta(seconds=1), tick=False):
        run = purge_expired()
    assert run.pseudonymised == 1
    session.refresh_from_db()
    assert (session.customer_ref, session.agent_ref) == (None, None)
    assert session.external_id not in ("NOREC-ticket-0", "")
    assert session.customer_ref_hash == customer_hash("NOREC-CUST-0")  # the tombstone is still found
    for raw in ("NOREC-CUST-0", "NOREC-AGENT-0", "NOREC-ticket-0"):
        assert _raw_anywhere(raw) == [], raw
    entry = LedgerEntry.objects.get(action="session.pseudonymised", session_id=session.id)
    assert entry.details["reason"] == "retention_expired" and entry.actor_label == "purge"
    summary = LedgerEntry.objects.filter(action="retention.purge_run").order_by("-seq").first()
    assert summary is not None and summary.details["pseudonymised"] == 1


def test_an_ended_session_counts_from_its_end(recorder_client, settings) -> None:
    [session] = _unrecorded(recorder_client[0], 1)
    ended = session.registered_at + timedelta(days=20)
    Session.objects.filter(pk=session.pk).update(ended_at=ended)
    with time_machine.travel(add_period(session.registered_at, settings.RECORDING_RETENTION), tick=False):
        assert purge_expired().pseudonymised == 0
    with time_machine.travel(add_period(ended, settings.RECORDING_RETENTION), tick=False):
        assert purge_expired().pseudonymised == 1


def test_a_legal_hold_keeps_an_unrecorded_session_until_released(recorder_client, settings) -> None:
    [held, free] = _unrecorded(recorder_client[0], 2)
    hold = place_legal_hold(session_id=held.id, reason="complaint", actor=OFFICER)
    later = add_period(free.registered_at, settings.RECORDING_RETENTION) + timedelta(days=1)
    with time_machine.travel(later, tick=False):
        assert purge_expired().pseudonymised == 1
        held.refresh_from_db()
        assert held.customer_ref == "NOREC-CUST-0"
        release_legal_hold(hold_id=hold.id, actor=OFFICER)
        assert purge_expired().pseudonymised == 1
    held.refresh_from_db()
    assert held.customer_ref is None


def test_one_run_pseudonymises_every_due_session_across_batches_and_only_once(
    recorder_client, settings
) -> None:
    sessions = _unrecorded(recorder_client[0], 7)
    later = add_period(sessions[-1].registered_at, settings.RECORDING_RETENTION) + timedelta(days=1)
    with time_machine.travel(later, tick=False):
        dry = purge_expired(dry_run=True)
        assert dry.pseudonymised == 7
        assert Session.objects.filter(customer_ref__isnull=False).count() == 7  # a dry run changes nothing
        assert purge_expired(batch_size=3).pseudonymised == 7
        assert purge_expired(batch_size=3).pseudonymised == 0
    assert LedgerEntry.objects.filter(action="session.pseudonymised").count() == 7
