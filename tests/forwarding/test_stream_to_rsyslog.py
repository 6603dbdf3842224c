"""The ledger streamed to a real rsyslog over TCP (plain and TLS), by the forwarder process."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from audit.canonical import entry_fields
from audit.models import LedgerEntry
from tests.forwarding.conftest import Rsyslog, first_occurrences
from tests.forwarding.ledger import append_entries
from tests.liveserver import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def syslog_env(rsyslog: Rsyslog, **extra: str) -> dict[str, str]:
    return {
        "LEDGER_SYSLOG_URL": f"{rsyslog.plain_url},{rsyslog.tls_url}",
        "LEDGER_SYSLOG_CA_FILE": str(rsyslog.ca_file),
        "LEDGER_SYSLOG_HOSTNAME": "vault-test",
        **extra,
    }


def test_every_entry_arrives_once_in_seq_order_over_tcp_and_tls(rsyslog, forwarders) -> None:
    last = append_entries(1200)
    forwarders(**syslog_env(rsyslog, LEDGER_FORWARD_BATCH_SIZE="100"))

    wait_until(lambda: len(rsyslog.received()) >= 2 * last, what="every entry at both inputs")

    assert rsyslog.seqs("plain") == list(range(1, last + 1))
    assert rsyslog.seqs("tls") == list(range(1, last + 1))
    # What the SIEM indexed is the entry as the export carries it, and parsed as RFC 5424.
    exported = {e.seq: entry_fields(e) for e in LedgerEntry.objects.all()}
    for message in rsyslog.received():
        entry = message["entry"]
        assert entry == exported[entry["seq"]]
        assert message["pri"] == "109" and message["app"] == "vault-ledger"
        assert message["hostname"] == "vault-test" and message["msgid"] == entry["action"]
        assert message["timestamp"] == entry["recorded_at"]
        params = message["sd"]["entry@32473"]
        assert params["seq"] == str(entry["seq"])
        assert params["actorLabel"] == entry["actor"]["label"]
        assert params["recordingId"] == entry["recording_id"]
        assert params["details"].encode() == _canonical(entry["details"])
        assert "caseId" not in params  # a null id is left out, as RFC 5424 has no null


def _canonical(value: object) -> bytes:
    from audit.canonical import canonical_bytes

    return canonical_bytes(value)  # type: ignore[arg-type]


def test_rsyslog_stopped_mid_stream_and_started_again_loses_nothing(rsyslog, forwarders) -> None:
    forwarders(**syslog_env(rsyslog, LEDGER_FORWARD_BATCH_SIZE="20"))
    stop_writing = threading.Event()
    last = [0]

    def keep_appending() -> None:
        from django.db import connection

        while not stop_writing.is_set():
            last[0] = append_entries(10)
            stop_writing.wait(0.02)
        connection.close()

    writer = threading.Thread(target=keep_appending)
    writer.start()
    try:
        wait_until(lambda: len(rsyslog.seqs("tls")) >= 100, what="the stream under way")
        rsyslog.stop()
        stopped_at = len(rsyslog.received())
        wait_until(lambda: last[0] > stopped_at + 200, what="entries written while rsyslog is down")
        rsyslog.start()
    finally:
        stop_writing.set()
        writer.join()

    final = last[0]
    for name in ("plain", "tls"):
        wait_until(partial(rsyslog.has_every, name, final), what=f"1..{final} at {name}")
        seqs = rsyslog.seqs(name)
        # Resent batches may repeat seqs; without repeats it is 1..final, in order: no gap.
        assert first_occurrences(seqs) == list(range(1, final + 1))
    assert stopped_at < final


def test_forwarder_killed_mid_stream_resumes_without_loss(rsyslog, forwarders) -> None:
    last = append_entries(3000)
    forwarder = forwarders(**syslog_env(rsyslog, LEDGER_FORWARD_BATCH_SIZE="50"))
    wait_until(lambda: len(rsyslog.seqs("plain")) >= 300, what="the stream under way")
    forwarder.kill()
    killed_at = len(rsyslog.seqs("plain"))
    assert killed_at < last

    forwarders(**syslog_env(rsyslog, LEDGER_FORWARD_BATCH_SIZE="50"))
    for name in ("plain", "tls"):
        wait_until(partial(rsyslog.has_every, name, last), what=f"1..{last} at {name}")
        assert first_occurrences(rsyslog.seqs(name)) == list(range(1, last + 1))
