"""Data-subject requests: the access report (Art. 15) and early erasure (Art. 17), for data
protection officers only, each on the ledger by keyed hash."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from audit.models import LedgerEntry
from complaints import services as complaints
from core.errors import Forbidden
from privacy import services as privacy
from recorder.models import Recording, Session
from recorder.pseudonyms import customer_hash
from tests.privacy.conftest import Subject
from tests.staff import signed_in, signed_in_api

pytestmark = [pytest.mark.django_db, pytest.mark.local_store]
REPORT = "/api/v1/subject-requests/access-report"
ERASURE = "/api/v1/subject-requests/erasure"


def test_the_access_report_lists_every_session_case_and_access_and_is_on_record(
    subject: Subject, staff
) -> None:
    answer = signed_in_api(staff.dpo).post(REPORT, {"customer_ref": subject.customer_ref}, format="json")
    assert answer.status_code == 200, answer.content
    report = answer.json()
    sessions = {s["id"]: s for s in report["sessions"]}
    assert set(sessions) == {subject.recorded, subject.refused, subject.purged, subject.held}
    assert sessions[subject.refused]["recorded"] is False and sessions[subject.refused]["recording"] is None
    assert sessions[subject.refused]["session_data_ends_at"] is not None
    assert sessions[subject.purged]["pseudonymised"] is True
    assert sessions[subject.purged]["recording"]["state"] == "purged"
    assert sessions[subject.purged]["recording"]["deleted_at"] is not None
    assert sessions[subject.recorded]["recording"]["state"] == "locked"
    assert sessions[subject.recorded]["recording"]["size"] == 4000
    assert sessions[subject.recorded]["recording"]["deletes_at"] is not None
    assert [h["case_id"] for h in sessions[subject.held]["legal_holds"]] == [subject.case_id]
    assert sessions[subject.recorded]["legal_holds"] == []
    assert all(s["agent_ref"] is None for s in report["sessions"])  # the data map withholds it
    assert [c["id"] for c in report["cases"]] == [subject.case_id]
    assert report["cases"][0]["complaint"] == "The agent read my e-mails."
    assert staff.officer.get_username() not in answer.content.decode()  # no staff member's name
    entry = LedgerEntry.objects.filter(action="subject.access_reported").get()
    assert entry.details["customer_ref_hash"] == customer_hash(subject.customer_ref)
    assert subject.customer_ref not in json.dumps(entry.details)


def test_only_a_data_protection_officer_gets_a_report_or_erases(subject: Subject, staff) -> None:
    for user in (staff.officer, staff.auditor, staff.operator, staff.superuser):
        client = signed_in_api(user)
        assert client.post(REPORT, {"customer_ref": subject.customer_ref}, format="json").status_code == 403
        refused = client.post(
            ERASURE, {"customer_ref": subject.customer_ref, "ground": "objection"}, format="json"
        )
        assert refused.status_code == 403
        assert signed_in(user).get("/privacy/").status_code == 403
    assert not LedgerEntry.objects.filter(action__startswith="subject.").exists()
    assert Session.objects.filter(customer_ref=subject.customer_ref).count() == 3


def test_a_refusal_reads_in_the_callers_language_and_its_code_stays_english(subject: Subject, staff) -> None:
    body = {"customer_ref": subject.customer_ref, "ground": "objection"}
    german = signed_in_api(staff.officer).post(ERASURE, body, format="json", HTTP_ACCEPT_LANGUAGE="de")
    assert german.status_code == 403
    assert german.json() == {
        "error": "forbidden",
        "detail": "Sie sind nicht berechtigt, diese Aktion durchzuführen.",
    }
    # Behind the API's role check, the services refuse on their own, in the same language.
    with translation.override("de"), pytest.raises(Forbidden) as refused:
        privacy.erase_subject(dpo=staff.officer, customer_ref=subject.customer_ref, ground="objection")
    assert str(refused.value.detail) == "Nur Datenschutzbeauftragte dürfen die Daten eines Kunden löschen."
    with translation.override("de"), pytest.raises(Forbidden) as refused:
        privacy.report_access(dpo=staff.auditor, customer_ref=subject.customer_ref)
    assert str(refused.value.detail) == (
        "Nur Datenschutzbeauftragte dürfen berichten, was der Tresor über einen Kunden hält."
    )
    assert Session.objects.filter(customer_ref=subject.customer_ref).count() == 3


def test_erasure_is_refused_while_a_case_holds_a_session_and_changes_nothing(subject: Subject, staff) -> None:
    before = list(Session.objects.order_by("id").values_list("id", "customer_ref", "external_id"))
    states = list(Recording.objects.order_by("id").values_list("id", "state"))
    dpo = signed_in_api(staff.dpo)  # signing in (with its step-up) writes entries of its own
    seq = LedgerEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    erasure = {"customer_ref": subject.customer_ref, "ground": "consent_withdrawn"}
    answer = dpo.post(ERASURE, erasure, format="json")
    assert answer.status_code == 409
    assert answer.json()["error"] == "legal_hold" and subject.case_id in answer.json()["detail"]
    assert list(Session.objects.order_by("id").values_list("id", "customer_ref", "external_id")) == before
    assert list(Recording.objects.order_by("id").values_list("id", "state")) == states
    assert list(LedgerEntry.objects.filter(seq__gt=seq).values_list("action", flat=True)) == ["access.denied"]


def test_erasure_of_a_free_customer_shreds_deletes_and_pseudonymises_now(
    subject: Subject, staff, store
) -> None:
    complaints.close_case(
        officer=staff.officer, case_id=subject.case_id, outcome="withdrawn", summary="Withdrawn."
    )
    recordings = {
        r.session_id: r
        for r in Recording.objects.filter(session__customer_ref_hash=customer_hash(subject.customer_ref))
    }
    answer = signed_in_api(staff.dpo).post(
        ERASURE, {"customer_ref": subject.customer_ref, "ground": "consent_withdrawn"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json() | {"errors": []} == answer.json()
    assert (answer.json()["shredded"], answer.json()["purged"], answer.json()["failed"]) == (2, 2, 0)
    assert not Session.objects.filter(customer_ref=subject.customer_ref).exists()
    for session_id in (subject.recorded, subject.held, subject.refused):
        session = Session.objects.get(id=session_id)
        assert (session.customer_ref, session.agent_ref) == (None, None)
    for session_id in (subject.recorded, subject.held):
        recording = Recording.objects.get(session_id=session_id)
        assert recording.state == "purged" and recording.header is None
        assert recordings[recording.session_id].object_key not in store.keys()
        shredded = LedgerEntry.objects.get(action="recording.shredded", recording_id=recording.id)
        assert shredded.details["reason"] == "erasure_requested"
        assert LedgerEntry.objects.get(action="recording.purged", recording_id=recording.id).details[
            "reason"
        ] == ("erasure_requested")
    assert LedgerEntry.objects.get(action="session.pseudonymised", session_id=subject.refused).details[
        "reason"
    ] == ("erasure_requested")
    erased = LedgerEntry.objects.get(action="subject.erased")
    assert erased.details["customer_ref_hash"] == customer_hash(subject.customer_ref)
    assert erased.details["ground"] == "consent_withdrawn"
    assert subject.customer_ref not in json.dumps(list(LedgerEntry.objects.values_list("details", flat=True)))


def test_the_api_is_in_the_openapi_schema(client) -> None:
    schema = client.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()
    assert {"subject_access_report", "subject_erasure"} <= {
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    }
