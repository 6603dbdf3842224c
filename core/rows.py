"""Model instances from SQL written once: the few lookups every Range request of a player makes.

Building a query through the ORM costs more than the database takes to answer it (0.1-0.15 ms a
lookup on the machines we measure on), and `Model.objects.raw()` pays most of that again to map
its columns. `RowReader` does that mapping once per model and database: it reads the model's
concrete fields, in order, and then any extra columns, converting each value as the ORM would
(the database backend's converters, then the field's), and builds the instance with
`Model.from_db`, as a queryset does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]


def column_of(field: Any) -> str:
    """The database column of a concrete field."""
    column = field.column
    assert isinstance(column, str), f"{field} has no column"
    return column


@dataclass(frozen=True)
class RowReader:
    model: type[Model]
    alias: str
    attnames: tuple[str, ...]
    extras: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]

    def columns(self, table_alias: str) -> str:
        """The SELECT list of the model's fields (qualified by `table_alias`), in reading order."""
        quote = connections[self.alias].ops.quote_name
        return ", ".join(f"{table_alias}.{quote(column_of(f))}" for f in self.model._meta.concrete_fields)

    def fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The instances of the rows `sql` selects: the model's fields first, as `columns()` lists
        them, then the extras, set as attributes. Run on this thread's connection to the database,
        the one the reader was made for."""
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return [self._instance(row, connection) for row in rows]

    def _instance(self, row: Sequence[Any], connection: BaseDatabaseWrapper) -> Any:
        values = list(row)
        for index, converters, expression in self.converters:
            value = values[index]
            for convert in converters:
                value = convert(value, expression, connection)
            values[index] = value
        count = len(self.attnames)
        instance = self.model.from_db(self.alias, list(self.attnames), values[:count])
        for name, value in zip(self.extras, values[count:], strict=True):
            setattr(instance, name, value)
        return instance


# Per connection object (each thread has its own): a backend's converters are bound to it.
_readers: WeakKeyDictionary[BaseDatabaseWrapper, dict[tuple[type[Model], tuple[str, ...]], RowReader]]
_readers = WeakKeyDictionary()


def row_reader(model: type[M], alias: str, extras: tuple[str, ...] = ()) -> RowReader:
    """The reader of `model`'s rows on database `alias` (this thread's connection to it), with
    `extras` after its fields. Extra columns are read as the database gives them (no field
    converts them): keep them to text and integers."""
    connection = connections[alias]
    kept = _readers.setdefault(connection, {})
    reader = kept.get((model, extras))
    if reader is None:
        reader = kept[(model, extras)] = _new_reader(model, connection, extras)
    return reader


def _new_reader(model: type[Model], connection: BaseDatabaseWrapper, extras: tuple[str, ...]) -> RowReader:
    fields = model._meta.concrete_fields
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(model._meta.db_table)
        found = [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]
        if found:
            converters.append((index, tuple(found), column))
    return RowReader(
        model=model,
        alias=connection.alias,
        attnames=tuple(field.attname for field in fields),
        extras=extras,
        converters=tuple(converters),
    )


def fetch_together(alias: str, sql: str, params: Sequence[Any], models: Sequence[type[Model]]) -> list[Any]:
    """Rows that select the fields of each model in turn (each as its reader's `columns()` lists
    them): a tuple of one instance of each model per row, built as `RowReader.fetch` builds one."""
    readers = [row_reader(model, alias) for model in models]
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    found = []
    for row in rows:
        instances, start = [], 0
        for reader in readers:
            end = start + len(reader.attnames)
            instances.append(reader._instance(row[start:end], connection))
            start = end
        found.append(tuple(instances))
    return found
