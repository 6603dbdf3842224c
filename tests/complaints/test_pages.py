"""The officer's and the DPO's pages: who gets which answer (page x role), and what each page does.

The workflow's rules live in complaints.services and have their own tests; these pin the pages:
status codes per role, forms calling the services, the player's markup, step-up and CSRF.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import LedgerEntry
from complaints import services
from complaints.models import AccessRequest, ComplaintCase
from recorder.models import Recording
from retention.models import LegalHold
from retention.services import purge_expired
from staff.step_up import SESSION_KEY
from tests.complaints.conftest import World
from tests.staff import signed_in

pytestmark = pytest.mark.local_store

ROLES = ("anonymous", "officer", "other_officer", "dpo", "auditor", "operator", "superuser")


def page_client(staff, role: str) -> Client:
    return Client() if role == "anonymous" else signed_in(getattr(staff, role))


def page_urls(world: World) -> dict[str, str]:
    case = {"case_id": world.case.id}
    return {
        "case-list": reverse("complaints:case-list"),
        "case-new": reverse("complaints:case-new"),
        "case-detail": reverse("complaints:case-detail", kwargs=case),
        "request-access": reverse("complaints:request-access", kwargs=case),
        "case-close": reverse("complaints:case-close", kwargs=case),
        "player": reverse("complaints:player", kwargs={**case, "recording_id": world.recording_id}),
        "approval-queue": reverse("complaints:approval-queue"),
    }


# page -> answer per role, in ROLES order. 302 for anonymous is the sign-in page; the officer's
# player answers 302 too (back to the case: access is still awaiting approval). Another
# officer's case is 404, as if it did not exist; roles without the page get 403, superuser too.
EXPECTED = {
    "case-list": (302, 200, 200, 200, 403, 403, 403),
    "case-new": (302, 200, 200, 403, 403, 403, 403),
    "case-detail": (302, 200, 404, 200, 403, 403, 403),
    "request-access": (302, 200, 404, 403, 403, 403, 403),
    "case-close": (302, 200, 404, 403, 403, 403, 403),
    "player": (302, 302, 404, 403, 403, 403, 403),
    "approval-queue": (302, 403, 403, 200, 403, 403, 403),
}


def test_every_page_answers_every_role_as_the_role_table_says(staff, world) -> None:
    answers = {}
    for page, url in page_urls(world).items():
        answers[page] = tuple(page_client(staff, role).get(url).status_code for role in ROLES)
    assert answers == EXPECTED


def test_anonymous_visitors_are_sent_to_sign_in_and_back(world) -> None:
    url = reverse("complaints:case-detail", kwargs={"case_id": world.case.id})
    answer = Client().get(url)
    assert answer["Location"] == f"{reverse('login')}?next={url}"


def test_a_guessed_case_id_is_not_found_and_on_record(staff, world) -> None:
    client = page_client(staff, "other_officer")
    for guess in (world.case.id, "not-a-uuid"):
        assert client.get(reverse("complaints:case-detail", kwargs={"case_id": guess})).status_code == 404
    denials = LedgerEntry.objects.filter(action="access.denied", actor_label=staff.other_officer.username)
    assert denials.count() == 2


def test_a_refused_page_is_on_record_for_the_signed_in_user(staff, world) -> None:
    for role, page in (("operator", "complaints:case-list"), ("dpo", "complaints:case-new")):
        user = getattr(staff, role)
        answer = page_client(staff, role).get(reverse(page), headers={"Accept": "text/html"})
        assert answer.status_code == 403 and b"<h1>Not allowed</h1>" in answer.content
        [denial] = LedgerEntry.objects.filter(action="access.denied", actor_id=str(user.pk))
        assert denial.details == {"reason": "page_forbidden", "page": page, "method": "GET"}


def test_a_guessed_recording_on_the_player_is_not_found_and_on_record(staff, world, make_session) -> None:
    """Another customer's recording, or no recording at all, under the officer's own case: 404,
    as a guessed case is. A recording of the case without an active grant is explained instead."""
    theirs = make_session("CUST-9999")
    client = page_client(staff, "officer")
    for guess in (theirs.recording_id, "not-a-uuid"):
        url = reverse("complaints:player", kwargs={"case_id": world.case.id, "recording_id": guess})
        assert client.get(url).status_code == 404
    own = reverse("complaints:player", kwargs={"case_id": world.case.id, "recording_id": world.recording_id})
    assert client.get(own)["Location"] == f"/cases/{world.case.id}/"  # awaiting approval
    denials = LedgerEntry.objects.filter(action="access.denied", actor_id=str(staff.officer.pk))
    assert [(d.details["reason"], d.recording_id) for d in denials.order_by("seq")] == [
        ("recording_not_in_case", None),
        ("recording_not_in_case", None),
        ("no_active_grant", Recording.objects.get(id=world.recording_id).id),
    ]


def test_a_browser_gets_a_page_for_not_found_and_the_api_keeps_json(staff, world) -> None:
    client = page_client(staff, "other_officer")
    url = reverse("complaints:case-detail", kwargs={"case_id": world.case.id})
    page = client.get(url, headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and b"<h1>Not found</h1>" in page.content
    api = client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json()["error"] == "not_found"


def test_officer_opens_a_case_from_the_form_and_each_picked_session_is_held(staff, make_session) -> None:
    recorded = make_session("CUST-0042")
    client = page_client(staff, "officer")
    search = client.post(
        reverse("complaints:case-new"), {"action": "search", "customer_ref": "CUST-0042", "complaint": "kept"}
    )
    assert search.status_code == 200
    assert recorded.session_id.encode() in search.content
    assert b">kept</textarea>" in search.content  # what was typed survives the search
    assert LedgerEntry.objects.filter(action="sessions.searched").count() == 1

    answer = client.post(
        reverse("complaints:case-new"),
        {
            "action": "open", "customer_ref": "CUST-0042", "channel": "email",
            "complaint": "The agent read my e-mails.", "sessions": [recorded.session_id],
        },
    )  # fmt: skip

    case = ComplaintCase.objects.get(customer_ref="CUST-0042")
    assert answer.status_code == 302 and answer["Location"] == f"/cases/{case.id}/"
    assert LegalHold.objects.filter(session_id=recorded.session_id, released_at__isnull=True).exists()
    page = client.get(answer["Location"])
    assert b"Case opened." in page.content and b"Rights over the session" in page.content


def test_a_case_needs_a_complaint_and_a_channel(staff, make_session) -> None:
    """The refused form shows the customer's sessions again, to keep the officer's picks: that
    showing is a search on record, so no post lists a customer's sessions off the record."""
    recorded = make_session("CUST-1")
    answer = page_client(staff, "officer").post(
        reverse("complaints:case-new"), {"action": "open", "customer_ref": "CUST-1"}
    )
    assert answer.status_code == 400
    assert not ComplaintCase.objects.exists()
    assert recorded.session_id.encode() in answer.content
    [search] = LedgerEntry.objects.filter(action="sessions.searched")
    assert search.actor_id == str(staff.officer.pk) and search.details["found"] == 1


