"""Database helpers that do not belong to one domain."""

import pytest
from django.db import connection, transaction

from siyu.core.db import heavy_statements_settings, planner_statistics_exist, planner_statistics_refresh


@pytest.mark.django_db
def test_planner_statistics_are_known_after_a_refresh() -> None:
    """`siyu serve` runs the full ANALYZE only when this says SQLite has no statistics yet."""
    if connection.vendor != "sqlite":
        assert planner_statistics_exist()  # PostgreSQL gathers its own
        return
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS sqlite_stat1")
    assert not planner_statistics_exist()
    planner_statistics_refresh()
    assert planner_statistics_exist()


def _settings(*names: str) -> list[str]:
    with connection.cursor() as cursor:
        values = []
        for name in names:
            cursor.execute(f"SHOW {name}")
            values.append(cursor.fetchone()[0])
        return values


@pytest.mark.django_db(transaction=True)
def test_heavy_statement_settings_last_for_their_transaction_only() -> None:
    """Builds and reports change the planner's settings for their own transaction, never for the
    connection's later work."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            heavy_statements_settings(work_mem="64MB", eager_parallel=True)  # nothing to set on SQLite
        return
    names = ("jit", "work_mem", "parallel_tuple_cost")
    before = _settings(*names)
    with transaction.atomic():
        heavy_statements_settings(work_mem="64MB", eager_parallel=True)
        assert _settings(*names) == ["off", "64MB", "0.01"]
    assert _settings(*names) == before
