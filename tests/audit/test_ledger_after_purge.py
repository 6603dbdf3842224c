"""Pseudonymisation on purge must not break verification: the ledger holds ids and keyed hashes,
never raw customer references, so nothing in it is rewritten when a session is pseudonymised."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.models import SignedTreeHead
from audit.services import sign_tree_head
from recorder.models import Session
from retention.services import purge_expired
from tests.audit.test_export import export, verdict
from tests.audit.test_verify_ledger import verify_ledger

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("store_kind", ["local"], indirect=True)
def test_a_ledger_signed_before_a_purge_still_verifies_after_it(
    recording_maker,
    store,
    auditor,
    tmp_path: Path,
) -> None:
    recordings = recording_maker(3)
    customer_refs = [Session.objects.get(pk=r.session_id).customer_ref for r in recordings]
    sign_tree_head(trigger=SignedTreeHead.Trigger.SCHEDULE)
    run = purge_expired()
    assert run.purged == 3
    assert "Ledger verified" in verify_ledger()
    files = export(auditor, tmp_path, recording_id=str(recordings[0].id))
    code, output = verdict(files)
    assert code == 0, output
    everything = export(auditor, tmp_path, name="all")
    text = everything["jsonl"].read_text() + everything["csv"].read_text()
    assert verdict(everything)[0] == 0
    assert all(ref and ref not in text for ref in customer_refs)
