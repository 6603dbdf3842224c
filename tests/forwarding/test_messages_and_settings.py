"""What reaches a SIEM and how the forwarder is configured: the messages hold what the export
holds and no raw customer reference; bad settings are refused; with no destination (`make run`'s
embedded default) the forwarder idles; the operator dashboard shows each destination's lag."""

from __future__ import annotations

import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.models import LedgerEntry
from complaints.services import open_case, search_sessions
from forwarding.destinations import ForwardingConfigError, configured
from forwarding.models import ForwardCursor
from forwarding.selectors import destination_lags
from forwarding.services import LedgerHole, forward_batch
from forwarding.syslog import DeliveryFailed, SyslogDestination, frame, message, tls_context
from tests.factories import controlled_session
from tests.forwarding.conftest import WEBHOOK_SECRET, HttpsReceiver, Rsyslog, self_signed_certificate
from tests.forwarding.ledger import append_entries
from tests.liveserver import ROOT, service_environment, wait_until
from tests.staff import make_staff

RAW_CUSTOMER_REF = "CUST-RAW-4711-NEVER-FORWARDED"


def configure(settings, *, rsyslog: Rsyslog | None = None, receiver: HttpsReceiver | None = None) -> None:
    settings.LEDGER_SYSLOG_URL = [rsyslog.plain_url, rsyslog.tls_url] if rsyslog else []
    settings.LEDGER_SYSLOG_CA_FILE = str(rsyslog.ca_file) if rsyslog else ""
    settings.LEDGER_WEBHOOK_URL = [receiver.url] if receiver else []
    settings.LEDGER_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.LEDGER_WEBHOOK_CA_FILE = str(receiver.ca_file) if receiver else ""


@pytest.mark.django_db
def test_no_raw_customer_reference_reaches_any_destination(
    settings, rsyslog, https_receiver, recorder_client
) -> None:
    configure(settings, rsyslog=rsyslog, receiver=https_receiver)
    session_id = controlled_session(recorder_client[0], external_id="t-1", customer_ref=RAW_CUSTOMER_REF)
    officer = make_staff("olga", "compliance_officer")
    list(search_sessions(officer=officer, customer_ref=RAW_CUSTOMER_REF))
    open_case(
        officer=officer, customer_ref=RAW_CUSTOMER_REF, channel="phone",
        complaint=f"{RAW_CUSTOMER_REF} says the agent opened files", session_ids=[session_id],
    )  # fmt: skip

    for destination in configured():
        while forward_batch(destination, batch_size=100):
            pass

    received = [message["entry"] for message in rsyslog.received() if message["input"] == "plain"]
    assert {entry["action"] for entry in received} >= {"sessions.searched", "case.opened"}
    assert https_receiver.accepted_entries() == received
    everything = rsyslog.received_file.read_bytes() + b"".join(d.body for d in https_receiver.deliveries)
    assert RAW_CUSTOMER_REF.encode() not in everything
    assert b"agent opened files" not in everything  # nor the complaint's text


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("LEDGER_SYSLOG_URL", ["udp://siem:514"], "tcp://host:port or tls://host:port"),
        ("LEDGER_SYSLOG_URL", ["tcp://"], "tcp://host:port or tls://host:port"),
        ("LEDGER_SYSLOG_URL", ["tcp://siem:notaport"], "no valid port"),
        ("LEDGER_WEBHOOK_URL", ["http://siem/ledger"], "must be an https:// URL"),
    ],
)
def test_a_bad_destination_is_refused_at_start(settings, variable, value, reason) -> None:
    setattr(settings, variable, value)
    with pytest.raises(ForwardingConfigError, match=reason):
        call_command("forward_ledger")


def test_a_webhook_needs_a_long_secret_readable_by_its_owner_only(settings, tmp_path: Path) -> None:
    settings.LEDGER_WEBHOOK_URL = ["https://siem.example/ledger"]
    settings.LEDGER_WEBHOOK_SECRET = ""
    settings.LEDGER_WEBHOOK_SECRET_FILE = ""
    with pytest.raises(ForwardingConfigError, match="needs LEDGER_WEBHOOK_SECRET"):
        configured()
    settings.LEDGER_WEBHOOK_SECRET = "too short"
    with pytest.raises(ForwardingConfigError, match="at least 32"):
        configured()
    settings.LEDGER_WEBHOOK_SECRET = ""
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(WEBHOOK_SECRET + "\n")
    secret_file.chmod(0o644)
    settings.LEDGER_WEBHOOK_SECRET_FILE = str(secret_file)
    with pytest.raises(ForwardingConfigError, match="chmod 600"):
        configured()
    secret_file.chmod(0o600)
    [destination] = configured()
    assert destination.name == "https://siem.example/ledger"


