"""Playback benchmark: time to first byte of a Range request into the middle of a recording.

The real service (gunicorn, embedded default, local-folder store) streams 64 KiB from the middle
of sealed recordings of several sizes to a signed-in grantee, against reading the same range of
the plaintext file from the same disk in the same run. Both sides start cold for each sample:
the pages of the plaintext file and of the sealed payload are dropped from the page cache
(posix_fadvise DONTNEED) before each request. Each sample is timed twice: on a new connection
(`Connection: close`) and on one connection kept alive for every request, as a browser's
media element plays. Medians over several runs.

A second reference, for scale: the same range of the plaintext served over HTTP by the same
server with nothing in between (bench/plain_range_server.py), also cold; and a floor: that plus
one synced SQLite commit on the same disk, the least any server in this stack waits for when it
writes the ledger entry before the first byte, before it signs anyone in or decrypts. Run:
`.venv/bin/python bench/playback.py --sizes 100M,1G,4G`. With `--postgres URL` (a server,
e.g. postgres://postgres@127.0.0.1:5432/postgres) the service runs on a scratch database made
there and dropped afterwards, as console nodes run, instead of the embedded SQLite. `--smoke`
plays one 1 MiB recording a few times, in seconds (`make bench-smoke`, CI): it checks the
script, not a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest import PYTHON, Vault, human, make_input, new_session, parse_size, upload, wait_for  # noqa: E402 - bench/ingest.py beside this script

RANGE = 64 * 1024
PASSWORD = "bench password that is long enough"

SETUP = """
import io, json, sys, time
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from staff.sessions import SessionStore
from django.conf import settings
from django.core.management import call_command
from django.contrib.auth import get_user_model
from complaints import services
from staff.step_up import SESSION_KEY as AUTHENTICATED_AT
from recorder.models import Session

password = sys.stdin.readline().strip()
for name, role in (("bench-officer", "compliance_officer"), ("bench-dpo", "data_protection_officer")):
    call_command("add_staff", name, "--role", role, "--password-stdin", stdin=io.StringIO(password + "\\n"),
                 stdout=io.StringIO())
User = get_user_model()
officer, dpo = User.objects.get(username="bench-officer"), User.objects.get(username="bench-dpo")
sessions = json.loads(sys.stdin.readline())
out = {}
for session_id in sessions:
    ref = Session.objects.get(id=session_id).customer_ref
    case = services.open_case(officer=officer, customer_ref=ref, channel="phone", complaint="bench",
                              session_ids=[session_id])
    request = services.request_access(officer=officer, case_id=case.id, justification="bench")
    grant = services.approve_access_request(approver=dpo, request_id=request.id, reason="bench")
    out[session_id] = {"case": str(case.id), "recording": str(grant.recordings.get().id)}
store = SessionStore()
store[SESSION_KEY] = str(officer.pk)
store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]  # the one that checks passwords
store[HASH_SESSION_KEY] = officer.get_session_auth_hash()
store[AUTHENTICATED_AT] = int(time.time())  # fresh step-up: the samples take well under 15 minutes
store.create()
print(json.dumps({"cookie": store.session_key, "grants": out}))
"""


# The same Range request through Django's WSGI handler, called directly in one process: what the
# vault does for a request, without HTTP. Run by `manage.py shell` in the service's environment.
IN_PROCESS = """
import io, json, statistics, sys, time
from django.core.handlers.wsgi import WSGIHandler

job = json.loads(sys.stdin.readline())
app = WSGIHandler()

def first_chunk():
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": job["url"], "QUERY_STRING": "",
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr,
               "HTTP_COOKIE": "sessionid=" + job["cookie"], "HTTP_RANGE": job["range"]}
    statuses = []
    started = time.perf_counter()
    body = app(environ, lambda status, headers, exc_info=None: statuses.append(status))
    chunks = iter(body)
    next(chunks)
    elapsed = time.perf_counter() - started
    for _ in chunks:
        pass
    body.close()
    assert statuses[0].startswith("206"), statuses
    return elapsed

for _ in range(20):
    first_chunk()
print(json.dumps(statistics.median([first_chunk() for _ in range(job["count"])])))
"""


@contextmanager
def scratch_database(server_url: str | None, name: str | None = None) -> Iterator[str | None]:
    """A new, empty database `name` on the PostgreSQL server at `server_url` (its URL), dropped
    at the end; None without a server (the embedded SQLite)."""
    if not server_url:
        yield None
        return
    import psycopg

    name = name or f"vault_playback_bench_{os.getpid()}"
    server = urlsplit(server_url)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(server._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def plain_server(folder: Path, env: dict[str, str]) -> Iterator[int]:
    """bench/plain_range_server.py under gunicorn as the vault runs (one threaded worker),
    serving the plaintext files in `folder`; yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "plain_range_server:application", "--chdir", str(ROOT / "bench"),
         "--bind", f"127.0.0.1:{port}", "--worker-class", "gthread", "--workers", "1", "--threads", "4"],
        env={**env, "PLAIN_ROOT": str(folder)}, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close())
        yield port
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=30)


