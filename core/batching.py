"""Statements whose parameter count does not grow with the data.

PostgreSQL's extended protocol carries the number of bound parameters in 16 bits, so with
server-side binding (`DB_PREPARED_STATEMENTS`, the default) no statement may bind more than
65,535 (PostgreSQL protocol, "Bind" message: Int16 count of parameter values). A list of ids is
therefore bound as ONE array parameter (`any_of`: `col = ANY(%s)`), and many rows are written in
batches sized to the limit (`rows_per_statement`). Both work on SQLite too, the embedded default.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from django.db import NotSupportedError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F, Lookup, Model
from django.db.models.expressions import Expression
from django.db.models.sql.compiler import SQLCompiler

T = TypeVar("T")

MAX_PARAMETERS = 65_535
# Room for the parameters a statement binds besides its rows (a WHERE clause, RETURNING ...).
_HEADROOM = 35


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """`items` in lists of at most `size` (itertools.batched arrives with Python 3.12)."""
    if size < 1:
        raise ValueError("batch size must be at least 1")
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def rows_per_statement(columns: int, *, limit: int = MAX_PARAMETERS) -> int:
    """How many rows of `columns` values one INSERT (`bulk_create(batch_size=...)`) may carry."""
    return max(1, (limit - _HEADROOM) // max(1, columns))


class AnyOf(Lookup):  # type: ignore[type-arg]
    """`column = ANY(array)`: a list of any length bound as one parameter.

    On PostgreSQL the list is one array parameter cast to the column's type; the statement's text
    is the same for every length, so a prepared statement serves them all (an `IN (%s, %s, ...)`
    list is a new statement for each length). On SQLite the list is one JSON text, unpacked by
    `json_each` (JSON1 is built in, as JSONField already requires).
    """

    lookup_name = "any"
    prepare_rhs = False
    can_use_none_as_rhs = False

    def get_prep_lookup(self) -> Any:
        return list(self.rhs)

    def _values(self, connection: BaseDatabaseWrapper) -> list[Any]:
        field = self.lhs.output_field
        return [field.get_db_prep_value(value, connection, prepared=False) for value in self.rhs]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        lhs, params = self.process_lhs(compiler, connection)
        element = self.lhs.output_field.db_type(connection)
        return f"{lhs} = ANY(%s::{element}[])", (*params, self._values(connection))

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper
    ) -> tuple[str, tuple[Any, ...]]:
        lhs, params = self.process_lhs(compiler, connection)
        sql = f"{lhs} IN (SELECT value FROM json_each(%s))"  # noqa: S608 - lhs: the compiler's column
        return sql, (*params, json.dumps(self._values(connection)))

    def as_sql(self, compiler: SQLCompiler, connection: BaseDatabaseWrapper) -> tuple[str, tuple[Any, ...]]:
        raise NotSupportedError(f"any_of() is written for PostgreSQL and SQLite, not {connection.vendor}")


def any_of(column: str | Expression, values: Sequence[Any] | Iterable[Any]) -> AnyOf:
    """A filter `column IN values` that binds one parameter however many `values` there are:
    `Recording.objects.filter(any_of("id", ids))`."""
    return AnyOf(F(column) if isinstance(column, str) else column, list(values))


def bulk_batch_size(model: type[Model]) -> int:
    """`bulk_create(batch_size=...)` for rows of `model`: as many as one statement can bind."""
    return rows_per_statement(len(model._meta.concrete_fields))
