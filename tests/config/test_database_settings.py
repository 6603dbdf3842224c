"""PostgreSQL connections bind parameters on the server and prepare the statements they repeat
(a playback's grant check is then not planned again on every Range request); DB_PREPARED_STATEMENTS
turns that off for a PgBouncer that cannot keep prepared statements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import run_under_settings

PRINT_OPTIONS = (
    "import json; from django.conf import settings; "
    "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
)


def database_options(tmp_path: Path, **env: str) -> dict[str, object]:
    """The default database's OPTIONS as config.settings builds them under `env`."""
    answer = run_under_settings(
        PRINT_OPTIONS, tmp_path, without=("DATABASE_URL", "DB_PREPARED_STATEMENTS"), **env
    )
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))


def test_postgresql_prepares_unless_turned_off_and_sqlite_is_untouched(tmp_path: Path) -> None:
    server = "postgres://vault@db.internal:5432/vault"
    prepared = database_options(tmp_path, DATABASE_URL=server)
    assert prepared["server_side_binding"] is True and prepared["prepare_threshold"] == 5
    off = database_options(tmp_path, DATABASE_URL=server, DB_PREPARED_STATEMENTS="false")
    assert "server_side_binding" not in off and "prepare_threshold" not in off
    embedded = database_options(tmp_path)
    assert "server_side_binding" not in embedded and embedded["transaction_mode"] == "IMMEDIATE"


@pytest.mark.postgres
@pytest.mark.django_db
def test_a_statement_a_connection_repeats_is_prepared_by_the_server() -> None:
    with connection.cursor() as cursor:
        for value in range(6):
            cursor.execute("SELECT %s::int AS repeated_statement_marker", [value])
            assert cursor.fetchone() == (value,)
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%repeated_statement_marker%"],
        )
        assert cursor.fetchone() == (1,)
