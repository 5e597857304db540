from datetime import timedelta
from typing import Any

from django.db import migrations, models
from django.db.models import Exists, F, OuterRef

DAY = timedelta(days=1)


def flags_from_events(apps: Any, schema_editor: Any) -> None:
    """Set the flags of existing contacts from their stored events (days 1–30, 31–60, 61–90 after
    creation); contacts never seen a day after creation have none to set."""
    contact = apps.get_model("contacts", "Contact")
    event = apps.get_model("tracking", "Event")
    flags = {}
    for days in (30, 60, 90):
        start, end = (days - 29) * DAY, (days + 1) * DAY
        flags[f"retained_{days}"] = Exists(
            event.objects.filter(
                workspace_id=OuterRef("workspace_id"),
                contact_id=OuterRef("pk"),
                timestamp__gte=OuterRef("created_at") + start,
                timestamp__lt=OuterRef("created_at") + end,
            )
        )
    contact.objects.filter(last_seen_at__gte=F("created_at") + DAY).update(**flags)
    # SQLite rebuilt the table to add the columns, which dropped its planner statistics.
    schema_editor.execute("ANALYZE contacts_contact")


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0007_identity_type_index"),
        ("tracking", "0003_order_import_jobs"),
    ]

    operations = [
        migrations.AddField(model_name="contact", name="retained_30", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="contact", name="retained_60", field=models.BooleanField(default=False)),
        migrations.AddField(model_name="contact", name="retained_90", field=models.BooleanField(default=False)),
        migrations.RunPython(flags_from_events, migrations.RunPython.noop),
    ]