def test_destination_names_keep_no_credentials_or_query(settings) -> None:
    settings.LEDGER_SYSLOG_URL = ["tls://siem.example", "tcp://[::1]:1514"]
    settings.LEDGER_WEBHOOK_URL = ["https://user:pw@siem.example:8443/in?token=abc"]
    settings.LEDGER_WEBHOOK_SECRET = WEBHOOK_SECRET
    assert [d.name for d in configured()] == [
        "tls://siem.example:6514",
        "tcp://[::1]:1514",
        "https://siem.example:8443/in",
    ]


@pytest.mark.slow
def test_without_a_destination_the_forwarder_idles_until_stopped(tmp_path: Path) -> None:
    """`make run` starts every Procfile process under honcho, which stops them all when one ends."""
    env = {
        key: value
        for key, value in service_environment().items()
        if key not in {"LEDGER_SYSLOG_URL", "LEDGER_WEBHOOK_URL", "DATABASE_URL"}
    }
    env["VAULT_DATA_DIR"] = str(tmp_path)  # the embedded default, as `make run` has it
    env["LOG_LEVEL"] = "INFO"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "forward_ledger"], cwd=ROOT, env=env, stderr=subprocess.PIPE
    )
    try:
        assert process.stderr is not None
        # Started once it says so (readline ends at the process's exit too, failing the test).
        line = b""
        while b"no ledger forwarding destination is configured" not in line:
            line = process.stderr.readline()
            assert line, "the forwarder ended without saying it idles"
        time.sleep(2)
        assert process.poll() is None  # still there: honcho keeps the other processes running
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()


@pytest.mark.django_db
def test_the_operator_dashboard_shows_each_destinations_lag(settings, https_receiver) -> None:
    configure(settings, receiver=https_receiver)
    settings.LEDGER_SYSLOG_URL = ["tls://siem.example:6514"]  # configured, never reached
    operator = make_staff("otto", "operator")  # a ledger entry of its own
    last = append_entries(12)
    [_, webhook] = configured()
    assert forward_batch(webhook, batch_size=5) == 5
    client = Client()
    client.force_login(operator)

    page = client.get(reverse("retention:dashboard"))

    lags = {lag.destination: lag.lag_entries for lag in page.context["overview"].forwarding}
    assert lags == {"tls://siem.example:6514": last, https_receiver.url: last - 5}
    html = page.content.decode()
    assert "Ledger forwarding to the SIEM" in html and https_receiver.url in html


@pytest.mark.django_db
def test_a_receiver_whose_certificate_is_not_trusted_gets_nothing(settings, rsyslog, https_receiver) -> None:
    """Without the CA file the self-signed receivers are checked against the system's trust store,
    and refused: the entries are never sent to a server that could be anyone's."""
    configure(settings, rsyslog=rsyslog, receiver=https_receiver)
    settings.LEDGER_SYSLOG_URL = [rsyslog.tls_url]
    settings.LEDGER_SYSLOG_CA_FILE = ""
    settings.LEDGER_WEBHOOK_CA_FILE = ""
    append_entries(3)

    for destination in configured():
        with pytest.raises(DeliveryFailed):
            forward_batch(destination, batch_size=10)

    assert rsyslog.received() == [] and https_receiver.deliveries == []
    assert {cursor.acked_seq for cursor in ForwardCursor.objects.all()} == {0}


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_second_forwarder_stands_by_while_the_first_holds_the_destination(
    https_receiver, forwarders
) -> None:
    env = {
        "LEDGER_WEBHOOK_URL": https_receiver.url,
        "LEDGER_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LEDGER_WEBHOOK_CA_FILE": str(https_receiver.ca_file),
        "LEDGER_FORWARD_BATCH_SIZE": "10",
    }
    last = append_entries(40)
    first = forwarders(**env)
    wait_until(lambda: len(https_receiver.accepted_seqs()) >= last, what="the first forwarder's batches")
    second = forwarders(**env)
    time.sleep(3)  # the second one started and found the destination taken
    more = append_entries(40)

    wait_until(lambda: len(https_receiver.accepted_seqs()) >= more, what="the new entries")
    assert https_receiver.accepted_seqs() == list(range(1, more + 1))  # once each: no one doubled them
    # Killed only once it has stored what the receiver acknowledged: a kill between the two would
    # (rightly) have the stand-by send that batch again, a duplicate this test is not about.
    wait_until(lambda: ForwardCursor.objects.filter(acked_seq__gte=more).exists(), what="the cursor stored")
    first.kill()  # its connection ends, the lock with it: the second one takes over
    newest = append_entries(15)
    wait_until(lambda: len(https_receiver.accepted_seqs()) >= newest, what="the stand-by taking over")
    assert https_receiver.accepted_seqs() == list(range(1, newest + 1))
    assert second.process is not None and second.process.poll() is None


