"""Ledger benchmark on PostgreSQL: append rate with concurrent writer processes, `manage.py
verify_ledger` over a large ledger, and an export of filtered entries with inclusion proofs.

Each figure comes with a baseline measured in the same run: appends against the same processes
committing plain single-row INSERTs into an unlocked table with the same columns; verification
against merely streaming the same rows out of the database; exports against selecting the same
entries. Medians over --runs; peak RSS from GNU time. It creates and drops its own database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ledger.py
"""

from __future__ import annotations

import argparse
import os
import shutil
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
SCRATCH_DB = "vaultbench_ledger"
FILTERED_ACTION = "case.access_approved"
LAST_CPU = 0.0

# Writers start their interpreters, say they are ready, and wait for the go: the rate measures
# appends, not eight Django start-ups fighting for two cores.
BARRIER = """
import os, sys, time
def ready_set_go(folder):
    open(os.path.join(folder, "ready-" + sys.argv[1]), "w").close()
    while not os.path.exists(os.path.join(folder, "go")):
        time.sleep(0.001)
"""

WRITER = (
    BARRIER
    + """
import django
django.setup()
from audit.services import Actor, record_event
actor = Actor.job(sys.argv[1])
count = int(sys.argv[2])
ready_set_go(sys.argv[3])
for n in range(count):
    record_event(action="bench.appended", actor=actor, details={"n": n, "reason": "benchmark"})
"""
)

BARE_BODY = """
import json, psycopg
count = int(sys.argv[2])
with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
    ready_set_go(sys.argv[3])
    for n in range(count):
        db.execute(
            "INSERT INTO bench_plain (recorded_at, actor_kind, actor_id, actor_label, action, details,"
            " leaf_hash) VALUES (now(), 'job', %s, %s, 'bench.appended', %s, %s)",
            [sys.argv[1], sys.argv[1], json.dumps({"n": n, "reason": "benchmark"}), os.urandom(32)],
        )
"""
BARE_WRITER = BARRIER + BARE_BODY

BARE_READ = """
import os, psycopg
with psycopg.connect(os.environ["DATABASE_URL"]) as db, db.cursor(name="all") as cursor:
    cursor.itersize = 5000
    cursor.execute("SELECT seq, recorded_at, actor_kind, actor_id, actor_label, action, recording_id, "
                   "session_id, case_id, details, leaf_hash FROM audit_ledgerentry ORDER BY seq")
    rows = sum(1 for _ in cursor)
print(rows)
"""

EXPORT = """
import sys, django
django.setup()
from django.contrib.auth import get_user_model
from audit import exports
from audit.exports import ExportFilters
from audit.services import create_export
user, _ = get_user_model().objects.get_or_create(username="bench-auditor")
export = create_export(user=user, filters=ExportFilters(action=sys.argv[1]))
filters, tree = ExportFilters.from_json(export.filters), exports.proven_tree(export)
size = sum(len(chunk) for chunk in exports.jsonl(filters, tree))
assert size == export.files["entries.jsonl"]["bytes"]
print(export.entry_count, size)
"""

BARE_SELECT = """
import os, sys, psycopg
with psycopg.connect(os.environ["DATABASE_URL"]) as db:
    query = "SELECT * FROM audit_ledgerentry WHERE action = %s ORDER BY seq"
    rows = db.execute(query, [sys.argv[1]]).fetchall()
print(len(rows))
"""


def recreate_database(base: str) -> str:
    import psycopg

    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {SCRATCH_DB}")
    return urlunparse(urlparse(base)._replace(path=f"/{SCRATCH_DB}"))


def drop_database(base: str) -> None:
    import psycopg

    admin = urlunparse(urlparse(base)._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)")


