"""Shared fixtures: an S3/KMS-compatible server over HTTP (moto's server mode, a real separate
process), the embedded data directory per test, the object store on each backend, recorder clients,
recordings made through the service, and the staff of the complaint workflow.

bench/purge.py imports MotoServer from here before Django is set up: the project's modules (and
tests.factories and tests.staff, which import them) are imported inside the fixtures that use them.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
import requests

if TYPE_CHECKING:
    from recorder.models import Recording
    from tests.factories import Recorded
    from tests.staff import Staff

MOTO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require(found: object, what: str, install: str) -> None:
    """Skip when a tool the test drives is missing here; fail in CI, where .ci/run installs it,
    so a missing tool there can never pass as a skip."""
    if found:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} is missing in CI: .ci/run must install it ({install})", pytrace=False)
    pytest.skip(f"{what} is not installed here: {install}")


def require_program(name: str, install: str) -> str:
    """The path of program `name`, through `require`."""
    path = shutil.which(name)
    require(path, f"the {name} program", install)
    assert path is not None
    return path


def run_under_settings(
    code: str, data_dir: Path, *, without: Iterable[str] = (), check: bool = True, **env: str
) -> subprocess.CompletedProcess[str]:
    """`code` run by a fresh interpreter with config.settings loaded as a process would load them
    under `env`: the test's environment without the variables named in `without`, VAULT_DATA_DIR
    set to `data_dir`. Settings read once at start can only be tested so."""
    clean = {key: value for key, value in os.environ.items() if key not in set(without)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings", "VAULT_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        check=check,
    )


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    """Until `url` answers at all: refused connections and slow first answers both mean "not yet"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=10)
            return
        except (requests.ConnectionError, requests.Timeout):
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout} s")


class MotoServer:
    """moto_server in its own process, so tests talk to S3 and KMS over real HTTP."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, **MOTO_CREDENTIALS}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(self.endpoint + "/moto-api/")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def reset(self) -> None:
        requests.post(self.endpoint + "/moto-api/reset", timeout=10)

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=MOTO_CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=MOTO_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=MOTO_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    for key, value in MOTO_CREDENTIALS.items():
        os.environ.setdefault(key, value)
    server = MotoServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    """The moto server, emptied before each test."""
    moto_server.reset()
    yield moto_server


@pytest.fixture
def kms_key_id(moto: MotoServer) -> str:
    key = moto.client("kms").create_key(Description="vault test key")
    return str(key["KeyMetadata"]["KeyId"])


@pytest.fixture
def data_dir(tmp_path: Path, settings) -> Path:
    """A fresh VAULT_DATA_DIR-like folder for the test, with the local store inside it."""
    settings.LOCAL_STORE_DIR = tmp_path / "objects"
    settings.EMBEDDED_KEY_DIR = tmp_path / "keys"
    settings.LEDGER_SIGNING_KEY_FILE = str(tmp_path / "keys" / "ledger-signing-key.pem")
    return tmp_path


# --- database, keys, stores, clients -------------------------------------------------------------


def database_vendor() -> str:
    from django.db import connection

    return str(connection.vendor)


def pytest_configure(config: pytest.Config) -> None:
    """The suite's own marker; and under pytest-xdist (`make test` runs the suite on several
    processes) each worker gets a VAULT_DATA_DIR and a Celery broker of its own: a worker or beat
    that a test starts must take only the tasks of its own process's tests, which run on that
    process's own database."""
    config.addinivalue_line(
        "markers", "local_store: runs on the local folder store only, not once more on S3 (see store_kind)"
    )
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...; unset in a serial run
    if worker:
        isolate_xdist_worker(int(worker.removeprefix("gw")))


