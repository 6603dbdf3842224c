"""Locked: the admin and every API show metadata only; no path lets staff read content or keys."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from recorder.models import Recording
from tests.factories import MARKER

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_browser() -> Client:
    root = get_user_model().objects.create_superuser("root", "root@example.org", "a-long-admin-password")
    browser = Client()
    browser.force_login(root)  # Client.login() passes no request, which django-axes refuses
    return browser


def test_admin_shows_recording_metadata_but_never_the_sealed_header(
    superuser_browser: Client, recording: tuple[Recording, bytes]
) -> None:
    locked, _ = recording
    header = bytes(locked.header)
    for url in ["/admin/recorder/recording/", f"/admin/recorder/recording/{locked.id}/change/"]:
        page = superuser_browser.get(url)
        assert page.status_code == 200
        text = page.content.decode()
        assert str(locked.id) in text
        assert "age-encryption.org" not in text
        assert base64.b64encode(header[:48]).decode()[:20] not in text
        assert locked.fingerprint not in text
        assert MARKER.decode() not in text


def test_admin_cannot_change_or_delete_recordings(
    superuser_browser: Client, recording: tuple[Recording, bytes]
) -> None:
    locked, _ = recording
    change = superuser_browser.post(f"/admin/recorder/recording/{locked.id}/change/", {"state": "purged"})
    delete = superuser_browser.post(f"/admin/recorder/recording/{locked.id}/delete/", {"post": "yes"})
    assert change.status_code == 403 and delete.status_code == 403
    locked.refresh_from_db()
    assert locked.state == Recording.State.LOCKED


def test_recording_endpoint_has_no_read_method(api: APIClient, recording: tuple[Recording, bytes]) -> None:
    locked, _ = recording
    answer = api.get(f"/api/v1/sessions/{locked.session_id}/recording")
    assert answer.status_code == 405
    assert answer.json()["error"] == "method_not_allowed"