def test_a_complaint_received_before_2000_is_refused_on_the_form(staff) -> None:
    answer = page_client(staff, "officer").post(
        reverse("complaints:case-new"),
        {
            "action": "open", "customer_ref": "CUST-0042", "channel": "phone", "complaint": "x",
            "received_at": "1900-01-01T09:00",
        },
    )  # fmt: skip
    assert answer.status_code == 400
    assert b"received_at must not be before 2000" in answer.content
    assert not ComplaintCase.objects.exists()


def test_another_customers_session_cannot_be_picked(staff, make_session) -> None:
    foreign = make_session("CUST-OTHER")
    answer = page_client(staff, "officer").post(
        reverse("complaints:case-new"),
        {
            "action": "open", "customer_ref": "CUST-0042", "channel": "phone", "complaint": "x",
            "sessions": [foreign.session_id],
        },
    )  # fmt: skip
    assert answer.status_code == 400
    assert b"No session" in answer.content
    assert not ComplaintCase.objects.exists()


def approve(staff, world: World) -> None:
    services.approve_access_request(approver=staff.dpo, request_id=world.request.id, reason="Justified.")


def test_dpo_approves_from_the_queue_and_the_officer_gets_the_player(staff, world) -> None:
    dpo = page_client(staff, "dpo")
    queue = dpo.get(reverse("complaints:approval-queue"))
    assert b"Needed." in queue.content and b"The agent changed my settings." in queue.content
    decided = dpo.post(
        reverse("complaints:decide", kwargs={"request_id": world.request.id}),
        {"decision": "approve", "reason": "Justified."},
    )
    assert decided.status_code == 302
    world.request.refresh_from_db()
    assert world.request.status == AccessRequest.Status.APPROVED

    urls = page_urls(world)
    player = page_client(staff, "officer").get(urls["player"])
    assert player.status_code == 200
    html = player.content.decode()
    stream = reverse(
        "recording-stream", kwargs={"case_id": world.case.id, "recording_id": world.recording_id}
    )
    assert f'src="{stream}"' in html
    assert 'controlslist="nodownload' in html
    assert stream not in html.replace(f'src="{stream}"', "")  # the element's source, and nowhere else
    assert not re.search(r"<a\b[^>]*\bdownload\b", html)
    # The DPO who approved still cannot play it: the grant is the officer's.
    assert page_client(staff, "dpo").get(urls["player"]).status_code == 403


