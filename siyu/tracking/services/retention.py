"""Keeping the event tables to size: raw events older than a workspace's retention, spent batches.

Counters (ContactActivity, ContentViewer) and per-minute counts are aggregates and outlive the raw
events. Deletes go in small chunks so SQLite's write lock is never held for long.
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from siyu.core.tenancy import workspace_scope
from siyu.core.time import now
from siyu.tenancy.selectors import workspace_ids
from siyu.tracking.models import (
    Event,
    EventContext,
    EventMinute,
    EventNumber,
    EventText,
    InboundBatch,
    IngestWarning,
    TrackingSettings,
)

CHUNK = 2000
PROCESSED_BATCHES_KEPT = timedelta(days=1)
WARNINGS_KEPT = timedelta(days=30)
MINUTES_KEPT = timedelta(days=30)
DEFAULT_RETENTION_DAYS = TrackingSettings._meta.get_field("retention_days").get_default()


@dataclass
class Pruned:
    events: int = 0
    batches: int = 0
    warnings: int = 0
    minutes: int = 0


def events_delete(events: QuerySet[Event]) -> int:
    """Delete the events, their contexts, numbers and texts, one statement each. Returns how many
    events."""
    for details in (EventContext, EventNumber, EventText):
        details.objects.filter(event__in=events).delete()
    deleted, _by_model = events.delete()
    return deleted


def _delete_in_chunks(queryset: QuerySet[Any]) -> int:
    model = queryset.model
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(queryset.order_by().values_list("id", flat=True)[:CHUNK])
            if not ids:
                return deleted
            chunk = model._base_manager.filter(id__in=ids)
            deleted += events_delete(chunk) if model is Event else chunk.delete()[0]


def tracking_prune() -> Pruned:
    """Delete what every workspace's retention says is old. Safe to run at any time, from any process."""
    moment = now()
    pruned = Pruned()
    pruned.batches = _delete_in_chunks(
        InboundBatch.all_workspaces.filter(processed_at__lt=moment - PROCESSED_BATCHES_KEPT)
    )
    retention = dict(TrackingSettings.all_workspaces.values_list("workspace_id", "retention_days"))
    for workspace_id in workspace_ids():
        days = retention.get(workspace_id, DEFAULT_RETENTION_DAYS)
        with workspace_scope(workspace_id):
            pruned.events += _delete_in_chunks(
                Event.objects.filter(received_at__lt=moment - timedelta(days=days))
            )
            pruned.warnings += _delete_in_chunks(
                IngestWarning.objects.filter(created_at__lt=moment - WARNINGS_KEPT)
            )
            pruned.minutes += _delete_in_chunks(EventMinute.objects.filter(minute__lt=moment - MINUTES_KEPT))
    return pruned
