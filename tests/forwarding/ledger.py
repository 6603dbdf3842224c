"""Ledger entries for the forwarding tests, appended through the ledger's own service."""

from __future__ import annotations

import uuid

from audit.services import Actor, Event, record_events


def append_entries(count: int, *, action: str = "forwarding.tested") -> int:
    """Append `count` entries with ids and details, in one batch; the last seq."""
    actor = Actor(kind="user", id="42", label='ann "the auditor" ]\\')
    return record_events(
        [
            Event(
                action,
                actor,
                {"n": n, "note": 'ünïcode ] " \\ text'},
                recording_id=uuid.uuid4(),
                session_id=uuid.uuid4(),
                case_id=None,
            )
            for n in range(count)
        ]
    )
