"""S3 Object Lock: payloads retained until expiry, legal holds mirrored, purge removes every version."""

from __future__ import annotations

import time

import pytest

from audit.services import Actor
from recorder.models import Recording
from retention.services import place_legal_hold, purge_expired, release_legal_hold

pytestmark = pytest.mark.django_db
OFFICER = Actor(kind="user", id="1", label="officer")
BUCKET = "vault-locked"


@pytest.fixture
def locked_bucket(moto, settings, data_dir, age_keys):
    client = moto.client("s3")
    client.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    settings.OBJECT_STORE, settings.S3_BUCKET, settings.S3_ENDPOINT_URL = "s3", BUCKET, moto.endpoint
    settings.S3_OBJECT_LOCK_MODE = "GOVERNANCE"
    return client


def test_each_payload_is_retained_until_its_expiry(locked_bucket, recording_maker) -> None:
    [recording] = recording_maker(1, expires_in=None)
    # HeadObject reports the lock (moto's server answers GetObjectRetention with an error).
    head = locked_bucket.head_object(Bucket=BUCKET, Key=recording.object_key)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] == recording.expires_at


def test_an_early_delete_of_a_retained_payload_is_refused_by_s3(locked_bucket, recording_maker) -> None:
    [recording] = recording_maker(1, expires_in=None)
    version = locked_bucket.list_object_versions(Bucket=BUCKET, Prefix=recording.object_key)["Versions"][0]
    with pytest.raises(locked_bucket.exceptions.ClientError, match="AccessDenied"):
        locked_bucket.delete_object(Bucket=BUCKET, Key=recording.object_key, VersionId=version["VersionId"])


def test_legal_holds_are_mirrored_onto_the_object(
    locked_bucket, recording_maker, django_capture_on_commit_callbacks
) -> None:
    [recording] = recording_maker(1, expires_in=None)

    def status() -> str:
        return str(
            locked_bucket.get_object_legal_hold(Bucket=BUCKET, Key=recording.object_key)["LegalHold"][
                "Status"
            ]
        )

    # The mirror runs when the hold's transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        first = place_legal_hold(session_id=recording.session_id, reason="case A", actor=OFFICER)
    with django_capture_on_commit_callbacks(execute=True):
        second = place_legal_hold(session_id=recording.session_id, reason="case B", actor=OFFICER)
    assert status() == "ON"
    with django_capture_on_commit_callbacks(execute=True):
        release_legal_hold(hold_id=first.id, actor=OFFICER)
    assert status() == "ON"  # case B still holds it
    with django_capture_on_commit_callbacks(execute=True):
        release_legal_hold(hold_id=second.id, actor=OFFICER)
    assert status() == "OFF"


def test_the_purge_removes_every_version_once_retention_has_passed(
    locked_bucket, recording_maker, settings
) -> None:
    settings.RECORDING_RETENTION = "PT1S"
    recording_maker(3, expires_in=None)
    time.sleep(1.5)  # S3 compares the retention date with its own clock: really let it pass
    run = purge_expired()
    assert (run.purged, run.failed) == (3, 0)
    versions = locked_bucket.list_object_versions(Bucket=BUCKET)
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []
    assert Recording.objects.filter(state=Recording.State.PURGED).count() == 3
