from django.db import migrations

INDEX = "eventnumber_by_contact"


def index_create(apps, schema_editor):
    """SQLite only: its GROUP BY sorts (no hash aggregate), and a month of one key sorted by contact
    costs more than reading the key's whole history in contact order (see
    `tracking.selectors.events.number_window_index`). PostgreSQL hashes the window instead."""
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON tracking_eventnumber "
            "(workspace_id, type, name, key, contact_id, timestamp, value)"
        )


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ('tracking', '0006_event_numbers'),
    ]

    operations = [
        migrations.RunPython(index_create, index_drop),
    ]
