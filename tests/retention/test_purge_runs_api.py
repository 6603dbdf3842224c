"""Purge runs are listed for staff allowed to see them, and for nobody else."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from retention.services import purge_expired
from staff.roles import assign_role
from tests.staff import signed_in_api

pytestmark = pytest.mark.django_db


def signed_in_user(*, may_view: bool) -> APIClient:
    """A signed-in auditor (who sees purge runs, as operators do), or a user without a role."""
    user = get_user_model().objects.create_user(f"user-{may_view}", password="a-long-enough-password")
    if may_view:
        assign_role(user=user, role="auditor")
    return signed_in_api(user)


def test_an_auditor_sees_the_runs_newest_first(make_recordings) -> None:
    make_recordings(2)
    first = purge_expired()
    second = purge_expired()
    answer = signed_in_user(may_view=True).get("/api/v1/purge-runs")
    assert answer.status_code == 200
    runs = answer.json()["results"]
    assert [r["id"] for r in runs] == [str(second.id), str(first.id)]
    assert (runs[1]["shredded"], runs[1]["purged"], runs[1]["failed"]) == (2, 2, 0)


def test_others_are_refused(api) -> None:
    assert APIClient().get("/api/v1/purge-runs").status_code == 403
    assert signed_in_user(may_view=False).get("/api/v1/purge-runs").json()["error"] == "forbidden"
    assert api.get("/api/v1/purge-runs").status_code == 403  # a recorder token is not staff
