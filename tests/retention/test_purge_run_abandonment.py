"""A purge run whose worker died is not shown as running for ever: the next run marks it
abandoned once it has made no progress for PURGE_RUN_STALE_AFTER_SECONDS, and completes its work."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from recorder.models import Recording
from retention.models import PurgeRun
from retention.services import purge_expired
from staff.roles import assign_role

pytestmark = pytest.mark.django_db


def unfinished_run(*, progressed_minutes_ago: float) -> PurgeRun:
    moment = timezone.now() - timedelta(minutes=progressed_minutes_ago)
    return PurgeRun.objects.create(
        trigger=PurgeRun.Trigger.SCHEDULE, started_at=moment, progressed_at=moment, shredded=3, purged=0
    )


def test_the_next_run_marks_a_stalled_run_abandoned_and_leaves_a_live_one_alone(settings) -> None:
    settings.PURGE_RUN_STALE_AFTER_SECONDS = 15 * 60
    dead = unfinished_run(progressed_minutes_ago=16)
    alive = unfinished_run(progressed_minutes_ago=1)
    run = purge_expired()
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.abandoned_at == run.started_at and dead.finished_at is None
    assert alive.abandoned_at is None  # another worker may still be on it
    assert run.abandoned_at is None and run.finished_at is not None


def test_a_run_saves_its_counts_after_every_batch(make_recordings) -> None:
    make_recordings(5)
    seen: list[tuple[int, int]] = []

    def progress(shredded: int, purged: int) -> None:
        current = PurgeRun.objects.get(finished_at__isnull=True)
        seen.append((current.shredded, current.purged))

    purge_expired(batch_size=2, progress=progress)
    assert Recording.objects.filter(state=Recording.State.PURGED).count() == 5
    assert seen[0] == (2, 2) and seen[-1] == (5, 5)


def test_the_operator_dashboard_says_abandoned_not_running() -> None:
    unfinished_run(progressed_minutes_ago=60)
    purge_expired()
    operator = get_user_model().objects.create_user("op", password="x" * 16)
    assign_role(user=operator, role="operator")
    browser = Client()
    browser.force_login(operator)
    page = browser.get("/operations/").content.decode()
    assert "abandoned" in page and ">running<" not in page
