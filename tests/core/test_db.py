"""Database helpers that do not belong to one domain."""

import pytest
from django.db import connection

from siyu.core.db import planner_statistics_exist, planner_statistics_refresh


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
