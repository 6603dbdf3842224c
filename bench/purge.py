"""Purge benchmark: `manage.py purge_expired` on PostgreSQL with the S3 store (moto's server over
HTTP) against a bare script that deletes the same number of keys with DeleteObjects (1000 a call)
and updates the same number of rows with one SQL statement per batch, in the same run. A share
of the sessions (`--unrecorded`, default a quarter) never got a recording (refused, or no upload
came): the purge pseudonymises them too, and the bare script updates them with one UPDATE per
1000. "rec/s" counts sessions ended either way.

Prints recordings per second (median of --runs), the ratio vault/bare, and the purge process's
peak RSS for a small and the full count (memory must stay flat). Needs DATABASE_URL pointing at
a PostgreSQL server; it creates and drops its own scratch database there.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/purge.py --count 100000

`--smoke` runs every phase at a few hundred recordings, in seconds (`make bench-smoke`, CI): it
proves the script still runs and prints its tables, not any figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH_DB = "vault_bench_purge"  # --database changes it
BUCKET = "vault-bench"
BATCH = 1000


def scratch_url(base: str, name: str) -> str:
    parsed = urlparse(base)
    return urlunparse(parsed._replace(path=f"/{name}"))


def recreate_database(base: str, name: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_database(base: str, name: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    from tests.conftest import MOTO_CREDENTIALS, MotoServer

    os.environ.update(MOTO_CREDENTIALS)
    server = MotoServer()
    server.start()
    assert server.process is not None
    return server.process, server.endpoint


def seed(count: int, s3, label: str, unrecorded: int = 0) -> tuple[list[str], list[uuid.UUID]]:  # type: ignore[no-untyped-def]
    """`count` sessions: `unrecorded` of them without a recording, registered a year ago; the rest
    with a locked, expired recording and a small object each. Their object keys and the ids of the
    sessions without a recording."""
    keys = seed_rows(count - unrecorded, label)
    bare_sessions = seed_unrecorded(unrecorded, label)
    body = os.urandom(288)
    with ThreadPoolExecutor(max_workers=10) as pool:  # boto3 keeps 10 connections to an endpoint
        list(pool.map(lambda key: s3.put_object(Bucket=BUCKET, Key=key, Body=body), keys))
    return keys, bare_sessions


def seed_unrecorded(count: int, label: str) -> list[uuid.UUID]:
    """Sessions without a recording, registered and ended a year ago (past any retention)."""
    from django.db import connection
    from django.utils import timezone

    from recorder.models import RecorderClient, Session

    client = RecorderClient.objects.get(name="bench")
    past = timezone.now() - timedelta(days=366)
    ids = [uuid.uuid4() for _ in range(count)]
    columns = (
        "id, client_id, external_id, customer_ref, customer_ref_hash, agent_ref, agent_ref_hash, "
        "initiated_by, started_at, consent_granted_at, consent_view, consent_control, registered_at, ended_at"
    )
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {Session._meta.db_table} ({columns}) FROM STDIN") as copy:
            for n, sid in enumerate(ids):
                copy.write_row(
                    (sid, client.pk, f"{label}-norec-{n}", f"N-{n}", "0" * 64, "A", "1" * 64, "customer",
                     past, past, True, False, past, past)
                )  # fmt: skip
    return ids


def seed_rows(count: int, label: str) -> list[str]:
    """The database rows of `count` locked, expired recordings and their sessions; their object keys.

    Written with COPY, which binds no parameters: 5,000 sessions in one INSERT once bound 70,000,
    past the 65,535 PostgreSQL takes with server-side binding (`DB_PREPARED_STATEMENTS`), and an
    INSERT a statement's worth at a time (`core.batching`) took two minutes for 70,000 here.
    """
    from django.db import connection
    from django.utils import timezone
    from psycopg.types.json import Jsonb

    from recorder.models import RecorderClient, Recording, Session

    client, _ = RecorderClient.objects.get_or_create(
        name="bench", defaults={"token_digest": uuid.uuid4().hex * 2, "token_prefix": "bench"}
    )
    now = timezone.now()
    past = now - timedelta(days=1)
    header = (
        b"age-encryption.org/v1\n-> X25519 " + b"A" * 43 + b"\n" + b"B" * 43 + b"\n--- " + b"C" * 43 + b"\n"
    )
    session_ids = [uuid.uuid4() for _ in range(count)]
    recording_ids = [uuid.uuid4() for _ in range(count)]
    keys = [f"recordings/{now:%Y}/{now:%m}/{rid}.age" for rid in recording_ids]
    sessions = (
        (
            sid,
            client.pk,
            f"{label}-{n}",
            f"C-{n}",
            "0" * 64,
            "A",
            "1" * 64,
            "customer",
            past,
            past,
            True,
            True,
            now,
        )
        for n, sid in enumerate(session_ids)
    )
    recordings = (
        (rid, sid, "locked", "video/webm", key, 256, 288, header, "f" * 64, Jsonb([]), past, past, past, past)
        for rid, sid, key in zip(recording_ids, session_ids, keys, strict=True)
    )
    copies = [
        (Session, "id, client_id, external_id, customer_ref, customer_ref_hash, agent_ref, agent_ref_hash, "
         "initiated_by, started_at, consent_granted_at, consent_view, consent_control, registered_at",
         sessions),
        (Recording, "id, session_id, state, media_type, object_key, size, payload_size, header, fingerprint, "
         "recipients, upload_started_at, last_activity_at, received_at, expires_at", recordings),
    ]  # fmt: skip
    with connection.cursor() as cursor:
        for model, columns, rows in copies:
            with cursor.cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    return keys


def bare_floor(keys: list[str], s3, unrecorded: list[uuid.UUID]) -> float:  # type: ignore[no-untyped-def]
    """The least any purge must do: DeleteObjects per 1000 keys, one UPDATE per batch; one UPDATE
    per 1000 sessions without a recording."""
    from django.db import connection, transaction

    started = time.perf_counter()
    for start in range(0, len(unrecorded), BATCH):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE recorder_session SET customer_ref = NULL, agent_ref = NULL, "
                "external_id = md5(external_id) WHERE id = ANY(%s)",
                [unrecorded[start : start + BATCH]],
            )
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "UPDATE recorder_recording SET state = 'purged', header = NULL, purged_at = now() "
                "WHERE object_key = ANY(%s)",
                [batch],
            )
    return time.perf_counter() - started


def vault_purge(env: dict[str, str], scratch: Path) -> tuple[float, float, float, str]:
    """`manage.py purge_expired` in its own process: purge seconds, process seconds, peak RSS
    (MiB), summary.

    Peak RSS comes from GNU time, which forks the purge itself: wait4() on a child spawned
    straight from this (large) process would report this process's peak, inherited at exec.
    """
    peak_file = scratch / "peak-rss-kib"
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(peak_file), sys.executable, "manage.py", "purge_expired"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    process_seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"purge_expired failed:\n{result.stdout}\n{result.stderr}")
    from retention.models import PurgeRun

    # The purge's own time (its run record: first claim to last ledger event), like the bare
    # loop's, which starts no interpreter either; the process time is printed beside it.
    run = PurgeRun.objects.order_by("-started_at").first()
    assert run is not None and run.finished_at is not None
    purge_seconds = (run.finished_at - run.started_at).total_seconds()
    peak = int(peak_file.read_text().split()[-1]) / 1024
    return purge_seconds, process_seconds, peak, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000, help="count for the memory comparison")
    parser.add_argument(
        "--unrecorded", type=float, default=0.25, help="share of the sessions that never got a recording"
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default=SCRATCH_DB, help="the scratch database made and dropped")
    parser.add_argument(
        "--smoke", action="store_true", help="300 recordings, 1 run, 100 for memory: seconds (CI)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.count, args.runs, args.small = 300, 1, 100
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "bench/purge.py needs DATABASE_URL=postgres://... (it makes its own scratch database)"
        )
    if not Path("/usr/bin/time").exists():
        raise SystemExit("bench/purge.py measures peak memory with GNU time: apt-get install time")
    recreate_database(base, args.database)
    moto, endpoint = start_moto()
    scratch = Path(tempfile.mkdtemp(prefix="vault-bench-purge-"))
    env = {
        **os.environ,
        "DATABASE_URL": scratch_url(base, args.database),
        "OBJECT_STORE": "s3",
        "S3_BUCKET": BUCKET,
        "S3_ENDPOINT_URL": endpoint,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
        )
        import django

        django.setup()
        from recorder.stores import s3_client

        s3 = s3_client(endpoint, "us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        print(
            f"# Purge benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            "PostgreSQL + S3 (moto server over HTTP)"
        )
        unrecorded = int(args.count * args.unrecorded)
        print(
            f"\n## {args.count} expired sessions ({args.count - unrecorded} with a recording, "
            f"{unrecorded} without), {args.runs} runs (medians)\n"
        )
        print(
            "| run | bare floor rec/s | vault rec/s | vault / bare "
            "| vault rec/s incl. process start | vault peak RSS (MiB) |"
        )
        print("| --- | --- | --- | --- | --- | --- |")
        bare_rates, vault_rates, process_rates, peaks = [], [], [], []
        for run in range(args.runs):
            seed(args.count, s3, f"vault-{run}", unrecorded)
            seconds, process_seconds, peak, summary = vault_purge(env, scratch)
            vault_rates.append(args.count / seconds)
            process_rates.append(args.count / process_seconds)
            peaks.append(peak)
            keys, bare_sessions = seed(args.count, s3, f"bare-{run}", unrecorded)
            bare_rates.append(args.count / bare_floor(keys, s3, bare_sessions))
            ratio = vault_rates[-1] / bare_rates[-1]
            print(
                f"| {run + 1} | {bare_rates[-1]:.0f} | {vault_rates[-1]:.0f} | {ratio:.2f}x "
                f"| {process_rates[-1]:.0f} | {peak:.0f} |"
            )
        bare, vault = statistics.median(bare_rates), statistics.median(vault_rates)
        print(
            f"| median | {bare:.0f} | {vault:.0f} | {vault / bare:.2f}x "
            f"| {statistics.median(process_rates):.0f} | {statistics.median(peaks):.0f} |"
        )
        print(f"\n## Memory: purge process peak RSS (GNU time), {args.small} vs {args.count} recordings\n")
        seed(args.small, s3, "memory-small", int(args.small * args.unrecorded))
        _, _, small_peak, _ = vault_purge(env, scratch)
        print("| recordings | peak RSS (MiB) |\n| --- | --- |")
        print(f"| {args.small} | {small_peak:.0f} |")
        print(f"| {args.count} | {statistics.median(peaks):.0f} (median of the runs above) |")
        print("\nSummary printed by the last purge_expired of the runs:\n\n```\n" + summary.strip() + "\n```")
    finally:
        moto.terminate()
        try:
            moto.wait(timeout=10)
        except subprocess.TimeoutExpired:  # a loaded machine: it would not stop in time
            moto.kill()
            moto.wait()
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        drop_database(base, args.database)


if __name__ == "__main__":
    main()
