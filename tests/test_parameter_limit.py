"""No statement outgrows PostgreSQL's 65,535 bound parameters.

With server-side binding (`DB_PREPARED_STATEMENTS`, on by default) PostgreSQL refuses a
statement that binds more than 65,535 parameters. The purge benchmark's seeding, a purge batch
and a key rotation batch each handle 70,000 recordings here, with the local store, and pass.
"""

from __future__ import annotations

import io
import os
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, transaction

from audit.models import LedgerEntry
from bench.purge import seed_rows
from recorder.keys import X25519Identity, read_recipients_file, write_identity_file
from recorder.models import Recording, Session
from recorder.recipients import describe
from recorder.sealing import build_header, unwrap_file_key
from retention.services import purge_expired

# The timeout only stops a hang: 70,000 rows take minutes on a loaded machine.
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]

PAST_THE_LIMIT = 70_000


def test_the_database_refuses_a_statement_binding_more_than_65535_parameters(db) -> None:
    """What the tests below would meet if a path still bound one parameter per item."""
    assert connection.settings_dict["OPTIONS"].get("server_side_binding") is True
    ids = [uuid.uuid4() for _ in range(PAST_THE_LIMIT)]
    with pytest.raises(OperationalError, match="65535"), transaction.atomic():
        Recording.objects.filter(id__in=ids).count()


def test_the_purge_benchmark_seeds_70000_recordings(db) -> None:
    keys = seed_rows(PAST_THE_LIMIT, "limit")

    assert len(set(keys)) == PAST_THE_LIMIT
    assert Session.objects.count() == PAST_THE_LIMIT
    assert Recording.objects.filter(state=Recording.State.LOCKED).count() == PAST_THE_LIMIT


@pytest.mark.django_db(transaction=True)
def test_one_purge_batch_of_70000_recordings_shreds_deletes_and_ledgers_each(
    folder_store: Path,
) -> None:
    keys = seed_rows(PAST_THE_LIMIT, "purge")
    for key in keys:
        path = folder_store / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"sealed payload")

    run = purge_expired(batch_size=PAST_THE_LIMIT)  # one batch: every id list is 70,000 long

    assert (run.shredded, run.purged, run.failed) == (PAST_THE_LIMIT, PAST_THE_LIMIT, 0)
    assert (
        Recording.objects.filter(state=Recording.State.PURGED, header__isnull=True).count() == PAST_THE_LIMIT
    )
    assert Session.objects.filter(customer_ref__isnull=False).count() == 0
    assert not any(path.is_file() for path in folder_store.rglob("*.age"))
    for action in ("recording.shredded", "recording.purged"):
        assert LedgerEntry.objects.filter(action=action).values("recording_id").distinct().count() == (
            PAST_THE_LIMIT
        )


def test_one_rotation_batch_of_70000_recordings_rewraps_each(db, age_keys, data_dir: Path) -> None:
    old_identity_path, old_recipients_path = age_keys
    [old_recipient] = read_recipients_file(old_recipients_path)
    file_key = os.urandom(16)
    header = build_header([old_recipient.wrap(file_key, recording_id="any")], file_key)
    seed_rows(PAST_THE_LIMIT, "rotation")
    Recording.objects.update(header=header, recipients=[describe(old_recipient)])
    new_identity = X25519Identity.generate()
    write_identity_file(data_dir / "new-keys" / "age-identity.txt", new_identity)
    new_recipient = new_identity.recipient()

    out = io.StringIO()
    call_command(
        "rotate_recipients", "--recipient", str(new_recipient), "--identity-file", str(old_identity_path),
        "--batch-size", str(PAST_THE_LIMIT), stdout=out, stderr=io.StringIO(),
    )  # fmt: skip

    assert f"rewrapped {PAST_THE_LIMIT}, failed 0" in out.getvalue()
    rewrapped = Recording.objects.filter(recipients=[describe(new_recipient)])
    assert rewrapped.count() == PAST_THE_LIMIT
    assert LedgerEntry.objects.filter(action="recording.rewrapped").count() == PAST_THE_LIMIT
    sample = rewrapped.order_by("?").first()
    assert sample is not None
    assert unwrap_file_key(bytes(sample.header), [new_identity], recording_id=str(sample.id)) == file_key
