"""Ingest benchmark: HTTP upload into the local-folder store vs. `age -r` on the same file and disk.

Prints throughput (MB/s, medians over several runs, alternating vault and age so both see the
same machine noise), the ratio vault/age, the serving process's peak memory (VmHWM) for single
uploads of growing size, and twenty concurrent uploads. Run: `make bench` or
`.venv/bin/python bench/ingest.py --sizes 100M,1G --memory-sizes 1G,4G`. `--smoke` runs every
part with 1 MiB uploads, in seconds (`make bench-smoke`, CI): it checks the script, not a figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def parse_size(text: str) -> int:
    text = text.strip().upper()
    return int(text[:-1]) * UNITS[text[-1]] if text[-1] in UNITS else int(text)


def human(size: int) -> str:
    for unit in ("G", "M", "K"):
        if size >= UNITS[unit] and size % UNITS[unit] == 0:
            return f"{size // UNITS[unit]} {unit}iB"
    return f"{size} B"


def make_input(path: Path, size: int) -> None:
    """Incompressible bytes: 16 random MiB blocks cycled (sealing cost does not depend on content)."""
    blocks = [os.urandom(1024**2) for _ in range(16)]
    with open(path, "wb") as handle:
        written = 0
        index = 0
        while written < size:
            block = blocks[index % 16][: size - written]
            handle.write(block)
            written += len(block)
            index += 1


def wait_for(probe: Callable[[], object], seconds: float = 30) -> None:
    """Call `probe` until it stops raising OSError (a server coming up), for at most `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            probe()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


class Vault:
    """The real service on its embedded default in a scratch VAULT_DATA_DIR, served by gunicorn."""

    def __init__(
        self, data_dir: Path, *, workers: int = 1, threads: int = 4, database_url: str | None = None
    ) -> None:
        self.data_dir = data_dir
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if k not in {"DATABASE_URL", "CELERY_BROKER_URL", "S3_BUCKET"}
            },
            "VAULT_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "LOG_LEVEL": "WARNING",
            "RECORDING_MAX_BYTES": str(16 * 1024**3),
        }
        if database_url:  # a database of its own, made and dropped by the caller
            self.env["DATABASE_URL"] = database_url
        self.workers, self.threads = workers, threads
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str) -> str:
        result = subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, check=True
        )
        return result.stdout

    def prepare(self) -> str:
        self.manage("migrate", "--noinput", "--verbosity", "0")
        self.manage("init_keys")
        return self.manage("create_recorder_client", f"bench-{os.getpid()}").strip().splitlines()[-1]

    def recipient(self) -> str:
        return (self.data_dir / "keys" / "age-recipients.txt").read_text().split()[0]

    @contextmanager
    def serving(self) -> Iterator[Vault]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--worker-class", "gthread", "--workers", str(self.workers), "--threads", str(self.threads),
             "--timeout", "600"],
            cwd=ROOT, env=self.env, start_new_session=True,
        )  # fmt: skip
        wait_for(lambda: urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/schema", timeout=2))
        try:
            yield self
        finally:
            os.killpg(self.process.pid, 15)
            self.process.wait(timeout=30)

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == self.process.pid:
                    children.append(int(entry.name))
        return children

    def peak_rss_mib(self) -> float:
        """Largest VmHWM (peak resident set) among the gunicorn workers, in MiB."""
        peaks = []
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks.append(int(line.split()[1]) / 1024)
        return max(peaks)


def api(
    port: int, token: str, method: str, path: str, body: Mapping[str, object] | None = None
) -> dict[str, object]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return dict(json.loads(answer.read()))


def new_session(port: int, token: str, n: int) -> str:
    now = datetime.now(UTC)
    payload = {
        "external_id": f"bench-{time.time_ns()}-{n}",
        "customer_ref": f"C-{n}",
        "agent_ref": "A-1",
        "initiated_by": "customer",
        "started_at": (now - timedelta(minutes=5)).isoformat(),
        "consent": {"granted_at": (now - timedelta(minutes=6)).isoformat(), "view": True, "control": True},
    }
    return str(api(port, token, "POST", "/api/v1/sessions", payload)["id"])


def upload(port: int, token: str, session_id: str, path: Path) -> tuple[int, float]:
    """PUT the file with sendfile(2): the client costs next to nothing, the server is measured."""
    size = path.stat().st_size
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock, open(path, "rb") as handle:
        head = (
            f"PUT /api/v1/sessions/{session_id}/recording HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: video/webm\r\nContent-Length: {size}\r\n"
            "Connection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        sock.sendfile(handle)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    elapsed = time.perf_counter() - started
    return int(answer.split(b" ", 2)[1]), elapsed


def age_encrypt(age: str, recipient: str, source: Path, target: Path, *, durable: bool) -> float:
    """`age -r` to a file; with `durable`, also fsync the result, as the vault does before its 201."""
    started = time.perf_counter()
    subprocess.run([age, "-r", recipient, "-o", str(target), str(source)], check=True)
    if durable:
        fd = os.open(target, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    elapsed = time.perf_counter() - started
    target.unlink()
    return elapsed


def throughput(args: argparse.Namespace, work: Path, age: str) -> None:
    print("\n## Ingest throughput (HTTP API -> age sealer -> local folder store) vs `age -r`")
    print("The vault fsyncs before it answers 201; `age` alone does not, so both baselines are shown.\n")
    print("| size | runs | vault MB/s | age MB/s | vault / age | age + fsync MB/s | vault / (age + fsync) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    vault = Vault(work / "vault-throughput")
    token = vault.prepare()
    with vault.serving():
        for size in args.sizes:
            source = work / f"input-{size}.bin"
            make_input(source, size)
            times: dict[str, list[float]] = {"vault": [], "age": [], "age+fsync": []}
            order = list(times)
            for run in range(args.runs):
                # The order turns each run: on a virtual disk, whatever follows a large fsync or
                # unlink pays for the host's writeback, and no contender should always be that one.
                for name in order[run % 3 :] + order[: run % 3]:
                    os.sync()  # nothing dirty in the page cache: none pays for another's writeback
                    if name == "vault":
                        status, seconds = upload(
                            vault.port, token, new_session(vault.port, token, run), source
                        )
                        assert status == 201, f"upload answered {status}"
                    else:
                        durable = name == "age+fsync"
                        seconds = age_encrypt(
                            age, vault.recipient(), source, work / "age.age", durable=durable
                        )
                    times[name].append(seconds)
            vault_times, age_times, durable_times = times["vault"], times["age"], times["age+fsync"]
            shutil.rmtree(vault.data_dir / "objects", ignore_errors=True)
            source.unlink()
            vault_mbs = size / 1e6 / statistics.median(vault_times)
            age_mbs = size / 1e6 / statistics.median(age_times)
            durable_mbs = size / 1e6 / statistics.median(durable_times)
            print(
                f"| {human(size)} | {args.runs} | {vault_mbs:.0f} | {age_mbs:.0f} "
                f"| {vault_mbs / age_mbs:.2f}x "
                f"| {durable_mbs:.0f} | {vault_mbs / durable_mbs:.2f}x |"
            )


def memory(args: argparse.Namespace, work: Path) -> None:
    print("\n## Peak memory of the serving process (gunicorn worker VmHWM), one upload per fresh server")
    print("| upload | worker peak RSS, idle after start (MiB) | worker peak RSS after upload (MiB) |")
    print("| --- | --- | --- |")
    for size in args.memory_sizes:
        vault = Vault(work / f"vault-memory-{size}")
        token = vault.prepare()
        source = work / f"memory-{size}.bin"
        make_input(source, size)
        with vault.serving():
            session_id = new_session(vault.port, token, 0)  # warms the worker up
            idle = vault.peak_rss_mib()
            status, _ = upload(vault.port, token, session_id, source)
            assert status == 201, f"upload answered {status}"
            print(f"| {human(size)} | {idle:.0f} | {vault.peak_rss_mib():.0f} |")
        source.unlink()
        shutil.rmtree(vault.data_dir, ignore_errors=True)


def concurrent(args: argparse.Namespace, work: Path) -> None:
    count, size = args.concurrent, args.concurrent_size
    print(f"\n## {count} concurrent uploads of {human(size)} (one gunicorn worker, {count} threads)")
    vault = Vault(work / "vault-concurrent", workers=1, threads=count)
    token = vault.prepare()
    source = work / "concurrent.bin"
    make_input(source, size)
    with vault.serving():
        sessions = [new_session(vault.port, token, n) for n in range(count)]
        idle = vault.peak_rss_mib()
        results: list[tuple[int, float]] = []
        lock = threading.Lock()

        def one(session_id: str) -> None:
            outcome = upload(vault.port, token, session_id, source)
            with lock:
                results.append(outcome)

        started = time.perf_counter()
        threads = [threading.Thread(target=one, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - started
        ok = sum(1 for status, _ in results if status == 201)
        print("| uploads | succeeded | wall time (s) | aggregate MB/s | worker peak RSS idle / after (MiB) |")
        print("| --- | --- | --- | --- | --- |")
        print(
            f"| {count} | {ok} | {wall:.1f} | {count * size / 1e6 / wall:.0f} "
            f"| {idle:.0f} / {vault.peak_rss_mib():.0f} |"
        )
    source.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100M,1G", help="throughput sizes, e.g. 100M,1G")
    parser.add_argument(
        "--runs",
        type=int,
        default=6,
        help="samples of each contender; a multiple of 3 gives each order alike",
    )
    parser.add_argument("--memory-sizes", default="1G,4G")
    parser.add_argument("--concurrent", type=int, default=20)
    parser.add_argument("--concurrent-size", default="50M")
    parser.add_argument("--only", choices=["throughput", "memory", "concurrent"], default=None)
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temp dir on /tmp's disk)")
    parser.add_argument(
        "--smoke", action="store_true", help="1 MiB uploads, 1 run, 2 concurrent: seconds (CI)"
    )
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.runs, args.memory_sizes = "1M", 1, "1M"
        args.concurrent, args.concurrent_size = 2, "1M"
    args.sizes = [parse_size(s) for s in args.sizes.split(",")]
    args.memory_sizes = [parse_size(s) for s in args.memory_sizes.split(",")]
    args.concurrent_size = parse_size(args.concurrent_size)
    age = shutil.which("age")
    if age is None:
        sys.exit("bench/ingest.py needs the age CLI for its baseline: apt-get install age")
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="vault-bench-") as scratch:
        work = Path(scratch)
        print(
            f"# Ingest benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
            f"scratch {work}"
        )
        if args.only in (None, "throughput"):
            throughput(args, work, age)
        if args.only in (None, "memory"):
            memory(args, work)
        if args.only in (None, "concurrent"):
            concurrent(args, work)


if __name__ == "__main__":
    main()
