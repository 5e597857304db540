from typing import Any

import orjson
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count, JSONField, Q, Sum, Value
from django.db.models.functions import Coalesce

from siyu.contacts.models import Contact, Identity
from siyu.core.errors import DomainError
from siyu.core.tenancy import workspace_scope
from siyu.tenancy.selectors import workspace_get_by_slug
from siyu.tracking.models import ContactActivity, Event, EventMinute, InboundBatch, Notification


class Command(BaseCommand):
    help = (
        "Print a workspace's tracking state as one JSON document: inbound batches, stored events, "
        "contacts with their identities and activity counters, and radar notifications. Read-only; "
        "for operators checking what arrived and for end-to-end tests."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument(
            "--counts", action="store_true", help="Only the counts, not the events and contacts themselves."
        )
        parser.add_argument(
            "--no-payloads", action="store_true", help="Leave out the events' properties and context."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            workspace = workspace_get_by_slug(slug=options["workspace"].strip())
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        with workspace_scope(workspace.id):
            document = self._counts()
            if not options["counts"]:
                document.update(self._rows(payloads=not options["no_payloads"]))
        self.stdout.write(orjson.dumps(document, default=str).decode())

    def _counts(self) -> dict[str, Any]:
        batches = InboundBatch.objects.aggregate(
            total=Count("id"),
            pending=Count("id", filter=Q(processed_at__isnull=True)),
            failed=Count("id", filter=Q(attempts__gt=0)),
        )
        return {
            "batches": batches,
            "events": Event.objects.count(),
            "contacts": Contact.objects.count(),
            "activities": ContactActivity.objects.count(),
            "counted_per_minute": EventMinute.objects.aggregate(total=Sum("count"))["total"] or 0,
            "notifications": Notification.objects.count(),
        }

    def _rows(self, *, payloads: bool) -> dict[str, Any]:
        fields = ["message_id", "type", "name", "contact_id", "anonymous_id", "user_id"]
        fields += ["timestamp", "received_at", "source_id"]
        if payloads:
            fields += ["properties"]
        context = {"context": Coalesce("details__context", Value({}, JSONField()))} if payloads else {}
        events = list(Event.objects.order_by("id").values(*fields, **context))
        identities: dict[Any, list[list[str]]] = {}
        for contact_id, kind, value in Identity.objects.values_list("contact_id", "type", "value"):
            identities.setdefault(contact_id, []).append([kind, value])
        activities = {
            row["contact_id"]: row
            for row in ContactActivity.objects.values(
                "contact_id", "events", "page_views", "sessions", "active_dwell_ms", "orders", "revenue"
            )
        }
        contacts = [
            {
                **row,
                "identities": sorted(identities.get(row["id"], [])),
                "activity": activities.get(row["id"]),
            }
            for row in Contact.objects.order_by("id").values("id", "name", "email", "stage", "owner_id")
        ]
        notifications = list(
            Notification.objects.order_by("version").values(
                "member_id", "kind", "key", "contact_id", "data", "version"
            )
        )
        return {
            "event_rows": events,
            "contact_rows": contacts,
            "activity_rows": list(activities.values()),
            "notification_rows": notifications,
        }
