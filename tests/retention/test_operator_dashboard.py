"""The operator dashboard: who may see it, and that it shows states, expiries, holds and runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse

from audit.services import Actor
from retention.services import place_legal_hold, purge_expired
from tests.staff import one_of_each_role

pytestmark = pytest.mark.django_db

EXPECTED = {
    "operator": 200,
    "compliance_officer": 403,
    "data_protection_officer": 403,
    "auditor": 403,
    "no_role": 403,
}


def test_only_operators_open_the_dashboard_and_anonymous_visitors_are_sent_to_sign_in() -> None:
    url = reverse("retention:dashboard")
    anonymous = Client().get(url)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login"))
    for role, user in one_of_each_role().items():
        client = Client()
        client.force_login(user)
        assert client.get(url).status_code == EXPECTED[role], role


def test_dashboard_counts_states_expiries_holds_and_purge_runs(recording_maker) -> None:
    recording_maker(2)  # already expired
    held = recording_maker(1)
    kept = recording_maker(3, expires_in=timedelta(days=20))
    place_legal_hold(session_id=held[0].session_id, reason="complaint", actor=Actor.system())
    purge_expired()  # purges the two due ones, keeps the held one
    operator = one_of_each_role()["operator"]
    client = Client()
    client.force_login(operator)

    page = client.get(reverse("retention:dashboard"))

    assert page.status_code == 200
    overview = page.context["overview"]
    assert overview.counts == {"receiving": 0, "locked": 4, "shredded": 0, "purged": 2}
    assert overview.backlog.to_purge == 0
    assert [hold.session_id for hold in overview.holds] == [held[0].session_id]
    assert overview.runs[0].purged == 2 and overview.runs[0].skipped_held == 1
    assert overview.last_run_age == "under a minute"
    schedule = {rect.title for rect in overview.expiry_chart.rects}
    assert "Expired already \u00b7 Kept by a legal hold: 1" in schedule
    assert any(title.endswith(" \u00b7 Purged when due: 3") for title in schedule)
    html = page.content.decode()
    assert '<svg class="chart"' in html and "Recordings by state" in html
    assert str(kept[0].id)[:8] in html
    # Metadata only: no customer reference on an operator's page.
    assert "CUST-" not in html


def test_dashboard_is_in_the_operators_navigation() -> None:
    client = Client()
    client.force_login(one_of_each_role()["operator"])
    home = client.get("/")
    assert reverse("retention:dashboard").encode() in home.content
    page = client.get(reverse("retention:dashboard"))
    assert b'aria-current="page">Operations dashboard' in page.content


def test_the_dashboard_is_in_german_for_a_german_browser(recording_maker) -> None:
    recording_maker(1)  # already expired
    held = recording_maker(1)
    recording_maker(1, expires_in=timedelta(days=20))
    place_legal_hold(session_id=held[0].session_id, reason="complaint", actor=Actor.system())
    purge_expired()
    client = Client()
    client.force_login(one_of_each_role()["operator"])

    page = client.get(reverse("retention:dashboard"), HTTP_ACCEPT_LANGUAGE="de")

    assert page.status_code == 200 and page["Content-Language"] == "de"
    html = page.content.decode()
    main = html[html.index('<main id="main"') : html.index("</main>")]
    assert "<h1>Betriebsübersicht</h1>" in main
    assert "Aufzeichnungen nach Zustand" in main and "Geltende Legal Holds" in main
    assert "Gesichert (aufbewahrt)" in main  # a chart's series
    assert "<td>Zeitplan</td>" in main  # the run's trigger, a model choice
    assert "seit dem letzten Löschlauf" in main and "weniger als eine Minute" in main
    assert "Nächste Löschungen" in main and "Bereits abgelaufen" in main
    schedule = {rect.title for rect in page.context["overview"].expiry_chart.rects}
    assert "Bereits abgelaufen \u00b7 Durch Legal Hold aufbewahrt: 1" in schedule  # nouns as written
    assert " CET</time>" in main or " CEST</time>" in main
    assert "Recordings by state" not in main and "Purge runs" not in main
