"""The disk under the local store fills up mid-upload (a real 1 MiB tmpfs, real gunicorn): the
client gets 503 store_unavailable, nothing is kept (no row, no partial file eating the space), and
the next upload that fits is accepted at once. Needs root for the mount; skipped otherwise."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from recorder.models import Recording
from recorder.services import create_recorder_client
from tests.conftest import require
from tests.factories import controlled_session
from tests.liveserver import LiveServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small-disk"
    mount.mkdir()
    require(os.geteuid() == 0, "root, to mount a 1 MiB tmpfs,", "run the tests as root, as CI does")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_refuses_the_upload_keeps_nothing_and_the_next_one_fits(
    small_disk: Path, settings, data_dir, age_keys
) -> None:
    settings.OBJECT_STORE = "local"
    settings.LOCAL_STORE_DIR = small_disk
    client, token = create_recorder_client(name="disk")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "video/webm"}
    with LiveServer() as server:
        too_big = controlled_session(client)
        answer = requests.put(
            f"{server.url}/api/v1/sessions/{too_big}/recording", data=os.urandom(3 * 1024 * 1024),
            headers=headers, timeout=60,
        )  # fmt: skip
        refused_at = time.monotonic()
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"] == "store_unavailable"
        assert not Recording.objects.filter(session_id=too_big).exists()
        assert [p for p in small_disk.rglob("*") if p.is_file()] == [], "a partial file is left on the disk"

        fits = controlled_session(client)
        again = requests.put(
            f"{server.url}/api/v1/sessions/{fits}/recording", data=os.urandom(200 * 1024),
            headers=headers, timeout=60,
        )  # fmt: skip
        recovered = time.monotonic() - refused_at
        assert again.status_code == 201, again.text
        assert Recording.objects.get(session_id=fits).state == Recording.State.LOCKED
    print(f"\ndisk full: refused with 503, next upload accepted {recovered:.2f} s later")
