"""The ledger streamed to a real HTTPS receiver as signed JSON lines, by the forwarder process:
order, signatures, retries of a failing receiver with the lag visible, and a SIGKILL mid-batch."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from audit.exports import ExportFilters, jsonl
from audit.selectors import ledger_tree
from audit.services import build_tiles
from forwarding.models import ForwardCursor
from tests.forwarding.conftest import WEBHOOK_SECRET, HttpsReceiver, first_occurrences, verified
from tests.forwarding.ledger import append_entries
from tests.liveserver import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def webhook_env(receiver: HttpsReceiver, **extra: str) -> dict[str, str]:
    return {
        "LEDGER_WEBHOOK_URL": receiver.url,
        "LEDGER_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "LEDGER_WEBHOOK_CA_FILE": str(receiver.ca_file),
        **extra,
    }


def exported_entries(last: int) -> list[dict]:
    """The entries of an unfiltered export up to `last`, as the export's own code writes them
    (over the tiles, which an export catches up before it reads them)."""
    build_tiles()
    return [json.loads(line)["entry"] for line in jsonl(ExportFilters(), ledger_tree(tree_size=last))]


def test_every_entry_arrives_in_order_as_signed_json_lines_like_the_export(
    https_receiver, forwarders
) -> None:
    last = append_entries(700)
    forwarders(**webhook_env(https_receiver, LEDGER_FORWARD_BATCH_SIZE="200"))

    wait_until(lambda: len(https_receiver.accepted_seqs()) >= last, what="every entry")

    assert https_receiver.accepted_seqs() == list(range(1, last + 1))
    assert https_receiver.accepted_entries() == exported_entries(last)
    assert [len(d.body.splitlines()) for d in https_receiver.deliveries] == [200, 200, 200, 100]
    assert all(verified(delivery) for delivery in https_receiver.deliveries)
    # The signature binds the body to the secret: another key, or a changed body, does not verify.
    assert not verified(https_receiver.deliveries[0], secret="another secret of 32 characters or more")
    tampered = https_receiver.deliveries[0]
    tampered.body = tampered.body.replace(b'"seq":1,', b'"seq":9,')
    assert not verified(tampered)


def test_a_receiver_answering_500_is_retried_and_the_metric_shows_the_lag(
    https_receiver, forwarders, settings, data_dir, age_keys
) -> None:
    settings.OBJECT_STORE = "local"  # /readyz checks the store and the recipients too
    settings.LEDGER_WEBHOOK_URL = [https_receiver.url]  # the web process reads the same variables
    https_receiver.status = 500
    last = append_entries(30)
    forwarders(**webhook_env(https_receiver))

    wait_until(lambda: len(https_receiver.deliveries) >= 3, what="the batch sent again")
    assert https_receiver.accepted_seqs() == []
    # Each retry is the same batch from the cursor: seq 1 on.
    assert {delivery.body.splitlines()[0].count(b'"seq":1,') for delivery in https_receiver.deliveries} == {1}
    name = https_receiver.url
    metrics = Client().get("/metrics").content.decode()
    assert f'vault_ledger_forward_lag_entries{{destination="{name}"}} {last}.0' in metrics
    ready = Client().get("/readyz")
    assert ready.status_code == 200  # a SIEM outage does not take the node out of the balancer
    detail = ready.json()["checks"]["ledger_forwarding"]["detail"]
    assert f"{name}: {last} entries behind" in detail and "failing since" in detail
    assert "HTTP 500" in ForwardCursor.objects.get(destination=name).last_error

    https_receiver.status = 200
    wait_until(
        lambda: len(https_receiver.accepted_seqs()) >= last, what="delivery once the receiver recovers"
    )
    assert https_receiver.accepted_seqs() == list(range(1, last + 1))
    wait_until(
        lambda: (
            f'vault_ledger_forward_lag_entries{{destination="{name}"}} 0.0'
            in Client().get("/metrics").content.decode()
        ),
        what="the lag back to 0",
    )
    cursor = ForwardCursor.objects.get(destination=name)
    assert cursor.acked_seq == last and cursor.failing_since is None and cursor.last_error == ""


def test_forwarder_killed_mid_batch_loses_nothing(https_receiver, forwarders) -> None:
    last = append_entries(250)
    https_receiver.hold = True  # the receiver reads the first batch and keeps the forwarder waiting
    forwarder = forwarders(**webhook_env(https_receiver, LEDGER_FORWARD_BATCH_SIZE="100"))
    assert https_receiver.arrived.wait(timeout=60)

    forwarder.kill()  # SIGKILL with the batch sent and not confirmed
    assert ForwardCursor.objects.get(destination=https_receiver.url).acked_seq == 0
    https_receiver.hold = False
    https_receiver.release.set()  # the held batch is now stored by the receiver all the same
    forwarders(**webhook_env(https_receiver, LEDGER_FORWARD_BATCH_SIZE="100"))

    wait_until(lambda: set(https_receiver.accepted_seqs()) >= set(range(1, last + 1)), what="every entry")
    seqs = https_receiver.accepted_seqs()
    assert first_occurrences(seqs) == list(range(1, last + 1))
    assert seqs.count(1) == 2  # the batch under way at the kill was sent again: a duplicate, no gap
    wait_until(
        lambda: ForwardCursor.objects.get(destination=https_receiver.url).acked_seq == last,
        what="the cursor at the end",
    )
