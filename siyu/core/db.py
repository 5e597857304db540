from collections.abc import Sequence

from django.db import connection


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
