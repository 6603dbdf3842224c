"""Ledger benchmark on PostgreSQL (issue 21): the same costs at every ledger size, the tiles
doing the work. For each size (default 1M and 50M entries, bulk-loaded with COPY in the same run):
signing a head after 10,000 new entries, an inclusion and a consistency proof through the API, an
export of 10,000 filtered entries with proofs, `manage.py verify_ledger`, each in its own process
with its peak RSS; and, once, appends with 8 writer processes against plain INSERTs and against
the previous commit's code (extracted with `git archive`), measured in the same minutes.

Medians over --runs; peak RSS from GNU time. It creates and drops its own database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/ledger.py
    ... bench/ledger.py --smoke      # a few thousand entries: every table, in seconds
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
EXPORT_ACTION = "case.access_approved"
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

# Each figure's process times its own work (after Django's start-up) and prints the seconds.
SIGN = """
import sys, time, django
django.setup()
from audit.services import sign_tree_head
started = time.perf_counter()
head, _ = sign_tree_head(trigger="command")
print(time.perf_counter() - started, head.tree_size)
"""

PROOFS = """
import random, statistics, sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from django.test import Client
from audit.models import SignedTreeHead
from staff.roles import assign_role
user, created = get_user_model().objects.get_or_create(username="bench-auditor")
if created:
    assign_role(user=user, role="auditor")
client = Client(HTTP_HOST="localhost")
client.force_login(user)
heads = list(SignedTreeHead.objects.order_by("-tree_size").values_list("tree_size", flat=True)[:2])
latest, earlier = heads[0], heads[-1]
rng, inclusion, consistency = random.Random(21), [], []
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    response = client.get("/api/v1/audit/proofs/inclusion", {"seq": rng.randint(1, latest)})
    inclusion.append(time.perf_counter() - started)
    assert response.status_code == 200, response.content
    started = time.perf_counter()
    response = client.get("/api/v1/audit/proofs/consistency", {"first": earlier, "second": latest})
    consistency.append(time.perf_counter() - started)
    assert response.status_code == 200, response.content
print(statistics.median(inclusion) * 1000, statistics.median(consistency) * 1000)
"""

EXPORT = """
import sys, time, django
django.setup()
from django.contrib.auth import get_user_model
from audit import exports
from audit.exports import ExportFilters
from audit.services import create_export
user, _ = get_user_model().objects.get_or_create(username="bench-exporter")
started = time.perf_counter()
export = create_export(user=user, filters=ExportFilters(action=sys.argv[1]))
filters, tree = ExportFilters.from_json(export.filters), exports.proven_tree(export)
size = sum(len(chunk) for chunk in exports.jsonl(filters, tree))
assert size == export.files["entries.jsonl"]["bytes"]
print(time.perf_counter() - started, export.entry_count, size)
"""

# What verify_ledger cannot go below, timed in one process right after it: the entries streamed out
# of PostgreSQL and nothing done with them (a server-side cursor with rows made in Python, and COPY
# TO STDOUT, PostgreSQL's fastest way out), and the hashing it must do (each leaf hash and the
# tiles' nodes above the leaves) over canonical bytes prepared untimed, a chunk at a time.
FLOOR = """
import sys, time, hashlib, django
django.setup()
import psycopg
from django.db import connection
from audit.canonical import COLUMNS, LEAF_PREFIX
from audit.integrity import READ_CHUNK, copied_entries
from audit.selectors import last_seq
from audit.tiles import TileBuilder
params, upto = connection.get_connection_params(), last_seq()
columns = ", ".join((*COLUMNS, "leaf_hash"))
started = time.perf_counter()
with psycopg.connect(**params) as db, db.cursor(name="floor", binary=True) as cursor:
    cursor.itersize = 10_000
    cursor.execute(f"SELECT {columns} FROM audit_ledgerentry ORDER BY seq")
    rows = sum(1 for _ in cursor)
