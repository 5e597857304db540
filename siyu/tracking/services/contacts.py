"""Keeping a contact's events, purchases and counters with the contact when it is merged or deleted."""

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from django.db.models import F, OuterRef

from siyu.contacts.events import ContactDeleted, ContactsMerged
from siyu.contacts.reporting import RETENTION_DAYS, retained_field, retention_window
from siyu.contacts.selectors import contact_rows
from siyu.contacts.services.tracked import contacts_retention_set
from siyu.tracking.models import ContactActivity, ContentViewer, Event, EventNumber, EventText, Notification
from siyu.tracking.selectors.reporting import event_in_window
from siyu.tracking.services.purchases import purchases_delete, purchases_move
from siyu.tracking.services.retention import events_delete


def contact_events_move(event: ContactsMerged) -> None:
    """The merged-away contact's events, purchases, counters, reading and radar alerts now belong to the
    survivor. Each purchase was counted once, by the contact that had it, so the counters add up."""
    merged_events = Event.objects.filter(contact_id=event.merged_id)
    for values in (EventNumber, EventText):
        values.objects.filter(event__in=merged_events).update(contact_id=event.survivor_id)
    merged_events.update(contact_id=event.survivor_id)
    contacts_retention_recount([event.survivor_id])
    purchases_move(survivor_id=event.survivor_id, merged_id=event.merged_id)
    Notification.objects.filter(contact_id=event.merged_id).update(contact_id=event.survivor_id)
    _activity_fold(survivor_id=event.survivor_id, merged_id=event.merged_id)
    _viewers_fold(survivor_id=event.survivor_id, merged_id=event.merged_id)


def contacts_retention_recount(contact_ids: Iterable[UUID]) -> None:
    """Work the contacts' retention flags out again from their stored events, after their creation
    time moved or a merge brought them another contact's events. (Activity older than the workspace
    keeps events no longer counts then.)"""
    windows = {}
    for days in RETENTION_DAYS:
        start, end = retention_window(days)
        windows[f"came_back_{days}"] = event_in_window(
            contact_id=OuterRef("pk"), start=OuterRef("created_at") + start, end=OuterRef("created_at") + end
        )
    rows = contact_rows().filter(id__in=list(contact_ids)).annotate(**windows).values("id", *windows)
    contacts_retention_set(
        flags={
            row["id"]: {retained_field(days): row[f"came_back_{days}"] for days in RETENTION_DAYS}
            for row in rows
        }
    )


def contact_events_delete(event: ContactDeleted) -> None:
    events_delete(Event.objects.filter(contact_id=event.contact_id))
    purchases_delete(contact_id=event.contact_id)
    ContactActivity.objects.filter(contact_id=event.contact_id).delete()
    ContentViewer.objects.filter(contact_id=event.contact_id).delete()
    Notification.objects.filter(contact_id=event.contact_id).delete()


def _earliest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _activity_fold(*, survivor_id: UUID, merged_id: UUID) -> None:
    merged = ContactActivity.objects.filter(contact_id=merged_id).first()
    if merged is None:
        return
    survivor = ContactActivity.objects.filter(contact_id=survivor_id).first()
    if survivor is None:
        ContactActivity.objects.filter(id=merged.id).update(contact_id=survivor_id)
        return
    first_is_merged = merged.first_seen_at is not None and (
        survivor.first_seen_at is None or merged.first_seen_at < survivor.first_seen_at
    )
    last_is_merged = merged.last_seen_at is not None and (
        survivor.last_seen_at is None or merged.last_seen_at > survivor.last_seen_at
    )
    survivor.first_seen_at = _earliest(survivor.first_seen_at, merged.first_seen_at)
    survivor.last_seen_at = _latest(survivor.last_seen_at, merged.last_seen_at)
    survivor.last_order_at = _latest(survivor.last_order_at, merged.last_order_at)
    for counter in (
        "sessions",
        "page_views",
        "events",
        "active_dwell_ms",
        "content_views",
        "orders",
        "revenue",
    ):
        setattr(survivor, counter, getattr(survivor, counter) + getattr(merged, counter))
    categories = dict(survivor.category_views)
    for name, views in merged.category_views.items():
        categories[name] = categories.get(name, 0) + views
    survivor.category_views = categories
    if first_is_merged or survivor.first_touch_channel_id is None:
        survivor.first_touch_channel_id = merged.first_touch_channel_id or survivor.first_touch_channel_id
        survivor.first_touch = merged.first_touch or survivor.first_touch
    if last_is_merged:
        survivor.last_touch_channel_id = merged.last_touch_channel_id or survivor.last_touch_channel_id
        survivor.last_touch = merged.last_touch or survivor.last_touch
        survivor.last_event = merged.last_event or survivor.last_event
        survivor.last_page_url = merged.last_page_url or survivor.last_page_url
    merged.delete()
    survivor.save()


def _viewers_fold(*, survivor_id: UUID, merged_id: UUID) -> None:
    survivor_rows = {row.content_id: row for row in ContentViewer.objects.filter(contact_id=survivor_id)}
    for row in ContentViewer.objects.filter(contact_id=merged_id):
        mine = survivor_rows.get(row.content_id)
        if mine is None:
            ContentViewer.objects.filter(id=row.id).update(contact_id=survivor_id)
            continue
        ContentViewer.objects.filter(id=mine.id).update(
            views=F("views") + row.views,
            active_dwell_ms=F("active_dwell_ms") + row.active_dwell_ms,
            max_read_depth=max(mine.max_read_depth, row.max_read_depth),
            first_viewed_at=min(mine.first_viewed_at, row.first_viewed_at),
            last_viewed_at=max(mine.last_viewed_at, row.last_viewed_at),
            sharer_id=mine.sharer_id if mine.first_viewed_at <= row.first_viewed_at else row.sharer_id,
        )
        row.delete()