@pytest.mark.django_db
def test_a_hole_in_the_ledger_stops_the_stream_before_it(settings, https_receiver) -> None:
    """A damaged ledger (here: a row written past the next seq, as no writer of the vault does) is
    not papered over: the destination gets everything up to the hole and nothing after it, and
    the lag shows what it is missing."""
    configure(settings, receiver=https_receiver)
    last = append_entries(5)
    stray = LedgerEntry.objects.get(seq=last)
    stray.pk, stray.seq = None, last + 2
    stray.save()
    [webhook] = configured()

    assert forward_batch(webhook, batch_size=100) == last
    with pytest.raises(LedgerHole, match=f"no entry {last + 1}"):
        forward_batch(webhook, batch_size=100)

    assert https_receiver.accepted_seqs() == list(range(1, last + 1))
    [lag] = destination_lags()
    assert (lag.acked_seq, lag.lag_entries) == (last, 2)


def test_syslog_header_fields_fall_back_to_the_nil_value_when_they_cannot_be_spelled() -> None:
    """RFC 5424 section 6: MSGID is at most 32 printable characters, HOSTNAME at most 255; a value
    that does not fit is sent as "-" (the entry itself is complete in the structured data)."""
    fields = {
        "seq": 7, "recorded_at": "2026-12-04T10:00:00.000000Z",
        "actor": {"kind": "job", "id": "purge", "label": "purge"},
        "action": "recording.an_action_name_longer_than_thirty_two", "recording_id": None,
        "session_id": None, "case_id": None, "details": {},
    }  # fmt: skip
    text = message(fields, hostname="a host with spaces").decode()
    assert text.startswith('<109>1 2026-12-04T10:00:00.000000Z - vault-ledger - - [entry@32473 seq="7" ')
    assert 'action="recording.an_action_name_longer_than_thirty_two"' in text
    framed = frame(message({**fields, "details": {"note": "ü"}}, hostname="h"))
    length, _, rest = framed.partition(b" ")
    assert int(length) == len(rest)  # octets, not characters (RFC 6587 section 3.4.1)


def _reading_server(
    read_bytes: int | None, tls: ssl.SSLContext | None = None
) -> tuple[int, threading.Thread, list[bytes]]:
    """A TCP (or TLS) receiver for one connection: reads `read_bytes` octets (None: until the
    sender's end), then closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        with listener, listener.accept()[0] as raw:
            connection = tls.wrap_socket(raw, server_side=True) if tls else raw
            time.sleep(0.5)  # the whole batch is in the buffers by now: the sender is done writing
            data = b""
            while read_bytes is None or len(data) < read_bytes:
                chunk = connection.recv(65536 if read_bytes is None else read_bytes - len(data))
                if not chunk:
                    break
                data += chunk
            received.append(data)
            connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    return listener.getsockname()[1], thread, received


def _entries(count: int) -> list[dict]:
    from audit.canonical import hashed_fields

    now = datetime.now(UTC)
    return [
        hashed_fields(
            seq=seq,
            recorded_at=now,
            actor_kind="job",
            actor_id="purge",
            actor_label="purge",
            action="recording.purged",
            recording_id=None,
            session_id=None,
            case_id=None,
            details={"padding": "x" * 200},
        )
        for seq in range(1, count + 1)
    ]


@pytest.mark.parametrize("encrypted", [False, True], ids=["tcp", "tls"])
def test_a_syslog_batch_counts_only_once_the_receiver_read_all_of_it(encrypted: bool, tmp_path: Path) -> None:
    """Syslog over TCP has no acknowledgement, and the bytes of a batch fit in the kernel's buffers
    long before the receiver reads them: a receiver that stops reading half way (here: it closes
    after 1,000 octets) fails the batch, one that reads to the end confirms it."""
    entries = _entries(100)  # about 40 KB
    server_tls = client_tls = None
    if encrypted:
        cert, key = self_signed_certificate(tmp_path)
        server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_tls.load_cert_chain(cert, key)
        client_tls = tls_context(str(cert))

    def destination(port: int) -> SyslogDestination:
        return SyslogDestination(
            name="t",
            host="localhost",
            port=port,
            tls=client_tls,
            hostname="h",
            sd_id="entry@32473",
            timeout=10,
        )

    port, thread, _ = _reading_server(1000, server_tls)
    with pytest.raises(DeliveryFailed):
        destination(port).send(entries)
    thread.join()

    port, thread, received = _reading_server(None, server_tls)
    destination(port).send(entries)
    thread.join()
    assert received[0].count(b"<109>1 ") == 100
