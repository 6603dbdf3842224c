"""The embedded default keeps its files private: `make run` on a fresh VAULT_DATA_DIR, started
with the common umask 022 (as from a login shell), creates every file 0600 and every folder 0700,
and a purge leaves the raw customer and agent references in no byte of any file of the folder.

Issue 19: `vault.sqlite3` and its -wal/-shm were 0644, readable by any local user; after a purge
the raw reference was still in the database's free pages and in old page copies in the -wal.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import stat
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.conftest import free_port, run_under_settings, wait_for_http
from tests.liveserver import ROOT

pytestmark = pytest.mark.slow

# Short enough that the purge comes within the test, long enough to see the object before it.
RETENTION_SECONDS = 12
SESSIONS = 4


@dataclass
class Observed:
    """What the test saw of the data folder while the service ran."""

    data_dir: Path
    customer_ref: str
    agent_ref: str
    modes: dict[Path, int] = field(default_factory=dict)  # every path seen, at any moment
    broker_messages_seen: int = 0
    holding_refs: list[Path] = field(default_factory=list)  # files with a raw ref, after the purge
    after_stop: list[Path] = field(default_factory=list)  # the same, once the processes stopped


def _note_modes(observed: Observed) -> None:
    """Record the mode of every folder and file below the data folder (and of the folder itself).
    A file removed between listing and stat (a consumed broker message) is simply not seen."""
    for folder, folders, files in os.walk(observed.data_dir):
        for path in [Path(folder)] + [Path(folder) / name for name in folders + files]:
            try:
                info = path.lstat()
            except FileNotFoundError:
                continue
            observed.modes[path] = info.st_mode
            if path.parent.name == "queue" and path.name.endswith(".msg"):
                observed.broker_messages_seen += 1


def _files_holding(data_dir: Path, needles: list[bytes]) -> list[Path]:
    holding = []
    for folder, _, files in os.walk(data_dir):
        for name in files:
            path = Path(folder) / name
            try:
                content = path.read_bytes()
            except FileNotFoundError:
                continue
            if any(needle in content for needle in needles):
                holding.append(path)
    return holding


def _service_environment(data_dir: Path, port: int) -> dict[str, str]:
    """The embedded default: none of the test session's database, broker, store or key settings."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    return {
        **{name: os.environ[name] for name in keep if name in os.environ},
        "VAULT_DATA_DIR": str(data_dir),
        "PORT": str(port),
        "RECORDING_RETENTION": f"PT{RETENTION_SECONDS}S",
        "PURGE_EVERY_SECONDS": "1",
        "WEB_WORKERS": "1",
        "WORKER_CONCURRENCY": "1",
        "LOG_LEVEL": "WARNING",
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _ingest(base_url: str, token: str, *, customer_ref: str, agent_ref: str) -> str:
    """A customer-initiated session with control rights and its recording, through the recorder API."""
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    registered = api.post(
        f"{base_url}/api/v1/sessions",
        json={
            "external_id": f"ticket-{uuid.uuid4()}", "customer_ref": customer_ref, "agent_ref": agent_ref,
            "initiated_by": "customer", "started_at": _iso(started),
            "consent": {"granted_at": _iso(started - timedelta(minutes=1)), "view": True, "control": True},
        },
        timeout=30,
    )  # fmt: skip
    assert registered.status_code == 201, registered.text
    session_id: str = registered.json()["id"]
    body = os.urandom(300_000)
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    uploaded = api.put(
        f"{base_url}/api/v1/sessions/{session_id}/recording",
        data=body,
        headers={"Content-Type": "video/webm", "Content-Digest": f"sha-256=:{digest}:"},
        timeout=60,
    )
    assert uploaded.status_code == 201, uploaded.text
    return session_id


