import functools
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID

import orjson
from django.conf import settings
from django.db import OperationalError, connection, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, ExpressionWrapper, Field, Func, Model, Value
from django.db.models.constants import OnConflict
from django.db.models.expressions import RawSQL
from django.utils import timezone

from siyu.core.errors import NoActiveWorkspace
from siyu.core.tenancy import active_workspace_id


def planner_statistics_refresh(*, tables: Sequence[str] = ()) -> None:
    """Refresh the query planner's statistics after bulk changes (imports, demo loads, migrations).

    SQLite never gathers statistics by itself: without them its planner may pick an index that avoids
    a sort but reads the whole table, turning 1 ms queries into 60 ms. PostgreSQL's autovacuum gets
    there eventually; after a bulk load the caller names the tables it filled so the very next
    queries are planned on real numbers.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
        elif connection.vendor == "postgresql" and tables:
            quoted = ", ".join(connection.ops.quote_name(table) for table in tables)
            cursor.execute(f"ANALYZE {quoted}")


def planner_statistics_exist() -> bool:
    """Whether the database has planner statistics (SQLite keeps none until the first ANALYZE;
    PostgreSQL's autovacuum gathers its own, so there it is always true)."""
    if connection.vendor != "sqlite":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if cursor.fetchone() is None:
            return False
        cursor.execute("SELECT 1 FROM sqlite_stat1 LIMIT 1")
        return cursor.fetchone() is not None


Conflict = Literal["error", "ignore", "update"]
SQLITE_BUSY_TIMEOUT_MS = 10_000  # as set for every connection in settings
# Parameters per statement: under SQLite's limit (32,766 since 3.32) and PostgreSQL's (65,535).
MAX_PARAMETERS = 30_000


def rows_write(
    model: type[Model],
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: Conflict = "error",
    unique_fields: Sequence[str] = (),
    update_fields: Sequence[str] = (),
) -> None:
    """INSERT many rows of a model with one prepared statement, values prepared as their fields would.

    For hot paths (the event processor) where building model instances and `bulk_create`'s per-value
    preparation cost more than the database work. Rows are dicts by attribute name (`contact_id`, not
    `contact`); a missing column takes its field's default (now, for
    auto_now fields). Tenant rows get the active workspace, and a
    row of another workspace is refused as `TenantModel.save` would. `conflict="update"` is an upsert on
    `unique_fields` that overwrites `update_fields`.
    """
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    columns = _columns(model, connection.alias)
    workspace_id = active_workspace_id() if "workspace_id" in columns.names else None
    values = []
    for row in rows:
        if workspace_id is not None:
            given = row.get("workspace_id")
            if given is not None and str(given) != str(workspace_id):
                raise NoActiveWorkspace(f"Refusing to write a {model.__name__} of workspace {given}.")
            row = {**row, "workspace_id": workspace_id}
        values.append(
            tuple(prepare(row[name] if name in row else default()) for name, default, prepare in columns.each)
        )
    # Many rows per statement: one round trip and one statement execution per chunk, not per row
    # (executemany runs the statement once per row, which PostgreSQL pays in round trips).
    per_statement = max(1, MAX_PARAMETERS // len(columns.each))
    with connection.cursor() as cursor:
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            head, placeholders, suffix = _insert_parts(
                model, connection.alias, conflict, tuple(unique_fields), tuple(update_fields)
            )
            sql = f"{head} VALUES {', '.join([placeholders] * len(chunk))} {suffix}"
            cursor.execute(sql, [value for row in chunk for value in row])


@dataclass(frozen=True)
class _Columns:
    names: frozenset[str]
    each: tuple[tuple[str, Callable[[], Any], Callable[[Any], Any]], ...]


@functools.cache
def _columns(model: type[Model], alias: str) -> _Columns:
    connection = connections[alias]
    each = [
        (field.attname, _default(field), _preparer(field, connection))
        for field in model._meta.local_concrete_fields
    ]
    return _Columns(names=frozenset(name for name, _d, _p in each), each=tuple(each))


def _default(field: Field[Any, Any]) -> Callable[[], Any]:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return timezone.now
    return field.get_default


def _preparer(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    kind = field.get_internal_type()
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]
    target_kind = target.get_internal_type()
    if target_kind == "UUIDField":
        if connection.features.has_native_uuid_field:
            return lambda value: value if value is None or isinstance(value, UUID) else UUID(str(value))
        return lambda value: (
            None if value is None else (value.hex if isinstance(value, UUID) else UUID(str(value)).hex)
        )
    if kind == "JSONField":
        if connection.vendor == "sqlite":  # stored as text; orjson writes what json.loads reads back
            return lambda value: None if value is None else orjson.dumps(value).decode()
        if connection.vendor == "postgresql":
            from psycopg.types.json import Jsonb

            return lambda value: None if value is None else Jsonb(value, dumps=_orjson_text)
        return functools.partial(field.get_db_prep_save, connection=connection)
    if kind == "DateTimeField":
        if connection.vendor == "sqlite" and settings.USE_TZ:  # what the backend writes: naive UTC text
            return lambda value: None if value is None else str(value.astimezone(UTC).replace(tzinfo=None))
        return connection.ops.adapt_datetimefield_value
    if kind == "DateField":
        return connection.ops.adapt_datefield_value
    if kind == "DecimalField":
        return functools.partial(
            connection.ops.adapt_decimalfield_value,
            max_digits=field.max_digits,  # type: ignore[attr-defined]
            decimal_places=field.decimal_places,  # type: ignore[attr-defined]
        )
    return lambda value: value


@functools.cache
def _insert_parts(
    model: type[Model],
    alias: str,
    conflict: Conflict,
    unique_fields: tuple[str, ...],
    update_fields: tuple[str, ...],
) -> tuple[str, str, str]:
    """An INSERT of every column: (INSERT INTO … (columns), one row's placeholders, ON CONFLICT …)."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    fields = list(model._meta.local_concrete_fields)
    on_conflict = {"error": None, "ignore": OnConflict.IGNORE, "update": OnConflict.UPDATE}[conflict]
    suffix = ""
    if on_conflict is not None:
        by_name = {f.name: f for f in fields} | {f.attname: f for f in fields}
        suffix = connection.ops.on_conflict_suffix_sql(
            fields,
            on_conflict,
            [by_name[n].column for n in update_fields],
            [by_name[n].column for n in unique_fields],
        )
    head = (
        f"{connection.ops.insert_statement(on_conflict=on_conflict)} {quote(model._meta.db_table)} "
        f"({', '.join(quote(str(f.column)) for f in fields)})"
    )
    return head, f"({', '.join(['%s'] * len(fields))})", suffix


def _orjson_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def instance_rows(instances: Sequence[Model]) -> list[dict[str, Any]]:
    """Model instances as `rows_write` rows (every concrete column by attribute name)."""
    if not instances:
        return []
    names = [f.attname for f in type(instances[0])._meta.local_concrete_fields]
    return [{name: getattr(instance, name) for name in names} for instance in instances]


def rows_update(
    model: type[Model], rows: Sequence[Mapping[str, Any]], *, key: Sequence[str], fields: Sequence[str]
) -> None:
    """UPDATE many rows of a model, each found by `key` (attribute names), setting `fields`, in one
    prepared statement; scoped to the active workspace for tenant models."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    columns = {name: prepare for name, _default, prepare in _columns(model, connection.alias).each}
    quote = connection.ops.quote_name
    meta = model._meta
    column_of = {f.attname: str(f.column) for f in meta.local_concrete_fields}
    where = list(key)
    workspace_id = active_workspace_id() if "workspace_id" in columns else None
    if workspace_id is not None:
        where.append("workspace_id")
    sql = (
        f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608 - names come from the model
        + ", ".join(f"{quote(column_of[name])} = %s" for name in fields)
        + " WHERE "
        + " AND ".join(f"{quote(column_of[name])} = %s" for name in where)
    )
    values = []
    for row in rows:
        row = {**row, "workspace_id": workspace_id} if workspace_id is not None else row
        values.append(tuple(columns[name](row[name]) for name in (*fields, *where)))
    if connection.vendor == "postgresql":
        _rows_update_from_values(model, connection, fields=fields, where=where, values=values)
        return
    with connection.cursor() as cursor:
        cursor.executemany(sql, values)


def _rows_update_from_values(
    model: type[Model],
    connection: BaseDatabaseWrapper,
    *,
    fields: Sequence[str],
    where: Sequence[str],
    values: list[tuple[Any, ...]],
) -> None:
    """PostgreSQL: one `UPDATE … FROM (VALUES …)` per chunk instead of a statement per row."""
    quote = connection.ops.quote_name
    by_name = {f.attname: f for f in model._meta.local_concrete_fields}
    names = [*fields, *where]
    casts = [f"%s::{by_name[name].db_type(connection)}" for name in names]
    aliases = [f"v{i}" for i in range(len(names))]
    assignments = ", ".join(
        f"{quote(str(by_name[name].column))} = v.{alias}"
        for name, alias in zip(fields, aliases, strict=False)
    )
    matches = " AND ".join(
        f"t.{quote(str(by_name[name].column))} = v.{alias}"
        for name, alias in zip(where, aliases[len(fields) :], strict=True)
    )
    per_statement = max(1, MAX_PARAMETERS // len(names))
    with connection.cursor() as cursor:
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            rows_sql = ", ".join([f"({', '.join(casts)})"] * len(chunk))
            cursor.execute(
                f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} "  # noqa: S608 - model names
                f"FROM (VALUES {rows_sql}) AS v({', '.join(aliases)}) WHERE {matches}",
                [value for row in chunk for value in row],
            )


_T = TypeVar("_T")


def write_eagerly(write: Callable[[], _T], *, timeout: float = 10.0) -> _T:
    """Run a short write transaction; on SQLite, try again every millisecond or two while another
    writer holds the database instead of leaving it to SQLite's busy handler.

    The busy handler backs off up to 100 ms between tries, so a request with a millisecond of work
    loses every race against a writer that takes the lock again at once (the event processor).
    """
    if connection.vendor != "sqlite":
        return write()
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                return write()
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.001 + random.random() * 0.001)  # noqa: S311 - jitter, not a secret
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def prepared(model: type[Model], attname: str, value: Any) -> Any:
    """`value` as the database driver expects it for `model.attname` (for hand-written SQL)."""
    for name, _default_value, prepare in _columns(model, router.db_for_write(model)).each:
        if name == attname:
            return prepare(value)
    raise KeyError(attname)


def new_uuid_sql() -> str:
    """A random id computed by the database, stored as a UUID field would be (INSERT … SELECT)."""
    return "gen_random_uuid()" if connection.vendor == "postgresql" else "lower(hex(randomblob(16)))"


def uuid_list(values: Iterable[UUID]) -> RawSQL:
    """A subquery over a list of UUIDs bound as one parameter, for `field__in=uuid_list(ids)`.

    An `__in` over a Python list prepares every value and binds one parameter per value each time it
    appears; a rule compiled for 500 contacts repeats that list in every subquery. This binds an
    array (PostgreSQL) or a JSON array of the stored hex form (SQLite) once per appearance instead.
    """
    ids = [value if isinstance(value, UUID) else UUID(str(value)) for value in values]
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::uuid[])", [ids])
    return RawSQL("SELECT value FROM json_each(%s)", [orjson.dumps([value.hex for value in ids]).decode()])


