"""On PostgreSQL, a purge run leaves no dead row version of what it erased: the shredded header
(the wrapped file key) and the raw references were in the old versions of the rows it updated,
which autovacuum would leave for about 18 days of purges (docs/DEPLOYMENT.md, "Dead row
versions"). The run VACUUMs the two tables itself."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from audit.services import Actor
from recorder import shredding
from recorder.shredding import OVERWRITTEN_TABLES
from recorder.stores import get_store
from retention.selectors import held_session_ids
from retention.services import purge_expired
from tests.retention.conftest import MakeRecordings

# The local store only: the VACUUM does not depend on the store.
pytestmark = [pytest.mark.postgres, pytest.mark.local_store, pytest.mark.django_db(transaction=True)]


def dead_row_versions(table: str) -> int:
    """Counted exactly from the pages (pgstattuple, a contrib extension): the statistics views
    lag behind by seconds."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        cursor.execute("SELECT dead_tuple_count FROM pgstattuple(%s)", [table])
        return int(cursor.fetchone()[0])


def test_a_purge_run_leaves_no_dead_row_version_of_what_it_erased(
    make_recordings: MakeRecordings, store: object
) -> None:
    make_recordings(6)
    # What the ingest itself left (its own updates of the rows) is not the purge's doing.
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(OVERWRITTEN_TABLES)}")
    assert [dead_row_versions(table) for table in OVERWRITTEN_TABLES] == [0, 0]
    run = purge_expired()
    assert run.purged == 6
    assert [dead_row_versions(table) for table in OVERWRITTEN_TABLES] == [0, 0]


def test_the_purge_steps_alone_leave_the_erased_values_in_dead_row_versions(
    make_recordings: MakeRecordings, store: object
) -> None:
    """The steps a run takes before its VACUUM: what the test above rules out is really there."""
    make_recordings(6)
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(OVERWRITTEN_TABLES)}")
    actor = Actor.job("purge")
    shredding.shred_expired(now=timezone.now(), held_session_ids=held_session_ids(), limit=100, actor=actor)
    outcome = shredding.delete_shredded_payloads(store=get_store(), limit=100, actor=actor)
    assert outcome.purged == 6
    recordings, sessions = (dead_row_versions(table) for table in OVERWRITTEN_TABLES)
    assert recordings >= 6 and sessions >= 6
