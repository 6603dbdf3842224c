"""The rights timeline: append-only, validated as a state machine, nothing stored on refusal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from rest_framework.test import APIClient

from audit.models import LedgerEntry
from recorder.models import SessionEvent
from tests.factories import ConsentPayload, SessionPayload, iso

pytestmark = pytest.mark.django_db

START = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def at(minutes: int) -> str:
    return iso(START + timedelta(minutes=minutes))


@pytest.fixture
def view_only_session(api: APIClient) -> str:
    """A session started at at(0), consent given a minute before: view, no control."""
    payload = SessionPayload(
        started_at=at(0), consent=ConsentPayload(granted_at=at(-1), view=True, control=False)
    )
    return str(api.post("/api/v1/sessions", payload, format="json").json()["id"])


def report_event(api: APIClient, session: str, **event: object):
    return api.post(f"/api/v1/sessions/{session}/events", event, format="json")


def test_a_full_timeline_is_accepted_and_replayed_in_order(api: APIClient, view_only_session: str) -> None:
    steps = [
        {"type": "scope_changed", "at": at(1), "view": True, "control": True},
        {"type": "interrupted", "at": at(2)},
        {"type": "resumed", "at": at(3)},
        {"type": "scope_changed", "at": at(4), "view": True, "control": False},
        {"type": "ended", "at": at(5)},
    ]
    for step in steps:
        response = report_event(api, view_only_session, **step)
        assert response.status_code == 201, response.json()
    events = api.get(f"/api/v1/sessions/{view_only_session}").json()["events"]
    assert [(e["type"], e["view"], e["control"]) for e in events] == [
        ("scope_changed", True, True),
        ("interrupted", False, False),
        ("resumed", True, True),  # restores the rights in force before the interruption
        ("scope_changed", True, False),
        ("ended", False, False),
    ]
    assert api.get(f"/api/v1/sessions/{view_only_session}").json()["ended_at"] == at(5)
    assert (
        LedgerEntry.objects.filter(action="session.rights_changed", session_id=view_only_session).count() == 5
    )


@pytest.mark.parametrize(
    ("before", "event", "status", "code"),
    [
        (
            [{"type": "ended", "at": at(1)}],
            {"type": "scope_changed", "at": at(2), "view": True, "control": True},
            409,
            "session_ended",
        ),
        ([], {"type": "resumed", "at": at(1)}, 409, "not_interrupted"),
        (
            [{"type": "interrupted", "at": at(1)}],
            {"type": "interrupted", "at": at(2)},
            409,
            "already_interrupted",
        ),
        (
            [{"type": "interrupted", "at": at(5)}],
            {"type": "resumed", "at": at(4)},
            409,
            "time_went_backwards",
        ),
        (
            [],
            {"type": "scope_changed", "at": at(-5), "view": True, "control": True},
            409,
            "time_went_backwards",
        ),
        ([], {"type": "scope_changed", "at": at(1), "view": True, "control": False}, 409, "rights_unchanged"),
        (
            [],
            {"type": "scope_changed", "at": at(1), "view": False, "control": True},
            400,
            "control_without_view",
        ),
        ([], {"type": "scope_changed", "at": at(1), "view": False, "control": False}, 400, "no_rights"),
        ([], {"type": "scope_changed", "at": at(1)}, 400, "rights_required"),
        ([], {"type": "interrupted", "at": at(1), "view": True, "control": False}, 400, "rights_not_allowed"),
        (
            [{"type": "interrupted", "at": at(1)}],
            {"type": "scope_changed", "at": at(2), "view": True, "control": True},
            409,
            "session_interrupted",
        ),
        ([], {"type": "teleported", "at": at(1)}, 400, "invalid"),
    ],
)
def test_impossible_events_are_refused_and_nothing_is_stored(
    api: APIClient,
    view_only_session: str,
    before: list[dict[str, object]],
    event: dict[str, object],
    status: int,
    code: str,
) -> None:
    for step in before:
        assert report_event(api, view_only_session, **step).status_code == 201
    response = report_event(api, view_only_session, **event)
    assert response.status_code == status, response.json()
    assert response.json()["error"] == code
    assert SessionEvent.objects.filter(session_id=view_only_session).count() == len(before)
    if code != "invalid":
        assert LedgerEntry.objects.filter(action="session.event_rejected").get().details == {"reason": code}


def test_resume_may_name_new_rights(api: APIClient, view_only_session: str) -> None:
    report_event(api, view_only_session, type="interrupted", at=at(1))
    response = report_event(api, view_only_session, type="resumed", at=at(2), view=True, control=True)
    assert response.status_code == 201
    assert (response.json()["view"], response.json()["control"]) == (True, True)