cursor_s = time.perf_counter() - started
started = time.perf_counter()
with psycopg.connect(**params) as db, db.cursor().copy(
    f"COPY (SELECT {columns} FROM audit_ledgerentry ORDER BY seq) TO STDOUT"
) as copy:
    copied = sum(bytes(data).count(b"\\n") for data in copy)
copy_s = time.perf_counter() - started
hashing_s, builder, sha256 = 0.0, TileBuilder(0, {}), hashlib.sha256
for after in range(0, upto, READ_CHUNK):
    entries = [canonical for _, canonical, _ in copied_entries(after, after + READ_CHUNK)]
    started = time.perf_counter()
    builder.extend(b"".join([sha256(LEAF_PREFIX + canonical).digest() for canonical in entries]))
    builder.changed()
    hashing_s += time.perf_counter() - started
assert rows == copied == builder.size == upto, (rows, copied, builder.size, upto)
print(upto / cursor_s, upto / copy_s, upto / hashing_s)
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


def concurrent_rate(env: dict[str, str], script: str, writers: int, each: int, cwd: Path = ROOT) -> float:
    folder = Path(tempfile.mkdtemp(prefix="vault-bench-barrier-"))
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", script, f"writer-{w}", str(each), str(folder)], cwd=cwd, env=env
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