def worker_cpu(vault: Vault) -> float:
    """Seconds of CPU (user + system) the service's worker processes have used so far. Steadier
    than wall-clock times on a shared machine: it counts the work, not the waits for a core."""
    ticks = 0
    for pid in vault.worker_pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def drop_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def plaintext_read(path: Path, offset: int) -> float:
    """Seconds to the first byte of a cold pread of the range (and to its end: one read)."""
    drop_cache(path)
    started = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, RANGE, offset)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - started
    assert len(data) == RANGE
    return elapsed


class SyncedCommit:
    """One synced commit of a ledger-sized row in SQLite (WAL, synchronous=FULL: the embedded
    default's settings) on the same disk: the least the vault must wait for before a first byte,
    since the issue has the ledger entry written before it."""

    def __init__(self, folder: Path) -> None:
        import sqlite3

        self.db = sqlite3.connect(folder / "commit-probe.sqlite3", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("CREATE TABLE entry (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")

    def time(self) -> float:
        started = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("INSERT INTO entry (body) VALUES (?)", (os.urandom(400),))
        self.db.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self.db.close()


def ranged_get(port: int, cookie: str, url: str, offset: int) -> tuple[float, float, bytes]:
    """(time to the first byte of the answer, time to its last byte, body) of one Range request."""
    request = (
        f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={cookie}\r\n"
        f"Range: bytes={offset}-{offset + RANGE - 1}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request)
        first = sock.recv(65536)
        ttfb = time.perf_counter() - started
        answer = first
        while chunk := sock.recv(65536):
            answer += chunk
    total = time.perf_counter() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    assert status == b"206", answer[-300:]
    return ttfb, total, body


class KeptAlive:
    """One connection reused for every request, as a browser's media element does."""

    def __init__(self, port: int, cookie: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.cookie = cookie

    def ranged_get(self, url: str, offset: int) -> tuple[float, bytes]:
        request = (
            f"GET {url} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: sessionid={self.cookie}\r\n"
            f"Range: bytes={offset}-{offset + RANGE - 1}\r\n\r\n"
        ).encode()
        started = time.perf_counter()
        self.sock.sendall(request)
        answer = self.recv()
        ttfb = time.perf_counter() - started
        while b"\r\n\r\n" not in answer:
            answer += self.recv()
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.split(b" ", 2)[1] == b"206", head
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(body) < length:
            body += self.recv()
        return ttfb, body

    def recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:  # gunicorn closes a connection idle for longer than its keep-alive (2 s)
            raise ConnectionError("the server closed the kept-alive connection")
        return data

    def close(self) -> None:
        self.sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100M,1G,4G", help="recording sizes, e.g. 100M,1G,4G")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument(
        "--back-to-back", type=int, default=1000, metavar="N",
        help="then N requests in a row (new connections, warm caches) into the first recording",
    )  # fmt: skip
    parser.add_argument("--postgres", metavar="URL", help="run on a scratch database on this server")
    parser.add_argument("--database", help="the scratch database's name with --postgres (default: by pid)")
    parser.add_argument(
        "--smoke", action="store_true", help="one 1 MiB recording, 3 runs, 20 in a row: seconds (CI)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.runs, args.back_to_back = "1M", 3, 20
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    with (
        tempfile.TemporaryDirectory(prefix="vault-playback-bench-") as scratch,
        scratch_database(args.postgres, args.database) as database_url,
    ):
        work = Path(scratch)
        vault = Vault(work / "data", database_url=database_url)
        token = vault.prepare()
        rows = []
        back_to_back = (0, 0.0, 0.0, 0.0)
        commit = SyncedCommit(work)
        with vault.serving(), plain_server(work, vault.env) as plain_port:
            inputs, sessions = {}, []
            for n, size in enumerate(sizes):
                source = work / f"plain-{n}.webm"
                make_input(source, size)
                drop_cache(source)  # written back now, not by the first cold sample (seconds at 4 GiB)
                session_id = new_session(vault.port, token, n)
                status, _ = upload(vault.port, token, session_id, source)
                assert status == 201, status
                inputs[session_id] = (size, source)
                sessions.append(session_id)
            setup = subprocess.run(
                [PYTHON, "manage.py", "shell", "-c", SETUP], cwd=ROOT, env=vault.env,
                input=f"{PASSWORD}\n{json.dumps(sessions)}\n", capture_output=True, text=True, check=True,
            )  # fmt: skip
            state = json.loads(setup.stdout.strip().splitlines()[-1])
            for session_id in sessions:
                size, source = inputs[session_id]
                ids = state["grants"][session_id]
                url = f"/api/v1/cases/{ids['case']}/recordings/{ids['recording']}/stream"
                payload = next((work / "data" / "objects").rglob(f"{ids['recording']}.age"))
                offset = size // 2 + 12345  # the middle, not aligned to a chunk
                with open(source, "rb") as handle:
                    expected = os.pread(handle.fileno(), RANGE, offset)
                vault_ttfb, vault_total, plain, kept_ttfb, plain_http, commits = [], [], [], [], [], []
                kept = KeptAlive(vault.port, state["cookie"])
                kept.ranged_get(url, 0)  # the player's first request opened the connection
                for _ in range(args.runs):
                    plain.append(plaintext_read(source, offset))
                    drop_cache(payload)
                    first, total, body = ranged_get(vault.port, state["cookie"], url, offset)
                    assert body == expected
                    vault_ttfb.append(first)
                    vault_total.append(total)
                    drop_cache(payload)
                    first, body = kept.ranged_get(url, offset)
                    assert body == expected
                    kept_ttfb.append(first)
                    drop_cache(source)
                    first, _, body = ranged_get(plain_port, "", f"/{source.name}", offset)
                    assert body == expected
                    plain_http.append(first)
                    commits.append(commit.time())
                kept.close()
                if session_id == sessions[0] and args.back_to_back:
                    cpu_before = worker_cpu(vault)
                    warm = [
                        ranged_get(vault.port, state["cookie"], url, offset)[0]
                        for _ in range(args.back_to_back)
                    ]
                    cpu = (worker_cpu(vault) - cpu_before) / args.back_to_back
                    job = {"url": url, "cookie": state["cookie"], "count": args.back_to_back,
                           "range": f"bytes={offset}-{offset + RANGE - 1}"}  # fmt: skip
                    in_process = subprocess.run(
                        [PYTHON, "manage.py", "shell", "-c", IN_PROCESS], cwd=ROOT, env=vault.env,
                        input=json.dumps(job) + "\n", capture_output=True, text=True, check=True,
                    )  # fmt: skip
                    alone = float(in_process.stdout.strip().splitlines()[-1])
                    back_to_back = (size, statistics.median(warm), cpu, alone)
                rows.append((size, statistics.median(plain), statistics.median(plain_http),
                             statistics.median(vault_ttfb), statistics.median(vault_total),
                             statistics.median(kept_ttfb), statistics.median(commits)))  # fmt: skip
                source.unlink()
        commit.close()
        print(f"\nRange of {RANGE // 1024} KiB from the middle; medians of {args.runs} cold runs\n")
        print("| recording | plaintext pread | vault TTFB, new connection | vault whole range | TTFB / pread "
              "| vault TTFB, kept-alive connection | TTFB / pread | plaintext over HTTP, new connection "
              "| vault TTFB / plaintext over HTTP |")  # fmt: skip
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for size, plain_s, http_s, ttfb_s, total_s, kept_s, _ in rows:
            print(f"| {human(size)} | {plain_s * 1e3:.2f} ms | {ttfb_s * 1e3:.2f} ms | "
                  f"{total_s * 1e3:.2f} ms | {ttfb_s / plain_s:.1f}x | {kept_s * 1e3:.2f} ms | "
                  f"{kept_s / plain_s:.1f}x | {http_s * 1e3:.2f} ms | {ttfb_s / http_s:.1f}x |")  # fmt: skip
        print(
            "\nA floor for any server that speaks HTTP from Python and syncs a ledger entry before the "
            "first byte, with no sign-in, grant or decryption: plaintext over HTTP plus one synced "
            "SQLite commit on the same disk (medians of the same runs)\n"
        )
        print("| recording | synced commit | floor: HTTP + commit | floor / pread | vault TTFB / floor |")
        print("| --- | --- | --- | --- | --- |")
        for size, plain_s, http_s, ttfb_s, _, _, commit_s in rows:
            floor = http_s + commit_s
            print(f"| {human(size)} | {commit_s * 1e3:.2f} ms | {floor * 1e3:.2f} ms | "
                  f"{floor / plain_s:.1f}x | {ttfb_s / floor:.1f}x |")  # fmt: skip
        if args.back_to_back:
            size, median, cpu, alone = back_to_back
            print(f"\n{args.back_to_back} requests in a row into the {human(size)} recording, warm: "
                  f"median time to first byte {median * 1e3:.2f} ms; "
                  f"the server's CPU time per request {cpu * 1e3:.2f} ms; "
                  f"the same requests in one process, through Django's WSGI handler with no HTTP: "
                  f"{alone * 1e3:.2f} ms to the first chunk")  # fmt: skip


if __name__ == "__main__":
    main()
