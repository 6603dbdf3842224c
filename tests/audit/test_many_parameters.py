"""PostgreSQL with server-side binding (DB_PREPARED_STATEMENTS, on by default) refuses a statement
with more than 65,535 parameters: the ledger's batch appends, tiles and exports must bind a bounded
number whatever their size (issue 23). Driven here at 70,000 entries. How long that takes is a
benchmark's figure, not a test's: the timeout only stops a hang."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from audit.models import LedgerEntry, SignedTreeHead
from audit.services import Actor, Event, record_events, sign_tree_head

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db, pytest.mark.timeout(900)]
LIMIT = 65_535
MANY = 70_000


@contextmanager
def largest_statement() -> Iterator[list[int]]:
    """The most parameters any statement on this connection binds while inside."""
    largest = [0]

    def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        if params is not None and not many:
            largest[0] = max(largest[0], len(params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        yield largest


def test_server_side_binding_is_on_for_this_run() -> None:
    assert connection.settings_dict["OPTIONS"].get("server_side_binding") is True


def test_a_ledger_batch_of_70000_events_and_its_head_bind_a_bounded_number_of_parameters() -> None:
    events = [Event("test.appended", Actor.job("batch"), {"n": n}) for n in range(MANY)]
    with largest_statement() as largest:
        assert record_events(events) == MANY
        head, _ = sign_tree_head(trigger=SignedTreeHead.Trigger.COMMAND)
    assert head.tree_size == MANY and largest[0] <= LIMIT
    assert LedgerEntry.objects.count() == MANY


def test_an_export_of_70000_entries_binds_a_bounded_number_of_parameters(auditor: APIClient) -> None:
    record_events([Event("test.appended", Actor.job("batch"), {"n": n}) for n in range(MANY)])
    with largest_statement() as largest:
        response = auditor.post("/api/v1/audit/exports", {"action": "test.appended"}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["count"] == MANY
        download = auditor.get(response.json()["links"]["jsonl"])
        lines = sum(chunk.count(b"\n") for chunk in download.streaming_content)
    assert lines == MANY and largest[0] <= LIMIT
