"""Dead row versions after a purge, on PostgreSQL: what a `VACUUM` of the two tables the purge
overwrites (recorder_recording: the shredded header, the wrapped file key; recorder_session: the
raw customer and agent references) costs after each purge run, against relying on autovacuum.

An UPDATE in PostgreSQL writes a new row version and leaves the old one, with the erased values,
in the table's pages until a VACUUM removes it. Per run (medians over --runs), in one scratch
database: the purge run's own time (`retention.services.purge_expired`, local store, its own
VACUUM switched off) and the VACUUM that follows it (`recorder.shredding.remove_overwritten_copies`),
the dead row versions left (pgstattuple), and how many of the erased values
are still in the bytes of the tables' files (after a CHECKPOINT; only where this process can read
the server's data directory, else "n/a"). Autovacuum is not waited for: when it would come is
computed from the server's settings (autovacuum_vacuum_threshold + scale_factor x live rows).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/vacuum.py
    DATABASE_URL=... .venv/bin/python bench/vacuum.py --smoke      # under a minute: a small table, two runs
"""

from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH_DB = "vault_bench_vacuum"
TABLES = ("recorder_session", "recorder_recording")


def recreate_database(base: str) -> str:
    import psycopg

    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {SCRATCH_DB}")
    return urlunparse(urlparse(base)._replace(path=f"/{SCRATCH_DB}"))


def seed(count: int, label: str, *, expired: bool) -> None:
    """`count` sessions with a locked recording each; expired ones carry distinctive raw values
    (`RAWREF-<label>-n`, a header marked `HDR<label>`) that the purge erases."""
    from django.utils import timezone

    from recorder.models import RecorderClient, Recording, Session

    client, _ = RecorderClient.objects.get_or_create(
        name="bench", defaults={"token_digest": uuid.uuid4().hex * 2, "token_prefix": "bench"}
    )
    now = timezone.now()
    past = now - timedelta(days=1)
    expires = past if expired else now + timedelta(days=90)
    for start in range(0, count, 5000):
        size = min(5000, count - start)
        refs = [
            f"RAWREF-{label}-{start + n:07d}" if expired else f"C-{label}-{start + n}" for n in range(size)
        ]
        sessions = [
            Session(
                client=client, external_id=f"{label}-{start + n}", customer_ref=refs[n],
                customer_ref_hash="0" * 64, agent_ref=f"AGENT-{refs[n]}", agent_ref_hash="1" * 64,
                initiated_by="customer", started_at=past, consent_granted_at=past, consent_view=True,
                consent_control=True,
            )
            for n in range(size)
        ]  # fmt: skip
        Session.objects.bulk_create(sessions, batch_size=5000)
        header = (
            b"age-encryption.org/v1\n-> X25519 HDR"
            + label.encode()
            + b"A" * 40
            + b"\n--- "
            + b"C" * 43
            + b"\n"
        )
        # At most 65535 parameters a statement (server-side binding): 2000 rows of 16 columns.
        Recording.objects.bulk_create(
            [
                Recording(
                    session=session, state="locked", media_type="video/webm",
                    object_key=f"recordings/{now:%Y}/{now:%m}/{uuid.uuid4()}.age", size=256, payload_size=288,
                    header=header, fingerprint="f" * 64, upload_started_at=past, last_activity_at=past,
                    received_at=past, expires_at=expires,
                )
                for session in sessions
            ],
            batch_size=2000,
        )  # fmt: skip


def dead_rows() -> dict[str, int]:
    """Dead row versions in each table, counted exactly by pgstattuple (contrib), which reads the
    pages: the statistics views lag behind by up to seconds and a VACUUM's reset races them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        counts = {}
        for table in TABLES:
            cursor.execute("SELECT dead_tuple_count FROM pgstattuple(%s)", [table])
            counts[table] = int(cursor.fetchone()[0])
    return counts


def raw_values_in_files(label: str) -> tuple[int, int] | None:
    """(raw references, headers) of run `label` still in the bytes of the two tables' files, or
    None where this process cannot read the server's files."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")  # dirty pages to the files
        cursor.execute("SELECT current_setting('data_directory')")
        data_directory = Path(cursor.fetchone()[0])
        found = []
        for table, pattern in (
            ("recorder_session", rb"RAWREF-" + label.encode() + rb"-\d{7}"),
            ("recorder_recording", rb"HDR" + label.encode()),
        ):
            cursor.execute("SELECT pg_relation_filepath(%s)", [table])
            path = data_directory / cursor.fetchone()[0]
            try:
                segments = [path, *sorted(path.parent.glob(path.name + ".[0-9]*"))]
                found.append(sum(len(re.findall(pattern, segment.read_bytes())) for segment in segments))
            except OSError:
                return None
    return found[0], found[1]