def timed(env: dict[str, str], scratch: Path, *command: str) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB, GNU time) and stdout of a command in its own process; its CPU
    seconds (user + system) are left in LAST_CPU, the steadier figure on a shared machine."""
    global LAST_CPU
    peak = scratch / "peak"
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M %U %S", "-o", str(peak), *command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{command} failed:\n{result.stdout}\n{result.stderr}")
    rss, user, system = peak.read_text().split()[-3:]
    LAST_CPU = float(user) + float(system)
    return elapsed, int(rss) / 1024, result.stdout


def concurrent_rate(env: dict[str, str], script: str, writers: int, each: int) -> float:
    folder = Path(tempfile.mkdtemp(prefix="vault-bench-barrier-"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"writer-{w}", str(each), str(folder)], cwd=ROOT, env=env
        )
        for w in range(writers)
    ]
    while len(list(folder.glob("ready-*"))) < writers:
        if any(p.poll() not in (None, 0) for p in processes):
            raise SystemExit("a writer failed to start")
        time.sleep(0.01)
    started = time.perf_counter()
    (folder / "go").touch()
    failed = any(p.wait() != 0 for p in processes)
    elapsed = time.perf_counter() - started
    shutil.rmtree(folder, ignore_errors=True)
    if failed:
        raise SystemExit("a writer failed")
    return writers * each / elapsed


def fill(count: int, heads_every: int) -> None:
    """`count` realistic entries straight into the table with COPY (leaf hashes computed as the
    service does), a head signed every `heads_every`; one entry in a hundred is FILTERED_ACTION."""
    from django.db import connection

    from audit.canonical import COLUMNS, canonical_bytes, hashed_fields, leaf_hash
    from audit.models import LedgerEntry, SignedTreeHead
    from audit.services import sign_tree_head

    actions = ["recording.ingested", "recording.played", "recording.purged", "recording.shredded"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    columns = (*COLUMNS, "leaf_hash")
    statement = f"COPY {LedgerEntry._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    from psycopg.types.json import Jsonb

    for batch in range(0, count, heads_every):
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for seq in range(batch + 1, min(batch + heads_every, count) + 1):
                row: dict[str, Any] = {
                    "seq": seq,
                    "recorded_at": start + timedelta(seconds=seq * 30),
                    "actor_kind": "user",
                    "actor_id": str(seq % 40),
                    "actor_label": f"officer{seq % 40}",
                    "action": FILTERED_ACTION if seq % 100 == 0 else actions[seq % 4],
                    "recording_id": uuid.UUID(int=seq % 50_000 + 1),
                    "session_id": uuid.UUID(int=seq % 50_000 + 1),
                    "case_id": uuid.UUID(int=seq % 5_000 + 1) if seq % 3 == 0 else None,
                    "details": {"bytes": seq % 7_000_000, "range": f"bytes={seq}-", "outcome": "granted"},
                }
                row["leaf_hash"] = leaf_hash(canonical_bytes(hashed_fields(**row)))
                copy.write_row([Jsonb(row[c]) if c == "details" else row[c] for c in columns])
        sign_tree_head(trigger=SignedTreeHead.Trigger.COMMAND)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--appends", type=int, default=1000, help="entries per writer per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--verify-runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help=f"keep the {SCRATCH_DB} database afterwards")
    args = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "")
    if not base.startswith(("postgres://", "postgresql://")):
        raise SystemExit(
            "bench/ledger.py needs DATABASE_URL=postgres://... (it makes its own scratch database)"
        )
    url = recreate_database(base)
    scratch = Path(tempfile.mkdtemp(prefix="vault-bench-ledger-"))  # holds a generated signing key
    try:
        measure(args, url, scratch)
    finally:
        if "django" in sys.modules:
            from django.db import connections

            connections.close_all()
        if not args.keep:
            drop_database(base)
        shutil.rmtree(scratch, ignore_errors=True)


def measure(args: argparse.Namespace, url: str, scratch: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "VAULT_DATA_DIR": str(scratch),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE bench_plain (id bigserial PRIMARY KEY, recorded_at timestamptz, actor_kind text, "
            "actor_id text, actor_label text, action text, details jsonb, leaf_hash bytea)"
        )
    print(f"# Ledger benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, PostgreSQL, {os.cpu_count()} cores")

    print(f"\n## Appends: {args.writers} writer processes x {args.appends} entries, {args.runs} runs\n")
    print("| run | bare INSERT/s | ledger entries/s | ledger / bare |\n| --- | --- | --- | --- |")
    bare_rates, ledger_rates = [], []
    for run in range(args.runs):
        bare_rates.append(concurrent_rate(env, BARE_WRITER, args.writers, args.appends))
        ledger_rates.append(concurrent_rate(env, WRITER, args.writers, args.appends))
        bare_rate, ledger_rate = bare_rates[-1], ledger_rates[-1]
        print(f"| {run + 1} | {bare_rate:.0f} | {ledger_rate:.0f} | {ledger_rate / bare_rate:.2f}x |")
    bare, ledger = statistics.median(bare_rates), statistics.median(ledger_rates)
    print(f"| median | {bare:.0f} | {ledger:.0f} | {ledger / bare:.2f}x |")

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_ledgerentry, audit_signedtreehead CASCADE")  # superuser only
    started = time.perf_counter()
    fill(args.entries, heads_every=max(args.entries // 4, 1))
    print(f"\nFilled {args.entries} entries (COPY, 4 signed heads) in {time.perf_counter() - started:.0f} s.")

    print(f"\n## verify_ledger over {args.entries} entries\n")
    print(
        "| run | bare read rows/s | verify entries/s | verify / bare | entries per CPU second "
        "| peak RSS (MiB) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for run in range(args.verify_runs):
        read_s, _, _ = timed(env, scratch, sys.executable, "-c", BARE_READ)
        verify_s, peak, _ = timed(env, scratch, sys.executable, "manage.py", "verify_ledger", "-v", "0")
        bare_rate, rate = args.entries / read_s, args.entries / verify_s
        per_cpu = args.entries / LAST_CPU
        print(
            f"| {run + 1} | {bare_rate:.0f} | {rate:.0f} | {rate / bare_rate:.2f}x "
            f"| {per_cpu:.0f} | {peak:.0f} |"
        )

    print(f"\n## Export of the {args.entries // 100} `{FILTERED_ACTION}` entries, with inclusion proofs\n")
    print("| run | bare SELECT (s) | export + download (s) | CPU (s) | peak RSS (MiB) | bytes |")
    print("| --- | --- | --- | --- | --- | --- |")
    export_times = []
    for run in range(args.runs):
        select_s, _, _ = timed(env, scratch, sys.executable, "-c", BARE_SELECT, FILTERED_ACTION)
        export_s, peak, out = timed(env, scratch, sys.executable, "-c", EXPORT, FILTERED_ACTION)
        export_times.append(export_s)
        count, size = out.split()
        print(
            f"| {run + 1} | {select_s:.2f} | {export_s:.2f} | {LAST_CPU:.2f} | {peak:.0f} "
            f"| {int(size):,} ({count} entries) |"
        )
    print(f"| median | | {statistics.median(export_times):.2f} | | | |")
    _, small_peak, out = timed(env, scratch, sys.executable, "-c", EXPORT, "recording.purged")
    print(
        f"\nMemory: an export of {out.split()[0]} entries from the same ledger peaks at {small_peak:.0f} MiB."
    )


if __name__ == "__main__":
    main()
