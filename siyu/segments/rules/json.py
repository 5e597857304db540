# ruff: noqa: S608 -- SQL here interpolates only compiled column names and placeholders; values are bound.
"""Typed reads of JSON object keys that behave the same on SQLite and PostgreSQL.

A key holding the wrong JSON type reads as NULL (a number never equals the text "5", a text never
compares as a number), so a rule means the same thing on both databases and in the reference
evaluator. The key is always a bound parameter, never interpolated.
"""

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import BooleanField, F, FloatField, Func, TextField
from django.db.models.sql.compiler import SQLCompiler


def _path(key: str) -> str:
    return '$."' + key.replace('"', "") + '"'


class _JsonKey(Func):
    sqlite_types: tuple[str, ...] = ()
    postgres_type = ""
    postgres_cast = ""

    def __init__(self, column: str, key: str, **extra: Any) -> None:
        super().__init__(F(column), **extra)
        self.key = key

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        kinds = ", ".join(f"'{kind}'" for kind in self.sqlite_types)
        sql = f"(CASE WHEN json_type({column}, %s) IN ({kinds}) THEN json_extract({column}, %s) END)"
        return sql, [*column_params, _path(key), *column_params, _path(key)]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        sql = (
            f"(CASE WHEN jsonb_typeof({column} -> %s) = '{self.postgres_type}' "
            f"THEN ({column} ->> %s){self.postgres_cast} END)"
        )
        return sql, [*column_params, key, *column_params, key]


class JsonText(_JsonKey):
    output_field = TextField()
    sqlite_types = ("text",)
    postgres_type = "string"


class JsonNumber(_JsonKey):
    output_field = FloatField()
    sqlite_types = ("integer", "real")
    postgres_type = "number"
    postgres_cast = "::double precision"


class _JsonKeyAgainst(Func):
    """A test of a JSON key against a tuple of texts, true or false."""

    output_field = BooleanField()

    def __init__(self, column: str, key: str, values: tuple[str, ...]) -> None:
        super().__init__(F(column))
        self.key = key
        self.values = values


class JsonTextIn(_JsonKeyAgainst):
    """True when the key holds a JSON text equal to one of the given texts; false otherwise, never NULL.

    SQLite reads the key's type only for the rows whose value matches (3.40 parses the JSON again for
    each read): a filter that keeps one event in six parses most of them once instead of twice."""

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        marks = ", ".join(["%s"] * len(self.values))
        # A CASE, not an AND: SQLite evaluates both sides of an AND that is a value.
        sql = (
            f"(CASE WHEN json_extract({column}, %s) IN ({marks}) "
            f"THEN json_type({column}, %s) = 'text' ELSE 0 END)"
        )
        path = _path(self.key)
        return sql, [*column_params, path, *self.values, *column_params, path]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        marks = ", ".join(["%s"] * len(self.values))
        sql = f"COALESCE(jsonb_typeof({column} -> %s) = 'string' AND ({column} ->> %s) IN ({marks}), false)"
        return sql, [*column_params, key, *column_params, key, *self.values]


class JsonBooleanText(_JsonKey):
    """'true' / 'false' for JSON booleans, NULL otherwise."""

    output_field = TextField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        sql = f"(CASE json_type({column}, %s) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END)"
        return sql, [*column_params, _path(key)]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        sql = f"(CASE WHEN jsonb_typeof({column} -> %s) = 'boolean' THEN {column} ->> %s END)"
        return sql, [*column_params, key, *column_params, key]


class JsonKeyPresent(_JsonKey):
    """True when the key holds anything but JSON null (an empty text or list counts as absent)."""

    output_field = BooleanField()

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        kind = f"json_type({column}, %s)"
        sql = (
            f"(COALESCE({kind}, 'null') <> 'null' "
            f"AND ({kind} <> 'text' OR json_extract({column}, %s) <> '') "
            f"AND ({kind} <> 'array' OR json_array_length({column}, %s) > 0))"
        )
        return sql, [*column_params, _path(key)] * sql.count("%s")

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        sql = (
            f"(COALESCE(jsonb_typeof({column} -> %s), 'null') <> 'null' "
            f"AND COALESCE({column} -> %s, 'null'::jsonb) NOT IN ('\"\"'::jsonb, '[]'::jsonb))"
        )
        return sql, [*column_params, key, *column_params, key]


class JsonArrayHasAny(_JsonKeyAgainst):
    """True when the key holds a JSON array containing any of the given texts."""

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        marks = ", ".join(["%s"] * len(self.values))
        sql = (
            f"(json_type({column}, %s) = 'array' AND EXISTS (SELECT 1 FROM json_each({column}, %s) AS item "
            f"WHERE item.type = 'text' AND item.value IN ({marks})))"
        )
        return sql, [*column_params, _path(key), *column_params, _path(key), *self.values]

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, column_params = compiler.compile(self.source_expressions[0])
        key = self.key
        # COALESCE: a missing key is "has none of them", not NULL (which NOT would keep NULL).
        sql = f"COALESCE(jsonb_typeof({column} -> %s) = 'array' AND ({column} -> %s) ?| %s::text[], false)"
        return sql, [*column_params, key, *column_params, key, list(self.values)]


class MonthDay(Func):
    """'MM-DD' of a date column, computed natively (SQLite stores dates as ISO text)."""

    output_field = TextField()

    def __init__(self, column: str) -> None:
        super().__init__(F(column))

    def as_sqlite(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"substr({column}, 6, 5)", params

    def as_postgresql(
        self, compiler: SQLCompiler, connection: BaseDatabaseWrapper, **extra: Any
    ) -> tuple[str, Any]:
        column, params = compiler.compile(self.source_expressions[0])
        return f"to_char({column}, 'MM-DD')", params