def heavy_statements_settings(*, work_mem: str | None = None, eager_parallel: bool = False) -> None:
    """For the rest of the current transaction on PostgreSQL: no JIT compilation (set-based builds and
    reports have plan costs that switch it on, and compiling takes longer than running them: 50 ms to
    seconds against statements of a second or less) and, if given, more memory for hashes and sorts.

    `eager_parallel`: rows handed from parallel workers to the leader cost a tenth of the default in
    the plans. At the default the planner keeps an index scan that filters most of its rows (a month
    of product views, 600k read to keep 95k) in one process, although the rows it estimates would
    come out of the workers already cut down; split over the workers it takes a third less time.

    SET LOCAL lasts until the outermost transaction ends. Nothing on SQLite."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL jit = off")
        if work_mem is not None:
            cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
        if eager_parallel:
            cursor.execute("SET LOCAL parallel_tuple_cost = 0.01")


class _SqliteSecondsLater(Func):
    """A stored date-time plus whole seconds, in SQL on SQLite.

    Django's own date arithmetic there calls a Python function for every row (about 0.9 s for 200,000
    segment re-checks). `datetime()` keeps whole seconds only, and rounds an input's fraction to
    milliseconds: it is given the whole seconds of the stored text and the fraction is put back
    unchanged, so the result is exact, never rounded either way.
    """

    output_field = DateTimeField()

    def __init__(self, expression: Any, *, seconds: int) -> None:
        super().__init__(expression)
        self.seconds = seconds

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        sql, params = compiler.compile(self.source_expressions[0])
        later = f"datetime(substr({sql}, 1, 19), '{self.seconds:+d} seconds') || substr({sql}, 20)"
        return f"({later})", [*params, *params]


def datetime_plus(expression: Any, span: timedelta) -> Any:
    """`expression` (a date-time column or expression) plus `span`, as a date-time expression."""
    if connection.vendor == "sqlite" and not span.microseconds:
        return _SqliteSecondsLater(expression, seconds=int(span.total_seconds()))
    return ExpressionWrapper(expression + Value(span), output_field=DateTimeField())
