"""An index added to the ledger while it keeps taking entries: `CREATE INDEX CONCURRENTLY` on
PostgreSQL (a plain build holds off every append for as long as it reads the table: minutes at
tens of millions of entries), the plain build elsewhere (SQLite has one writer anyway)."""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations.operations import AddIndex


class AddIndexOnline(AddIndexConcurrently):
    """`AddIndexConcurrently` where the database has it, `AddIndex` where it has not. The migration
    that uses it must say `atomic = False` (PostgreSQL builds concurrently outside a transaction)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, from_state, to_state)
