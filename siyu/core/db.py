from django.db import connection


def planner_statistics_refresh() -> None:
    """Refresh the query planner's statistics after bulk changes (imports, demo loads, migrations).

    PostgreSQL's autovacuum does this by itself. SQLite never does: without statistics its planner
    may pick an index that avoids a sort but reads the whole table, turning 1 ms queries into 60 ms.
    """
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
