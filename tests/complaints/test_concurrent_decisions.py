"""Decisions racing each other on PostgreSQL, each on its own connection: two DPOs approving the
same request make one grant; an approval racing the case's closing never leaves a live grant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from django.db import connection

from complaints import services
from complaints.models import AccessGrant, AccessRequest, ComplaintCase
from core.errors import Conflict

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.local_store]


def race(*actions: Callable[[], Any]) -> list[Any]:
    """Run the actions at once, each in its own thread and database connection; their outcomes."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[Any] = [None] * len(actions)

    def run(index: int, action: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            outcomes[index] = action()
        except Exception as error:  # the outcome is what the test inspects
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def pending_case(staff, make_session) -> tuple[ComplaintCase, AccessRequest]:
    made = make_session(size=100)
    case = services.open_case(
        officer=staff.officer, customer_ref="CUST-4711", channel="phone",
        complaint="Race.", session_ids=[made.session_id],
    )  # fmt: skip
    return case, services.request_access(officer=staff.officer, case_id=case.id, justification="Race.")


def test_two_dpos_approving_at_once_make_one_grant(staff, make_session) -> None:
    for _ in range(3):
        case, request = pending_case(staff, make_session)
        outcomes = race(
            partial(services.approve_access_request, approver=staff.dpo, request_id=request.id, reason="a"),
            partial(
                services.approve_access_request, approver=staff.other_dpo, request_id=request.id, reason="b"
            ),
        )
        assert sorted(type(o).__name__ for o in outcomes) == ["AccessGrant", "Conflict"]
        assert AccessGrant.objects.filter(case=case).count() == 1
        services.close_case(officer=staff.officer, case_id=case.id, outcome="withdrawn", summary="done")


def test_an_approval_racing_the_close_never_leaves_a_live_grant(staff, make_session) -> None:
    for _ in range(3):
        case, request = pending_case(staff, make_session)
        outcomes = race(
            partial(services.approve_access_request, approver=staff.dpo, request_id=request.id, reason="a"),
            partial(
                services.close_case, officer=staff.officer, case_id=case.id, outcome="withdrawn", summary="x"
            ),
        )
        assert all(not isinstance(o, Exception) or isinstance(o, Conflict) for o in outcomes), outcomes
        case.refresh_from_db()
        assert case.status == "closed"
        assert not AccessGrant.objects.filter(case=case, revoked_at__isnull=True).exists()
        assert not AccessRequest.objects.filter(case=case, status="pending").exists()