def test_the_player_asks_for_the_password_again_after_fifteen_minutes(staff, world) -> None:
    approve(staff, world)
    client = page_client(staff, "officer")
    session = client.session
    session[SESSION_KEY] = int(time.time()) - 16 * 60
    session.save()
    url = page_urls(world)["player"]
    answer = client.get(url)
    assert answer.status_code == 302
    assert answer["Location"].startswith(reverse("step-up"))


def test_dpo_rejects_with_a_reason_and_the_case_is_open_again(staff, world) -> None:
    answer = page_client(staff, "dpo").post(
        reverse("complaints:decide", kwargs={"request_id": world.request.id}),
        {"decision": "reject", "reason": "Not specific enough."},
    )
    assert answer.status_code == 302
    world.case.refresh_from_db()
    assert world.case.status == ComplaintCase.Status.OPEN
    page = page_client(staff, "officer").get(
        reverse("complaints:case-detail", kwargs={"case_id": world.case.id})
    )
    assert b"Not specific enough." in page.content


def test_a_decision_without_a_reason_changes_nothing(staff, world) -> None:
    page_client(staff, "dpo").post(
        reverse("complaints:decide", kwargs={"request_id": world.request.id}), {"decision": "approve"}
    )
    world.request.refresh_from_db()
    assert world.request.status == AccessRequest.Status.PENDING


def test_decisions_need_the_csrf_token_and_a_post(staff, world) -> None:
    url = reverse("complaints:decide", kwargs={"request_id": world.request.id})
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff.dpo)
    assert client.post(url, {"decision": "approve", "reason": "ok"}).status_code == 403
    assert client.get(url).status_code == 405
    reloaded = client.get(url, headers={"Accept": "text/html"})  # a reload of the form's address
    assert reloaded.status_code == 405 and b"<h1>Use the form</h1>" in reloaded.content
    assert reloaded["Allow"] == "POST"
    world.request.refresh_from_db()
    assert world.request.status == AccessRequest.Status.PENDING


def test_a_dpo_deciding_their_own_request_is_told_why(staff, world) -> None:
    world.request.requester = staff.dpo  # possible only through a changed role
    world.request.save(update_fields=["requester"])
    client = page_client(staff, "dpo")
    url = reverse("complaints:decide", kwargs={"request_id": world.request.id})
    answer = client.post(url, {"decision": "approve", "reason": "ok"}, follow=True)
    assert answer.status_code == 200 and b"Nobody may decide their own access request." in answer.content
    world.request.refresh_from_db()
    assert world.request.status == AccessRequest.Status.PENDING
    [denial] = LedgerEntry.objects.filter(action="access.denied")
    assert denial.details["reason"] == "four_eyes"