def fill(first: int, last: int, *, export_every: int, heads_every: int) -> None:
    """Entries seq first..last straight into the table with COPY (leaf hashes computed as the
    service does), a head signed every `heads_every` (which tiles them); every `export_every`-th
    entry is EXPORT_ACTION, the export's filter."""
    from django.db import connection
    from psycopg.types.json import Jsonb

    from audit.canonical import COLUMNS, canonical_bytes, hashed_fields, leaf_hash
    from audit.models import LedgerEntry, SignedTreeHead
    from audit.services import sign_tree_head

    actions = ["recording.ingested", "recording.played", "recording.purged", "recording.shredded"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    columns = (*COLUMNS, "leaf_hash")
    statement = f"COPY {LedgerEntry._meta.db_table} ({', '.join(columns)}) FROM STDIN"
    step = heads_every or last - first + 1  # 0: no head, one COPY
    for batch in range(first, last + 1, step):
        with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
            for seq in range(batch, min(batch + step - 1, last) + 1):
                row: dict[str, Any] = {
                    "seq": seq,
                    "recorded_at": start + timedelta(seconds=seq * 3),
                    "actor_kind": "user",
                    "actor_id": str(seq % 40),
                    "actor_label": f"officer{seq % 40}",
                    "action": EXPORT_ACTION if seq % export_every == 0 else actions[seq % 4],
                    "recording_id": uuid.UUID(int=seq % 50_000 + 1),
                    "session_id": uuid.UUID(int=seq % 50_000 + 1),
                    "case_id": uuid.UUID(int=seq % 5_000 + 1) if seq % 3 == 0 else None,
                    "details": {"bytes": seq % 7_000_000, "range": f"bytes={seq}-", "outcome": "granted"},
                }
                row["leaf_hash"] = leaf_hash(canonical_bytes(hashed_fields(**row)))
                copy.write_row([Jsonb(row[c]) if c == "details" else row[c] for c in columns])
        if heads_every:
            sign_tree_head(trigger=SignedTreeHead.Trigger.COMMAND)


def previous_commit_tree(scratch: Path, commit: str | None) -> tuple[Path, str]:
    """The code of the commit before the tiles (or `commit`), extracted for its writers."""
    if commit is None:
        added = subprocess.run(
            ["git", "log", "--diff-filter=A", "--format=%H", "--", "audit/tiles.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        commit = f"{added[-1]}^" if added else "HEAD"
    commit = subprocess.run(
        ["git", "rev-parse", "--short", commit], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    folder = scratch / "previous"
    folder.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder, commit


def main() -> None:
    global SCRATCH_DB
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,50000000", help="ledger sizes, comma-separated")
    parser.add_argument("--new", type=int, default=10_000, help="entries appended before the timed head")
    parser.add_argument("--export-entries", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--appends", type=int, default=1000, help="entries per writer per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--proofs", type=int, default=20, help="requests of each proof per run")
    parser.add_argument("--previous", default=None, help="commit whose appends are the baseline")
    parser.add_argument("--smoke", action="store_true", help="a few thousand entries, every table, seconds")
    parser.add_argument("--database", default=SCRATCH_DB, help="the scratch database's name")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    args = parser.parse_args()
    SCRATCH_DB = args.database
    if args.smoke:
        args.sizes, args.new, args.export_entries = "3000,6000", 500, 100
        args.writers, args.appends, args.runs, args.proofs = 2, 20, 1, 3
    args.sizes = sorted(int(size) for size in args.sizes.split(","))
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
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    with open("/proc/loadavg") as handle:
        load = handle.read().split()[0]
    print(
        f"# Ledger benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {commit}, PostgreSQL, "
        f"{os.cpu_count()} cores, load average {load}"
    )
    appends(args, env, scratch)
    figures = {size: ledger_figures(args, env, scratch, size) for size in args.sizes}
    print_figures(args, figures)


def appends(args: argparse.Namespace, env: dict[str, str], scratch: Path) -> None:
    previous, commit = previous_commit_tree(scratch, args.previous)
    print(f"\n## Appends: {args.writers} writer processes x {args.appends} entries, {args.runs} runs\n")
    print(
        f"| run | bare INSERT/s | previous commit {commit} entries/s | this commit entries/s "
        "| this / previous |"
    )
    print("| --- | --- | --- | --- | --- |")
    rates: dict[str, list[float]] = {"bare": [], "previous": [], "this": []}
    for run in range(args.runs):
        rates["bare"].append(concurrent_rate(env, BARE_WRITER, args.writers, args.appends))
        rates["previous"].append(concurrent_rate(env, WRITER, args.writers, args.appends, cwd=previous))
        rates["this"].append(concurrent_rate(env, WRITER, args.writers, args.appends))
        bare, before, now = (rates[k][-1] for k in ("bare", "previous", "this"))
        print(f"| {run + 1} | {bare:.0f} | {before:.0f} | {now:.0f} | {now / before:.2f}x |")
    bare, before, now = (statistics.median(rates[k]) for k in ("bare", "previous", "this"))
    print(f"| median | {bare:.0f} | {before:.0f} | {now:.0f} | **{now / before:.2f}x** |")


def ledger_figures(args: argparse.Namespace, env: dict[str, str], scratch: Path, size: int) -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cursor:  # superuser only (the triggers let TRUNCATE through for it)
        cursor.execute("TRUNCATE audit_ledgerentry, audit_signedtreehead, audit_ledgertile CASCADE")
    started = time.perf_counter()
    export_every = max(size // args.export_entries, 1)
    fill(1, size, export_every=export_every, heads_every=max(size // 4, 1))
    loaded = time.perf_counter() - started
    fill(size + 1, size + args.new, export_every=size + args.new + 1, heads_every=0)
    result: dict[str, Any] = {"load_s": loaded}
    seconds, peak, out = timed(env, scratch, sys.executable, "-c", SIGN)
    result["sign"] = (float(out.split()[0]), peak, seconds)
    inclusion, consistency, peaks = [], [], []
    for _run in range(args.runs):
        _, peak, out = timed(env, scratch, sys.executable, "-c", PROOFS, str(args.proofs))
        inclusion.append(float(out.split()[0]))
        consistency.append(float(out.split()[1]))
        peaks.append(peak)
    result["proofs"] = (statistics.median(inclusion), statistics.median(consistency), max(peaks))
    exports, peaks, counts = [], [], []
    for _run in range(args.runs):
        _, peak, out = timed(env, scratch, sys.executable, "-c", EXPORT, EXPORT_ACTION)
        exports.append(float(out.split()[0]))
        counts.append(int(out.split()[1]))
        peaks.append(peak)
    result["export"] = (statistics.median(exports), max(peaks), counts[0])
    total = size + args.new + 2 * args.runs + 1  # + the exports' and the auditor's entries
    verify_s, peak, _ = timed(env, scratch, sys.executable, "manage.py", "verify_ledger", "-v", "0")
    result["verify"] = (total / verify_s, total / LAST_CPU, peak)
    _, _, out = timed(env, scratch, sys.executable, "-c", FLOOR)
    result["floor"] = tuple(float(rate) for rate in out.split())
    return result


def print_figures(args: argparse.Namespace, figures: dict[int, dict[str, Any]]) -> None:
    sizes = list(figures)
    small, large = sizes[0], sizes[-1]

    def ratio(key: str, at: int) -> str:
        return f"{figures[large][key][at] / figures[small][key][at]:.2f}x"

    print("\n## Ledgers loaded (COPY, 4 signed heads each, tiles built by the heads)\n")
    print("| ledger size | load + tiles (s) |\n| --- | --- |")
    for size in sizes:
        print(f"| {size:,} | {figures[size]['load_s']:.0f} |")
    print(f"\n## Signing a head after {args.new:,} new entries (their tiles built in the same transaction)\n")
    print("| ledger size | seconds (in process) | wall with process start (s) | peak RSS (MiB) |")
    print("| --- | --- | --- | --- |")
    for size in sizes:
        seconds, peak, wall = figures[size]["sign"]
        print(f"| {size:,} | {seconds:.3f} | {wall:.2f} | {peak:.0f} |")
    print(f"| {large:,} / {small:,} | {ratio('sign', 0)} | | {ratio('sign', 1)} |")
    print(f"\n## Proofs through the API (median of {args.proofs} requests x {args.runs} processes)\n")
    print("| ledger size | inclusion proof (ms) | consistency proof (ms) | peak RSS (MiB) |")
    print("| --- | --- | --- | --- |")
    for size in sizes:
        inclusion, consistency, peak = figures[size]["proofs"]
        print(f"| {size:,} | {inclusion:.2f} | {consistency:.2f} | {peak:.0f} |")
    print(f"| {large:,} / {small:,} | {ratio('proofs', 0)} | {ratio('proofs', 1)} | {ratio('proofs', 2)} |")
    print(
        f"\n## Export of {args.export_entries:,} filtered entries with proofs, create + download "
        f"(median of {args.runs})\n"
    )
    print("| ledger size | seconds (in process) | entries | peak RSS (MiB) |")
    print("| --- | --- | --- | --- |")
    for size in sizes:
        seconds, peak, count = figures[size]["export"]
        print(f"| {size:,} | {seconds:.2f} | {count:,} | {peak:.0f} |")
    print(f"| {large:,} / {small:,} | {ratio('export', 0)} | | {ratio('export', 1)} |")
    print("\n## verify_ledger (entries, tiles and heads)\n")
    print(
        "| ledger size | entries/s (wall, process start included) | entries per CPU second | peak RSS (MiB) |"
    )
    print("| --- | --- | --- | --- |")
    for size in sizes:
        rate, per_cpu, peak = figures[size]["verify"]
        print(f"| {size:,} | {rate:,.0f} | {per_cpu:,.0f} | {peak:.0f} |")
    print(f"| {large:,} / {small:,} | {ratio('verify', 0)} | {ratio('verify', 1)} | {ratio('verify', 2)} |")
    print("\n## The floor under verify_ledger, measured right after it (entries/s)\n")
    print(
        "| ledger size | rows through a server-side cursor | COPY TO STDOUT "
        "| hashing alone (leaves and tiles) | verify_ledger / COPY |"
    )
    print("| --- | --- | --- | --- | --- |")
    for size in sizes:
        cursor, copy, hashing = figures[size]["floor"]
        print(
            f"| {size:,} | {cursor:,.0f} | {copy:,.0f} | {hashing:,.0f} "
            f"| {figures[size]['verify'][0] / copy:.2f}x |"
        )


if __name__ == "__main__":
    main()
