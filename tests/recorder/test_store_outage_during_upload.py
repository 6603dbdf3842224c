"""The S3 endpoint failing while an upload is written (real gunicorn; moto over HTTP behind a proxy
that answers 500, then a stopped endpoint): the client gets 503 store_unavailable, nothing is kept
(no row, no object, no unfinished multipart upload), and once S3 is back the same upload is
accepted. With the endpoint stopped outright the row cannot be cleaned at once: it stays
`receiving` (never acknowledged) until the reconciler removes it. The purge's side of S3
outages is tests/retention/test_purge_outages.py's."""

from __future__ import annotations

import os
import time

import pytest
import requests

from recorder.ingest import reconcile_abandoned_uploads
from recorder.models import Recording
from recorder.services import create_recorder_client
from tests.conftest import MotoServer, free_port
from tests.factories import controlled_session
from tests.faultproxy import FaultProxy
from tests.liveserver import LiveServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BUCKET = "vault-outage"


def bucket_is_empty(moto: MotoServer) -> bool:
    s3 = moto.client("s3")
    objects = s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
    unfinished = s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])
    return objects == 0 and not unfinished


def test_s3_failing_during_an_upload_keeps_nothing_and_the_retry_after_is_accepted(
    moto: MotoServer, settings, data_dir, age_keys
) -> None:
    moto.client("s3").create_bucket(Bucket=BUCKET)
    client, token = create_recorder_client(name="s3-outage")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "video/webm"}
    body = os.urandom(6 * 1024 * 1024)  # more than one 5 MiB part: a multipart upload
    with FaultProxy(moto.endpoint) as proxy:
        settings.OBJECT_STORE, settings.S3_BUCKET = "s3", BUCKET
        settings.S3_ENDPOINT_URL, settings.S3_PART_SIZE = proxy.endpoint, 5 * 1024 * 1024
        with LiveServer() as server:
            # 500 to every write (part uploads, single puts, completion); deletes still pass, so
            # the store can abort what it started.
            proxy.fail_when(lambda method, path: method in {"PUT", "POST"} and "uploads" not in path)
            failing = controlled_session(client)
            answer = requests.put(
                f"{server.url}/api/v1/sessions/{failing}/recording", data=body, headers=headers, timeout=120
            )
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"] == "store_unavailable"
            assert proxy.failed > 0
            assert not Recording.objects.filter(session_id=failing).exists()
            assert bucket_is_empty(moto)

            proxy.fail_when(None)  # S3 is back
            back = time.monotonic()
            retried = requests.put(
                f"{server.url}/api/v1/sessions/{failing}/recording", data=body, headers=headers, timeout=120
            )
            assert retried.status_code == 201, retried.text
            print(f"\ns3 back: the same upload accepted {time.monotonic() - back:.2f} s later")
        assert Recording.objects.get(session_id=failing).state == Recording.State.LOCKED

    # A stopped endpoint (nothing listening): the same answer, nothing kept.
    settings.S3_ENDPOINT_URL = f"http://127.0.0.1:{free_port()}"
    with LiveServer() as server:
        stopped = controlled_session(client)
        answer = requests.put(
            f"{server.url}/api/v1/sessions/{stopped}/recording",
            data=b"x" * 1000,
            headers=headers,
            timeout=120,
        )
        assert answer.status_code == 503, answer.text
    # The store could not be reached to clean up either: the row stays `receiving`, never locked,
    # and the reconciler removes it once S3 answers again.
    assert Recording.objects.get(session_id=stopped).state == Recording.State.RECEIVING
    settings.S3_ENDPOINT_URL = moto.endpoint
    assert reconcile_abandoned_uploads(stale_after_seconds=0) == 1
    assert not Recording.objects.filter(session_id=stopped).exists()
    assert Recording.objects.filter(state=Recording.State.LOCKED).count() == 1  # the acknowledged one
