"""ACCESS_WINDOW is read as ISO 8601 or hours and checked at start; the admin cannot make grants
or decide requests, not even for a superuser; grant expiry runs on beat."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from complaints.models import AccessGrant
from complaints.services import access_window
from complaints.tasks import expire_access_grants
from config.celery import app


@pytest.mark.parametrize(
    ("text", "window"),
    [("PT72H", timedelta(hours=72)), ("P3D", timedelta(days=3)), ("72", timedelta(hours=72)),
     ("1.5", timedelta(minutes=90)), (" PT30M ", timedelta(minutes=30))],
)  # fmt: skip
def test_access_window_is_iso_8601_or_hours(settings, text, window) -> None:
    settings.ACCESS_WINDOW = text
    assert access_window() == window


@pytest.mark.django_db  # the system checks also read the accounts (staff.E001)
@pytest.mark.parametrize("text", ["P1M", "PT0S", "-5", "soon", ""])
def test_a_bad_access_window_stops_the_service_at_start(settings, text) -> None:
    settings.ACCESS_WINDOW = text
    with pytest.raises(ImproperlyConfigured):
        access_window()
    assert "complaints.E001" in {message.id for message in run_checks()}


def test_the_admin_shows_but_never_makes_grants_or_decisions(staff) -> None:
    client = Client()
    client.force_login(staff.superuser)
    assert client.get("/admin/complaints/accessgrant/").status_code == 200
    assert client.get("/admin/complaints/accessgrant/add/").status_code == 403
    assert client.post("/admin/complaints/accessgrant/add/", {}).status_code == 403
    assert client.get("/admin/complaints/accessrequest/add/").status_code == 403
    assert not AccessGrant.objects.exists()


def test_grant_expiry_is_a_registered_beat_task(settings, db) -> None:
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "complaints.tasks.expire_access_grants" in scheduled
    app.loader.import_default_modules()
    assert "complaints.tasks.expire_access_grants" in app.tasks
    assert expire_access_grants.apply().get() == 0
