"""The SIEM side of the forwarding tests, all real: Debian's rsyslog in its own process (own
config, pid file, work folder and ports in the test's folder, writing what it receives to a file),
an HTTPS receiver in the test process (a self-signed certificate made with `cryptography`), and
the forwarder itself as `manage.py forward_ledger` in its own process, which a test can SIGKILL."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import free_port, require
from tests.liveserver import ROOT, service_environment, wait_until

RSYSLOGD = "/usr/sbin/rsyslogd"
WEBHOOK_SECRET = "a webhook secret of the test, 32+ characters long"
BOM = "\ufeff"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(certificate, key) PEM files for localhost and 127.0.0.1; the certificate is its own CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


# rsyslog parses each RFC 5424 message itself (mmpstrucdata: the structured data as JSON) and
# writes one JSON object a line: what a SIEM would index.
RSYSLOG_CONFIG = """
global(workDirectory="{work}" maxMessageSize="64k"
       DefaultNetstreamDriverCAFile="{cert}"
       DefaultNetstreamDriverCertFile="{cert}"
       DefaultNetstreamDriverKeyFile="{key}")
module(load="imtcp")
module(load="mmpstrucdata")
template(name="entry" type="list" option.jsonf="on") {{
  property(outname="pri" name="pri" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="$!rfc5424-sd" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="input" name="inputname" format="jsonf")
}}
ruleset(name="ledger") {{
  action(type="mmpstrucdata" sd_name.lowercase="off")
  action(type="omfile" file="{received}" template="entry")
}}
input(type="imtcp" address="127.0.0.1" port="{plain_port}" ruleset="ledger" name="plain")
input(type="imtcp" address="127.0.0.1" port="{tls_port}" ruleset="ledger" name="tls"
      StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
"""


class Rsyslog:
    """rsyslogd in the foreground (-n) with the config above; stop() and start() again keep its
    ports and append to the same file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.plain_port, self.tls_port = free_port(), free_port()
        self.ca_file, key = self_signed_certificate(folder / "tls")
        self.received_file = folder / "received.jsonl"
        (folder / "work").mkdir(parents=True, exist_ok=True)
        self.config = folder / "rsyslog.conf"
        self.config.write_text(
            RSYSLOG_CONFIG.format(
                work=folder / "work",
                cert=self.ca_file,
                key=key,
                received=self.received_file,
                plain_port=self.plain_port,
                tls_port=self.tls_port,
            )
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def plain_url(self) -> str:
        return f"tcp://127.0.0.1:{self.plain_port}"

    @property
    def tls_url(self) -> str:
        return f"tls://localhost:{self.tls_port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(self.config), "-i", str(self.folder / "rsyslogd.pid")],
            stdout=subprocess.DEVNULL,
            stderr=(self.folder / "rsyslogd.log").open("ab"),
        )
        for port in (self.plain_port, self.tls_port):
            wait_until(partial(_accepts, port), timeout=20, what=f"rsyslog on port {port}")

    def stop(self) -> None:
        """SIGTERM, as an operator stops it: rsyslog closes its connections and exits."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None

    def received(self) -> list[dict[str, Any]]:
        """Every message written so far, its structured data and message parsed."""
        if not self.received_file.exists():
            return []
        messages = []
        # Only whole lines: rsyslog may be writing the last one while this reads the file.
        text = self.received_file.read_bytes().decode("utf-8", errors="replace")
        for line in text[: text.rfind("\n") + 1].splitlines():
            record = json.loads(line)
            record["sd"] = json.loads(record["sd"]) if record["sd"] else {}
            record["entry"] = json.loads(record["msg"].removeprefix(BOM))
            messages.append(record)
        return messages

    def seqs(self, input_name: str) -> list[int]:
        return [m["entry"]["seq"] for m in self.received() if m["input"] == input_name]

    def has_every(self, input_name: str, last: int) -> bool:
        """Whether every seq from 1 to `last` arrived at the input."""
        return set(self.seqs(input_name)) >= set(range(1, last + 1))


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    require(os.path.exists(RSYSLOGD), "rsyslogd", "apt-get install rsyslog rsyslog-openssl")
    require(
        any(Path("/usr/lib").glob("*/rsyslog/lmnsd_ossl.so")),
        "rsyslog's TLS driver",
        "apt-get install rsyslog-openssl",
    )
    server = Rsyslog(tmp_path / "rsyslog")
    server.start()
    yield server
    server.stop()


@dataclass
class Delivery:
    body: bytes
    signature: str
    status: int | None = None  # what the receiver answered; None: it never answered


@dataclass
class HttpsReceiver:
    """A SIEM's HTTPS intake: answers `status` to every POST, or holds each request until
    `release` is set when `hold` is on. Keeps every request it read."""

    url: str
    ca_file: Path
    status: int = 200
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    deliveries: list[Delivery] = field(default_factory=list)

    def accepted_entries(self) -> list[dict[str, Any]]:
        """The entries of every request answered 2xx, in the order they arrived."""
        return [
            json.loads(line)
            for delivery in list(self.deliveries)
            if delivery.status is not None and 200 <= delivery.status < 300
            for line in delivery.body.splitlines()
        ]

    def accepted_seqs(self) -> list[int]:
        return [entry["seq"] for entry in self.accepted_entries()]


@pytest.fixture
def https_receiver(tmp_path: Path) -> Iterator[HttpsReceiver]:
    cert, key = self_signed_certificate(tmp_path / "receiver-tls")
    port = free_port()
    receiver = HttpsReceiver(url=f"https://localhost:{port}/ledger", ca_file=cert)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            delivery = Delivery(body=body, signature=self.headers.get("X-Vault-Signature-256", ""))
            receiver.deliveries.append(delivery)
            receiver.arrived.set()
            if receiver.hold:
                receiver.release.wait(timeout=60)
            delivery.status = receiver.status
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()


def verified(delivery: Delivery, secret: str = WEBHOOK_SECRET) -> bool:
    """What a receiver does with the signature header: HMAC-SHA256 of the body, compared in
    constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), delivery.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, delivery.signature)


class Forwarder:
    """`manage.py forward_ledger` in its own process (and process group) on the test database."""

    def __init__(self, **env: str) -> None:
        self.env = service_environment(
            LEDGER_FORWARD_POLL_SECONDS="0.05",
            LEDGER_FORWARD_BACKOFF_INITIAL_SECONDS="0.1",
            LEDGER_FORWARD_BACKOFF_MAX_SECONDS="0.5",
            LEDGER_FORWARD_TIMEOUT_SECONDS="10",
            **env,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Forwarder:
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "forward_ledger"], cwd=ROOT, env=self.env, start_new_session=True
        )
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup runs, the batch under way is neither finished nor recorded."""
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process = None
        return code


@pytest.fixture
def forwarders() -> Iterator[Callable[..., Forwarder]]:
    """Start forwarder processes; whatever is left running is killed at the end."""
    started: list[Forwarder] = []

    def start(**env: str) -> Forwarder:
        forwarder = Forwarder(**env).start()
        started.append(forwarder)
        return forwarder

    yield start
    for forwarder in started:
        forwarder.kill()


def first_occurrences(seqs: list[int]) -> list[int]:
    """The seqs with repeats removed (a batch resent after a failure repeats seqs: at least once)."""
    seen: set[int] = set()
    return [seq for seq in seqs if not (seq in seen or seen.add(seq))]  # type: ignore[func-returns-value]