def isolate_xdist_worker(index: int) -> None:
    """Settings are loaded before any conftest (pytest-django), so the broker settings they derived
    are redone here, and the environment that the processes tests start inherit is changed with
    them. The test database needs nothing: pytest-django names it per worker."""
    from django.conf import settings

    from config.celery import app

    data_dir = settings.VAULT_DATA_DIR / f"xdist-gw{index}"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["VAULT_DATA_DIR"] = str(data_dir)
    url = str(settings.CELERY_BROKER_URL)
    if url.startswith(("redis://", "rediss://")):  # the next of Redis's 16 databases for each worker
        parts = urlsplit(url)
        database = (int(parts.path.strip("/") or 0) + index) % 16
        url = urlunsplit(parts._replace(path=f"/{database}"))
        os.environ["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL = app.conf.broker_url = url
    elif url.startswith("filesystem://"):  # the embedded broker's folders, moved into data_dir
        options = {
            key: str(data_dir / Path(value).relative_to(settings.VAULT_DATA_DIR))
            if isinstance(value, str)
            else value
            for key, value in settings.CELERY_BROKER_TRANSPORT_OPTIONS.items()
        }
        for value in options.values():
            if isinstance(value, str):
                Path(value).mkdir(parents=True, exist_ok=True)
        settings.CELERY_BROKER_TRANSPORT_OPTIONS = app.conf.broker_transport_options = options
    settings.VAULT_DATA_DIR = data_dir


def pytest_sessionstart(session: pytest.Session) -> None:
    """An interrupted run can leave the SQLite test database's -wal/-shm files without the
    database; SQLite then fails with "disk I/O error". Remove such orphans."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        name = Path(database.get("TEST", {}).get("NAME") or "")
        if name.name and (worker := os.environ.get("PYTEST_XDIST_WORKER")):
            name = name.with_name(f"{name.name}_{worker}")  # as pytest-django names it per worker
        if name.name and not name.exists():
            for suffix in ("-wal", "-shm", "-journal"):
                name.with_name(name.name + suffix).unlink(missing_ok=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that start real processes (`slow`) run first, in their usual order: on several
    processes, the longest (Redis down for two minutes) then starts beside the rest instead of
    after most of them. `postgres` tests need PostgreSQL: on the embedded default (SQLite) they
    are skipped, saying why."""
    from django.conf import settings

    items.sort(key=lambda item: "slow" not in item.keywords)
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    marker = pytest.mark.skip(reason="needs PostgreSQL: run with DATABASE_URL=postgres://... (CI does)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(marker)


@pytest.fixture
def age_keys(data_dir: Path, settings):
    """The embedded key pair in the test's data dir, configured as ingest recipient and identity."""
    from recorder.recipients import ensure_embedded_key_pair

    identity, recipients, _ = ensure_embedded_key_pair(data_dir / "keys")
    settings.AGE_RECIPIENTS = []
    settings.AGE_RECIPIENTS_FILE = str(recipients)
    settings.AGE_IDENTITY_FILE = str(identity)
    settings.KMS_KEY_ID = ""
    return identity, recipients


STORE_KINDS = ("local", "s3")


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """The object store a test that uses `store` runs on: each such test runs once on each of
    STORE_KINDS (`pytest_generate_tests`), unless it or its module is marked `local_store`, or it
    parametrizes `store_kind` itself."""
    return str(getattr(request, "param", "local"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`store_kind` parametrized indirectly, so a test's ids stay `[local]` and `[s3]` as with
    fixture params, while one marker (not a copy of the fixture) keeps a module on the local store."""
    if "store_kind" not in metafunc.fixturenames or metafunc.definition.get_closest_marker("local_store"):
        return
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        if "store_kind" in (names.replace(" ", "").split(",") if isinstance(names, str) else names):
            return
    metafunc.parametrize("store_kind", STORE_KINDS, indirect=True)


@pytest.fixture
def store(store_kind: str, data_dir: Path, settings, request: pytest.FixtureRequest):
    """The configured object store, once as a local folder and once as S3 over HTTP (moto)."""
    from recorder.stores import get_store

    settings.OBJECT_STORE = store_kind
    if store_kind == "s3":
        server: MotoServer = request.getfixturevalue("moto")
        server.client("s3").create_bucket(Bucket="vault-test")
        settings.S3_BUCKET = "vault-test"
        settings.S3_ENDPOINT_URL = server.endpoint
        settings.S3_PART_SIZE = 5 * 1024 * 1024
    return get_store()


@pytest.fixture
def recorder_client(db):
    from recorder.services import create_recorder_client

    return create_recorder_client(name="helpdesk-tool")


@pytest.fixture
def api(recorder_client):
    """An API client authenticated as the recorder client."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {recorder_client[1]}")
    return client


@pytest.fixture
def session_and_token(recorder_client) -> tuple[str, str]:
    """A session that may have a recording, and the recorder token that may upload it."""
    from tests.factories import controlled_session

    return controlled_session(recorder_client[0]), recorder_client[1]


# --- recordings made through the recorder API, and the staff who may ask to see them -------------


MakeSession = Callable[..., "Recorded"]


@pytest.fixture
def make_session(api, store, age_keys) -> MakeSession:
    """`make_session(customer_ref, size=...)`: a session registered and recorded through the API,
    its body `counter_bytes(size)` (or `body=`)."""
    from recorder.sealing import CHUNK_SIZE
    from tests.factories import counter_bytes, record_through_api

    def make(
        customer_ref: str = "CUST-4711", *, size: int = 3 * CHUNK_SIZE + 1234, body: bytes | None = None
    ) -> Recorded:
        return record_through_api(
            api, customer_ref=customer_ref, body=counter_bytes(size) if body is None else body
        )

    return make


@pytest.fixture
def recording(make_session: MakeSession) -> tuple[Recording, bytes]:
    """A recording of five and a bit chunks of `content` (with its findable marker), and that body."""
    from recorder.models import Recording
    from recorder.sealing import CHUNK_SIZE
    from tests.factories import content

    made = make_session(body=content(5 * CHUNK_SIZE + 123))
    return Recording.objects.get(id=made.recording_id), made.body


@pytest.fixture
def staff(db, settings) -> Staff:
    """The people of the complaint workflow (tests.staff.Staff)."""
    from tests.staff import make_workflow_staff

    # Seven users a test: a fast hasher keeps the suite quick (sign-in itself is tested elsewhere).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_workflow_staff()


MakeRecordings = Callable[..., "list[Recording]"]


@pytest.fixture
def recording_maker(recorder_client, age_keys) -> MakeRecordings:
    """`recording_maker(n, expires_in=...)`: n sealed recordings in the configured store, ingested
    by the service, expiring at now + expires_in (already expired by default)."""
    from django.utils import timezone

    from recorder.ingest import ingest_recording
    from recorder.models import Recording
    from tests.factories import controlled_session

    client, _ = recorder_client

    def make(
        count: int = 1, *, size: int = 2000, expires_in: timedelta | None = timedelta(seconds=-1)
    ) -> list[Recording]:
        made = []
        for n in range(count):
            session_id = controlled_session(
                client, external_id=f"s-{uuid.uuid4()}", customer_ref=f"CUST-{n:05d}", agent_ref="agent-7"
            )
            result = ingest_recording(
                client=client, session_id=session_id, body=io.BytesIO(os.urandom(size)), content_length=size,
                media_type="video/webm", content_digest=None,
            )  # fmt: skip
            made.append(result.recording)
        if expires_in is not None:  # None keeps the expiry ingest gave
            Recording.objects.filter(id__in=[r.id for r in made]).update(
                expires_at=timezone.now() + expires_in
            )
        for recording in made:
            recording.refresh_from_db()
        return made

    return make


@pytest.fixture
def folder_store(settings, data_dir: Path) -> Path:
    """The local folder store, for tests that read its files or start processes that use it."""
    settings.OBJECT_STORE = "local"
    return Path(settings.LOCAL_STORE_DIR)