def autovacuum_threshold(table: str) -> tuple[bool, float, float, int]:
    """(autovacuum on, threshold, scale factor, dead rows that wake it for `table`)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('autovacuum')::bool, "
            "current_setting('autovacuum_vacuum_threshold')::float, "
            "current_setting('autovacuum_vacuum_scale_factor')::float, "
            "(SELECT reltuples FROM pg_class WHERE relname = %s)",
            [table],
        )
        on, threshold, scale, tuples = cursor.fetchone()
    return on, threshold, scale, int(threshold + scale * max(tuples, 0))


def one_run(label: str, previous: str | None, purge: int, *, vacuum: bool) -> dict[str, Any]:
    """New sessions arrive (as many as the purge takes), then the purge, then (or not) VACUUM."""
    from retention.services import purge_expired

    seed(purge, label, expired=True)
    previous_left = raw_values_in_files(previous) if previous else None
    started = time.perf_counter()
    run = purge_expired()  # its own VACUUM is switched off in main(): timed apart below
    purge_seconds = time.perf_counter() - started
    assert run.purged == purge, (run.purged, purge)
    vacuum_seconds = None
    if vacuum:
        started = time.perf_counter()
        REAL_REMOVE_OVERWRITTEN_COPIES()
        vacuum_seconds = time.perf_counter() - started
    return {
        "purge": purge_seconds,
        "vacuum": vacuum_seconds,
        "dead": dead_rows(),
        "files": raw_values_in_files(label),
        "previous_left": previous_left,
    }


def dead(counts: dict[str, int]) -> str:
    return " / ".join(str(counts.get(table, 0)) for table in TABLES)


def in_files(found: tuple[int, int] | None) -> str:
    return "n/a" if found is None else f"{found[0]} / {found[1]}"


REAL_REMOVE_OVERWRITTEN_COPIES: Any = None


def one_pass(base: str, args: argparse.Namespace, *, vacuum: bool) -> list[float]:
    """A fresh scratch database, `args.rows` live rows, then `args.runs` purge runs; a table row
    each. Returns the VACUUM / purge ratios."""
    import psycopg
    from django.db import connections

    # A copy of the migrated scratch database for each pass (CREATE DATABASE ... TEMPLATE): fast.
    connections.close_all()
    name = f"{SCRATCH_DB}_{'vacuum' if vacuum else 'autovacuum'}"
    with psycopg.connect(urlunparse(urlparse(base)._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {SCRATCH_DB}")
    connections["default"].settings_dict["NAME"] = name
    seed(args.rows, "live", expired=False)
    REAL_REMOVE_OVERWRITTEN_COPIES()  # the seeding's own bookkeeping out of the way (hint bits, stats)
    title = "VACUUM after each purge run" if vacuum else "no VACUUM: autovacuum's turn (see below)"
    print(f"\n## {title}\n")
    print(
        "| run | purge run s | VACUUM s | VACUUM / purge | dead rows after (session / recording) "
        "| this run's erased values in the files (refs / headers) "
        "| the run before's, once this run's new rows are in |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    ratios, previous = [], None
    for number in range(1, args.runs + 1):
        label = f"{'v' if vacuum else 'a'}{number}"
        result = one_run(label, previous, args.purge, vacuum=vacuum)
        previous = label
        seconds, vacuum_text, ratio_text = result["vacuum"], "-", "-"
        if seconds is not None:
            ratios.append(seconds / result["purge"])
            vacuum_text, ratio_text = f"{seconds:.3f}", f"{ratios[-1]:.3f}x"
        print(
            f"| {number} | {result['purge']:.3f} | {vacuum_text} | {ratio_text} | {dead(result['dead'])} | "
            f"{in_files(result['files'])} | {in_files(result['previous_left']) if number > 1 else '-'} |"
        )
    if ratios:
        print(f"\nMedian VACUUM / purge run: **{statistics.median(ratios):.3f}x**")
    return ratios


def main() -> None:
    global REAL_REMOVE_OVERWRITTEN_COPIES
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=200_000, help="live sessions (and recordings) in the tables"
    )
    parser.add_argument("--purge", type=int, default=2_000, help="recordings a purge run purges")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a small table and two runs: seconds")
    args = parser.parse_args()
    if args.smoke:
        args.rows, args.purge, args.runs = 2_000, 200, 2
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "bench/vacuum.py needs DATABASE_URL=postgres://... (it makes its own scratch database)"
        )
    scratch = Path(tempfile.mkdtemp(prefix="vault-bench-vacuum-"))
    env = {
        **os.environ,
        "DATABASE_URL": recreate_database(base),
        "VAULT_DATA_DIR": str(scratch),
        "OBJECT_STORE": "local",
        "CELERY_BROKER_URL": "memory://",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    import django

    django.setup()
    from recorder import shredding

    REAL_REMOVE_OVERWRITTEN_COPIES = shredding.remove_overwritten_copies
    shredding.remove_overwritten_copies = lambda: None  # the purge's own call; timed apart instead

    print(f"# Dead row versions after a purge, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, PostgreSQL")
    print(
        f"\n{args.rows} live sessions and recordings; each run, {args.purge} new expired ones arrive and "
        f"are purged (local store). {args.runs} run(s) a pass. Erased values are counted in the bytes of "
        "the tables' files after a CHECKPOINT."
    )
    one_pass(base, args, vacuum=False)
    one_pass(base, args, vacuum=True)
    on, threshold, scale, wakes_at = autovacuum_threshold("recorder_session")
    print("\n## When autovacuum would come\n")
    print(
        "| autovacuum | threshold + scale factor | wakes for recorder_session at "
        "| purge runs of this size until then |"
    )
    print("| --- | --- | --- | --- |")
    print(
        f"| {'on' if on else 'off'} | {threshold:.0f} + {scale} x rows | {wakes_at} dead rows "
        f"| {math.ceil(wakes_at / args.purge)} |"
    )
    print(
        f"\nWith a steady state of 3 months of recordings, each day's purge kills about 1/92 of the rows: "
        f"autovacuum at scale factor {scale} comes after about {scale * 92:.0f} days of purges, whatever "
        "the volume; until then the dead row versions keep the erased references and headers."
    )


if __name__ == "__main__":
    main()
