"""The complaint workflow through its services: open, link, request, decide (four-eyes), close,
expire; holds follow the case; every transition is a ledger entry with actor and reason."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.models import LedgerEntry
from complaints import commitments, selectors, services
from complaints.models import AccessRequest, ComplaintCase
from core.errors import Conflict, Forbidden, InvalidInput, NotFound
from recorder.models import Recording
from retention.models import LegalHold
from retention.services import purge_expired
from tests.complaints.conftest import ledger_actions

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]


def open_case(staff, *session_ids: str, customer_ref: str = "CUST-4711") -> ComplaintCase:
    return services.open_case(
        officer=staff.officer,
        customer_ref=customer_ref,
        channel="phone",
        complaint="The agent opened my banking app without asking.",
        session_ids=list(session_ids),
    )


def granted_case(staff, make_session):
    made = make_session()
    case = open_case(staff, made.session_id)
    request = services.request_access(
        officer=staff.officer, case_id=case.id, justification="Customer says the agent opened banking."
    )
    grant = services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="Justified.")
    return case, request, grant, made


def test_opening_a_case_holds_each_linked_session_and_writes_the_ledger(staff, make_session) -> None:
    first, second = make_session(), make_session()
    case = open_case(staff, first.session_id, second.session_id)
    assert case.status == "open"
    held = LegalHold.objects.filter(case_id=case.id, released_at__isnull=True)
    assert {str(h.session_id) for h in held} == {first.session_id, second.session_id}
    assert ledger_actions(case_id=case.id) == [
        "case.opened",
        "legal_hold.placed",
        "case.session_linked",
        "legal_hold.placed",
        "case.session_linked",
    ]


def test_a_case_links_only_its_customers_sessions(staff, make_session) -> None:
    mine, theirs = make_session("CUST-4711"), make_session("CUST-9999")
    case = open_case(staff, mine.session_id)
    with pytest.raises(NotFound):
        services.link_sessions(officer=staff.officer, case_id=case.id, session_ids=[theirs.session_id])
    with pytest.raises(NotFound):
        open_case(staff, theirs.session_id)
    assert list(case.links.values_list("session_id", flat=True)) == [
        Recording.objects.get(id=mine.recording_id).session_id
    ]
    assert ComplaintCase.objects.count() == 1  # the refused open kept nothing
    assert "access.denied" in ledger_actions(actor_id=str(staff.officer.pk))


def test_session_search_finds_metadata_by_customer_and_time(staff, make_session) -> None:
    made = make_session("CUST-4711")
    make_session("CUST-0001")
    found = list(selectors.find_sessions(customer_ref=" CUST-4711 "))
    assert [str(s.id) for s in found] == [made.session_id]
    later = timezone.now() + timedelta(hours=1)
    assert not selectors.find_sessions(customer_ref="CUST-4711", started_from=later).exists()


def test_request_needs_a_justification_and_the_case_awaits_approval(staff, make_session) -> None:
    case = open_case(staff, make_session().session_id)
    with pytest.raises(InvalidInput):
        services.request_access(officer=staff.officer, case_id=case.id, justification="   ")
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    case.refresh_from_db()
    assert case.status == "awaiting_approval" and request.status == "pending"
    with pytest.raises(Conflict):  # one pending request at a time
        services.request_access(officer=staff.officer, case_id=case.id, justification="Again.")


def test_no_session_is_linked_while_a_request_awaits_its_decision(staff, make_session) -> None:
    """The DPO approves what was asked for: a session linked after the request would otherwise be
    granted by an approval that never saw it."""
    asked, later = make_session(), make_session()
    case = open_case(staff, asked.session_id)
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    with pytest.raises(Conflict) as refused:
        services.link_sessions(officer=staff.officer, case_id=case.id, session_ids=[later.session_id])
    assert refused.value.code == "access_request_pending"
    assert not LegalHold.objects.filter(
        session_id=Recording.objects.get(id=later.recording_id).session_id
    ).exists()
    grant = services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="Justified.")
    assert [str(r.id) for r in grant.recordings.all()] == [asked.recording_id]
    # Once decided, the officer may link it (and ask again for it when this access has ended).
    services.link_sessions(officer=staff.officer, case_id=case.id, session_ids=[later.session_id])
    assert case.links.count() == 2


def test_four_eyes_nobody_approves_their_own_request_and_only_dpos_decide(staff, make_session) -> None:
    case = open_case(staff, make_session().session_id)
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    for outsider in (staff.officer, staff.other_officer, staff.auditor, staff.operator, staff.superuser):
        with pytest.raises(Forbidden):
            services.approve_access_request(approver=outsider, request_id=request.id, reason="ok")
    # A DPO who requested access for themselves (made possible only by a changed role) is refused too.
    request.requester = staff.dpo
    request.save(update_fields=["requester"])
    with pytest.raises(Forbidden) as refused:
        services.approve_access_request(approver=staff.dpo, request_id=request.id, reason="ok")
    assert refused.value.code == "four_eyes"
    request.refresh_from_db()
    assert request.status == "pending"
    assert ledger_actions(case_id=case.id, action="access.denied") == ["access.denied"]


def test_four_eyes_is_also_a_database_guarantee(staff, make_session) -> None:
    case = open_case(staff, make_session().session_id)
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    with pytest.raises(IntegrityError), transaction.atomic():
        AccessRequest.objects.filter(pk=request.pk).update(status="approved", decided_by=staff.officer)


def test_approval_grants_the_requester_the_cases_recordings_for_the_access_window(
    staff, make_session, settings
) -> None:
    settings.ACCESS_WINDOW = "48"
    case, request, grant, made = granted_case(staff, make_session)
    case.refresh_from_db()
    assert case.status == "access_granted"
    assert grant.grantee == staff.officer
    assert [str(r.id) for r in grant.recordings.all()] == [made.recording_id]
    assert grant.ends_at - grant.starts_at == timedelta(hours=48)
    with pytest.raises(Conflict):
        services.reject_access_request(approver=staff.other_dpo, request_id=request.id, reason="late")
    assert "case.access_approved" in ledger_actions(case_id=case.id)


def test_rejection_reopens_the_case_with_the_reason_on_record(staff, make_session) -> None:
    case = open_case(staff, make_session().session_id)
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    with pytest.raises(InvalidInput):
        services.reject_access_request(approver=staff.dpo, request_id=request.id, reason="")
    services.reject_access_request(approver=staff.dpo, request_id=request.id, reason="Not specific.")
    case.refresh_from_db()
    assert case.status == "open"
    entry = selectors.case_history(case_id=case.id).get(action="case.access_rejected")
    # The ledger keeps a commitment to the reason; the reason itself stays with the request.
    assert "Not specific." not in json.dumps(entry.details) and entry.actor_id == str(staff.dpo.pk)
    assert commitments.check(entry.details, key=case.text_key, text="Not specific.")
    assert entry.details["text"] == "request.reason"


def test_closing_revokes_grants_and_releases_holds_so_an_expired_recording_is_purged(
    staff, make_session
) -> None:
    case, _, grant, made = granted_case(staff, make_session)
    Recording.objects.filter(id=made.recording_id).update(expires_at=timezone.now() - timedelta(days=1))
    assert purge_expired().purged == 0  # held by the open case
    with pytest.raises(InvalidInput):
        services.close_case(officer=staff.officer, case_id=case.id, outcome="maybe", summary="x")
    services.close_case(
        officer=staff.officer,
        case_id=case.id,
        outcome="abuse_not_confirmed",
        summary="Agent acted as agreed.",
    )
    grant.refresh_from_db()
    case.refresh_from_db()
    assert grant.revoked_at is not None
    assert case.status == "closed" and case.outcome == "abuse_not_confirmed"
    assert not LegalHold.objects.filter(case_id=case.id, released_at__isnull=True).exists()
    assert purge_expired().purged == 1
    assert Recording.objects.get(id=made.recording_id).state == "purged"
    with pytest.raises(Conflict):
        services.close_case(officer=staff.officer, case_id=case.id, outcome="withdrawn", summary="again")


def test_closing_cancels_a_pending_request_and_each_transition_gives_its_reason(staff, make_session) -> None:
    case = open_case(staff, make_session().session_id)
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    services.close_case(officer=staff.officer, case_id=case.id, outcome="withdrawn", summary="Withdrawn.")
    request.refresh_from_db()
    assert request.status == "cancelled"
    entries = {e.action: e for e in LedgerEntry.objects.filter(case_id=case.id)}
    assert entries["case.access_request_cancelled"].details == {
        "request": str(request.id),
        "reason": "case_closed",
    }
    assert entries["legal_hold.placed"].details["reason"] == f"complaint case {case.id}"
    assert entries["legal_hold.released"].details["reason"] == f"complaint case {case.id} closed"
    # Opening and linking answer the complaint, whose text stays out of the ledger (personal data).
    transitions = LedgerEntry.objects.filter(case_id=case.id).exclude(
        action__in=["case.opened", "case.session_linked"]
    )
    assert {e.action for e in transitions} == {
        "legal_hold.placed", "case.access_requested", "case.access_request_cancelled",
        "legal_hold.released", "case.closed",
    }  # fmt: skip
    # Each gives its reason: a code, or a commitment to the text typed (kept with the case).
    assert all(
        e.actor_id == str(staff.officer.pk)
        and (e.details.get("reason") or e.details.get(commitments.COMMITMENT))
        for e in transitions
    )


def test_a_purged_recording_shows_in_the_case_as_its_tombstone(staff, make_session) -> None:
    made = make_session("CUST-4711")
    Recording.objects.filter(id=made.recording_id).update(expires_at=timezone.now() - timedelta(days=1))
    purge_expired()
    found = selectors.find_sessions(customer_ref="CUST-4711").get()  # by the original reference
    assert found.customer_ref is None  # the raw reference is gone; its keyed hash found it
    case = open_case(staff, str(found.id))
    [linked] = selectors.case_sessions(case=case)
    assert linked.tombstone is not None
    assert linked.tombstone.purged_at == Recording.objects.get(id=made.recording_id).purged_at
    assert linked.tombstone.ledger_seq is not None
    proof = LedgerEntry.objects.get(seq=linked.tombstone.ledger_seq)
    assert proof.action == "recording.purged" and str(proof.recording_id) == made.recording_id
    with pytest.raises(Conflict):  # nothing left to play
        services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")


def test_grants_expire_on_schedule_and_the_officer_may_ask_again(staff, make_session) -> None:
    case, _, grant, _ = granted_case(staff, make_session)
    assert services.expire_access_grants() == 0
    with time_machine.travel(grant.ends_at + timedelta(seconds=1)):
        assert services.expire_access_grants() == 1
        assert services.expire_access_grants() == 0  # safe to run twice
    case.refresh_from_db()
    assert case.status == "access_expired"
    services.request_access(officer=staff.officer, case_id=case.id, justification="Need another look.")


def test_an_officer_sees_and_acts_on_own_cases_only(staff, make_session) -> None:
    case = open_case(staff, make_session().session_id)
    assert list(selectors.cases_for_user(user=staff.other_officer)) == []
    assert list(selectors.cases_for_user(user=staff.dpo)) == [case]
    assert list(selectors.cases_for_user(user=staff.operator)) == []
    with pytest.raises(NotFound):
        services.request_access(officer=staff.other_officer, case_id=case.id, justification="Curious.")
    with pytest.raises(NotFound):
        services.close_case(officer=staff.other_officer, case_id=case.id, outcome="withdrawn", summary="x")
    assert ledger_actions(case_id=case.id, action="access.denied") == ["access.denied"] * 2


def test_pending_requests_are_listed_for_dpos_only(staff, make_session) -> None:
    case = open_case(staff, make_session().session_id)
    request = services.request_access(officer=staff.officer, case_id=case.id, justification="Needed.")
    assert list(selectors.pending_access_requests(user=staff.dpo)) == [request]
    assert list(selectors.pending_access_requests(user=staff.officer)) == []
