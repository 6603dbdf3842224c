"""The S3 endpoint failing mid-purge: those recordings wait for the next run, counted as failed,
and nothing is marked purged while its bytes still exist."""

from __future__ import annotations

import pytest

from recorder.models import Recording
from recorder.stores import get_store
from retention.services import purge_expired
from tests.conftest import MotoServer
from tests.faultproxy import FaultProxy

pytestmark = pytest.mark.django_db


@pytest.fixture
def proxied_s3(moto, settings, data_dir, age_keys):
    """The S3 store reached through a proxy that can be made to fail."""
    moto.client("s3").create_bucket(Bucket="vault-faults")
    with FaultProxy(moto.endpoint) as proxy:
        settings.OBJECT_STORE = "s3"
        settings.S3_BUCKET = "vault-faults"
        settings.S3_ENDPOINT_URL = proxy.endpoint
        yield proxy


def bucket_keys(moto: MotoServer) -> list[str]:
    listing = moto.client("s3").list_objects_v2(Bucket="vault-faults")
    return sorted(item["Key"] for item in listing.get("Contents", []))


def test_s3_answering_500s_on_delete_leaves_recordings_for_the_next_run(
    proxied_s3, moto, recording_maker
) -> None:
    made = recording_maker(5)
    proxied_s3.fail_when(lambda method, path: method == "POST" and "delete" in path)
    run = purge_expired(batch_size=2)
    assert proxied_s3.failed > 0
    assert (run.shredded, run.purged, run.failed) == (5, 0, 2)
    assert run.errors and "S3 delete failed" in run.errors[0]
    assert not Recording.objects.filter(state=Recording.State.PURGED).exists()
    assert bucket_keys(moto) == sorted(r.object_key for r in made)  # the bytes are still there
    proxied_s3.fail_when(None)
    run = purge_expired()
    assert (run.purged, run.failed) == (5, 0)
    assert bucket_keys(moto) == []


def test_s3_failing_mid_batch_purges_only_what_was_confirmed_deleted(
    proxied_s3, moto, recording_maker
) -> None:
    recording_maker(6)
    calls = {"delete": 0}

    def second_delete_fails(method: str, path: str) -> bool:
        if method == "POST" and "delete" in path:
            calls["delete"] += 1
            return calls["delete"] > 1
        return False

    proxied_s3.fail_when(second_delete_fails)
    run = purge_expired(batch_size=3)
    assert (run.purged, run.failed) == (3, 3)
    purged_keys = set(Recording.objects.filter(state="purged").values_list("object_key", flat=True))
    assert purged_keys.isdisjoint(bucket_keys(moto))
    proxied_s3.fail_when(None)
    assert purge_expired().purged == 3


def test_a_stopped_s3_endpoint_is_survived(settings, data_dir, age_keys, recording_maker) -> None:
    server = MotoServer()
    server.start()
    try:
        server.client("s3").create_bucket(Bucket="vault-down")
        settings.OBJECT_STORE, settings.S3_BUCKET, settings.S3_ENDPOINT_URL = (
            "s3",
            "vault-down",
            server.endpoint,
        )
        recording_maker(4)
        port = server.port
    finally:
        server.stop()
    run = purge_expired()
    assert (run.shredded, run.purged, run.failed) == (4, 0, 4)
    assert Recording.objects.filter(state=Recording.State.SHREDDED).count() == 4
    restarted = MotoServer()
    restarted.port, restarted.endpoint = port, f"http://127.0.0.1:{port}"
    restarted.start()
    try:
        restarted.client("s3").create_bucket(Bucket="vault-down")
        assert purge_expired().purged == 4
        assert get_store().size(Recording.objects.first().object_key) is None
    finally:
        restarted.stop()