def _wait_for_purge(base_url: str, token: str, session_id: str, observed: Observed) -> None:
    """Until the recorder API shows the recording purged and the references erased, noting the
    folder's modes meanwhile (broker messages come and go within a second)."""
    deadline = time.monotonic() + RETENTION_SECONDS + 90
    while True:
        _note_modes(observed)
        answer = requests.get(
            f"{base_url}/api/v1/sessions/{session_id}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        session = answer.json()
        if session["recording"]["state"] == "purged" and session["customer_ref"] is None:
            return
        assert time.monotonic() < deadline, f"the purge did not come within the deadline: {session}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Observed]:
    """`make run` on a fresh data folder; a few recordings ingested, expired and purged by beat
    and the worker; the folder watched throughout and searched after the purge and after the stop."""
    data_dir = tmp_path_factory.mktemp("embedded") / "var"  # does not exist yet: make run creates it
    marker = uuid.uuid4().hex[:12].upper()
    seen = Observed(data_dir, customer_ref=f"CUST-{marker}", agent_ref=f"AGENT-{marker}")
    # Several sessions, so their rows share a database page: a row rewritten shorter leaves its
    # old bytes in the page's free space unless SQLite overwrites them (secure_delete).
    refs = [(f"{seen.customer_ref}-{n}", f"{seen.agent_ref}-{n}") for n in range(SESSIONS)]
    needles = [seen.customer_ref.encode(), seen.agent_ref.encode()]
    port = free_port()
    env = _service_environment(data_dir, port)
    log = data_dir.parent / "make-run.log"
    with open(log, "wb") as sink:
        # umask 022, as a login shell has it: what the service creates must not depend on it.
        service = subprocess.Popen(
            ["make", "--no-print-directory", "run"], cwd=ROOT, env=env, umask=0o022,
            stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(base_url + "/healthz", timeout=240)
        created = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "create_recorder_client", "privacy-check"],
            cwd=ROOT, env=env, umask=0o022, capture_output=True, text=True, check=True,
        )  # fmt: skip
        token = created.stdout.strip().splitlines()[-1]
        session_ids = [_ingest(base_url, token, customer_ref=c, agent_ref=a) for c, a in refs]
        _note_modes(seen)  # the sealed objects are there until the purge
        for session_id in session_ids:
            _wait_for_purge(base_url, token, session_id, seen)
        # The worker removes the old copies right after the run that purged (a -wal checkpoint);
        # the state above is committed a moment before that.
        deadline = time.monotonic() + 30
        while (holding := _files_holding(data_dir, needles)) and time.monotonic() < deadline:
            time.sleep(0.2)
        seen.holding_refs = holding
        _note_modes(seen)
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=60)
    seen.after_stop = _files_holding(data_dir, needles)
    yield seen


def test_every_file_the_running_service_created_is_0600_and_every_folder_0700(observed: Observed) -> None:
    data_dir = observed.data_dir
    seen = {path.relative_to(data_dir.parent).as_posix() for path in observed.modes}
    # What the issue names is among what was checked: the database and its -wal/-shm, the
    # broker's folders and at least one of its messages, the store's object, secrets and keys.
    expected = {
        "var", "var/vault.sqlite3", "var/vault.sqlite3-wal", "var/vault.sqlite3-shm",
        "var/celery/queue", "var/celery/processed", "var/objects", "var/secrets/django-secret-key",
        "var/secrets/vault-hash-key", "var/keys/age-identity.txt", "var/keys/age-recipients.txt",
    }  # fmt: skip
    assert expected <= seen, sorted(expected - seen)
    assert any(name.startswith("var/objects/recordings/") and name.endswith(".age") for name in seen)
    assert observed.broker_messages_seen > 0, "no broker message was seen in the queue folder"
    wrong = {
        path.relative_to(data_dir.parent).as_posix(): oct(stat.S_IMODE(mode))
        for path, mode in observed.modes.items()
        if stat.S_IMODE(mode) != (0o700 if stat.S_ISDIR(mode) else 0o600)
    }
    files = sum(1 for mode in observed.modes.values() if not stat.S_ISDIR(mode))
    print(f"{files} files and {len(observed.modes) - files} folders checked, {len(wrong)} not private")
    assert wrong == {}


def test_a_purged_reference_is_in_no_byte_of_any_file_of_the_data_folder(observed: Observed) -> None:
    assert observed.holding_refs == [], "while running"
    assert observed.after_stop == [], "after the processes stopped"


def test_every_sqlite_connection_overwrites_what_it_deletes(tmp_path: Path) -> None:
    """secure_delete: a row rewritten shorter or deleted leaves zeros, not its old bytes, in the
    page (SQLite keeps them in the free space otherwise; the purge rewrites rows shorter)."""
    answer = run_under_settings(
        "import django; django.setup(); from django.db import connection; c = connection.cursor(); "
        "c.execute('PRAGMA secure_delete'); print(c.fetchone()[0]); "
        "c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])",
        tmp_path / "var",
        without=("DATABASE_URL",),
    )
    assert answer.stdout.split() == ["1", "wal"]