def test_a_closed_case_offers_no_form(staff, world) -> None:
    client = page_client(staff, "officer")
    url = reverse("complaints:case-close", kwargs={"case_id": world.case.id})
    client.post(url, {"outcome": "withdrawn", "summary": "Withdrawn."})
    for page in ("complaints:case-close", "complaints:request-access"):
        answer = client.get(reverse(page, kwargs={"case_id": world.case.id}), follow=True)
        assert answer.redirect_chain == [(f"/cases/{world.case.id}/", 302)]
        assert b"The case is closed" in answer.content


def test_officer_closes_the_case_with_an_outcome(staff, world) -> None:
    approve(staff, world)
    client = page_client(staff, "officer")
    url = reverse("complaints:case-close", kwargs={"case_id": world.case.id})
    assert client.post(url, {"outcome": "withdrawn"}).status_code == 400  # a summary is required
    answer = client.post(url, {"outcome": "withdrawn", "summary": "The customer withdrew."})
    assert answer.status_code == 302
    world.case.refresh_from_db()
    assert world.case.status == ComplaintCase.Status.CLOSED
    assert client.get(page_urls(world)["player"]).status_code == 302  # the grant ended with the case


def test_request_access_page_refuses_a_second_request_while_one_is_pending(staff, world) -> None:
    client = page_client(staff, "officer")
    url = reverse("complaints:request-access", kwargs={"case_id": world.case.id})
    answer = client.post(url, {"justification": "Again."}, follow=True)
    assert answer.redirect_chain[-1][0] == f"/cases/{world.case.id}/"
    assert AccessRequest.objects.filter(case=world.case).count() == 1


def test_case_list_shows_status_and_deadline(staff, world) -> None:
    page = page_client(staff, "officer").get(reverse("complaints:case-list"))
    html = page.content.decode()
    assert "Awaiting approval" in html
    assert f"{world.case.respond_by:%Y-%m-%d}" in html
    assert page_client(staff, "other_officer").get(reverse("complaints:case-list")).context["rows"] == []


def test_a_purged_recording_shows_as_its_tombstone_with_the_ledger_entry(staff, world) -> None:
    services.close_case(
        officer=staff.officer, case_id=world.case.id, outcome="withdrawn", summary="Withdrawn."
    )
    Recording.objects.filter(id=world.recording_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    purge_expired()
    proof = LedgerEntry.objects.get(action="recording.purged", recording_id=world.recording_id)

    page = page_client(staff, "officer").get(
        reverse("complaints:case-detail", kwargs={"case_id": world.case.id})
    )

    html = page.content.decode()
    assert "<strong>Purged</strong>" in html
    assert f"#{proof.seq}</span>" in html
    assert "Play recording" not in html


def test_the_header_marks_only_the_section_one_is_in(staff) -> None:
    page = page_client(staff, "dpo").get(reverse("complaints:approval-queue"))
    current = [section["title"] for section in page.context["nav_sections"] if section["current"]]
    assert current == ["Access requests to decide"]


def test_each_role_is_offered_exactly_the_sections_it_may_open(staff) -> None:
    """A section in the header or on the home page opens (200) for that user; no other does."""
    sections = {
        "Complaint cases": reverse("complaints:case-list"),
        "Access requests to decide": reverse("complaints:approval-queue"),
        "Audit ledger": reverse("audit:ledger"),
        "Operations dashboard": reverse("retention:dashboard"),
        "Data-subject requests": reverse("privacy:subject-requests"),
    }
    for role in ROLES[1:]:
        client = page_client(staff, role)
        offered = {section["title"] for section in client.get("/").context["sections"]}
        opens = {title for title, url in sections.items() if client.get(url).status_code == 200}
        assert offered == opens, role
