"""Reads behind the radar: a member's alerts, a contact's events, the workspace's live event rate.

Notifications are personal: every read here is filtered to the acting member, so nobody sees another
member's alerts (and an API key, having no member, sees none). Contact event reads take a contact id
the caller has already fetched through `contact_get_for`, which is where data scope is enforced.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from uuid import UUID

from django.db.models import Count, Max, Q, QuerySet
from django.utils.dateparse import parse_datetime

from siyu.core.pagination import decode_cursor, encode_cursor
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tracking.models import (
    ENGAGEMENT_EVENTS,
    ContactActivity,
    Event,
    EventMinute,
    EventType,
    Notification,
    Source,
)

NOTIFICATION_BATCH = 100


def _own_notifications(actor: Actor) -> QuerySet[Notification]:
    if actor.member_id is None:
        return Notification.objects.none()
    return Notification.objects.filter(member_id=actor.member_id)


def notification_list(*, actor: Actor, limit: int = 50, unread_only: bool = False) -> list[Notification]:
    """The actor's newest alerts first (by last change)."""
    rows = _own_notifications(actor)
    if unread_only:
        rows = rows.filter(read_at__isnull=True)
    return list(rows.order_by("-version")[:limit])


def notifications_after(*, actor: Actor, version: int, limit: int = NOTIFICATION_BATCH) -> list[Notification]:
    """The actor's alerts created or changed after `version`, oldest change first (the SSE stream's read)."""
    return list(_own_notifications(actor).filter(version__gt=version).order_by("version")[:limit])


def notification_unread_count(*, actor: Actor) -> int:
    return _own_notifications(actor).filter(read_at__isnull=True).count()


@dataclass(frozen=True)
class RadarBadge:
    unread: int
    version: int  # the newest alert's version: where a page's live stream starts


def notification_badge(*, actor: Actor) -> RadarBadge:
    """Unread count and latest version in one query, for the bell in the top bar."""
    figures = _own_notifications(actor).aggregate(
        unread=Count("id", filter=Q(read_at__isnull=True)), version=Max("version")
    )
    return RadarBadge(unread=figures["unread"] or 0, version=figures["version"] or 0)


def notification_latest_version(*, actor: Actor) -> int:
    version = _own_notifications(actor).aggregate(version=Max("version"))["version"]
    return int(version or 0)


# ------------------------------------------------------------------------------------ contact events


@dataclass
class EventPage:
    items: list[Event]
    next_cursor: str | None  # pass as `before` for the next (older) page


def _timeline_cursor(event: Event) -> str:
    return encode_cursor(f"{event.timestamp.isoformat()}|{event.id}")


def _split_cursor(cursor: str) -> tuple[datetime, UUID] | None:
    """(moment, id) from a cursor; None for one that does not decode into both."""
    moment_text, _bar, id_text = decode_cursor(cursor).rpartition("|")
    moment = parse_datetime(moment_text)
    try:
        event_id = UUID(id_text)
    except ValueError:
        return None
    return (moment, event_id) if moment is not None else None


def _latest_engagement_only(events: list[Event]) -> list[Event]:
    """Of each page view's engagement reports (a heartbeat every 15 s, then the leave), the newest one:
    it carries the view's whole dwell time and depth. `events` are newest first."""
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.type == "track" and event.name in ENGAGEMENT_EVENTS:
            view_id = str(event.properties.get("view_id") or "")
            if view_id:
                if view_id in seen:
                    continue
                seen.add(view_id)
        kept.append(event)
    return kept


def contact_events(*, contact_id: UUID, before: str | None = None, limit: int = 50) -> EventPage:
    """A contact's events, newest first, `limit` at a time; keyset on (timestamp, id), never an offset.

    A page view's engagement reports show as one line, the newest (a view split across two pages may
    show once on each)."""
    rows = Event.objects.filter(contact_id=contact_id).select_related("details").order_by("-timestamp", "-id")
    if before:
        position = _split_cursor(before)
        if position is not None:
            moment, event_id = position
            rows = rows.filter(Q(timestamp__lt=moment) | Q(timestamp=moment, id__lt=event_id))
    items = list(rows[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    cursor = _timeline_cursor(items[-1]) if has_more else None
    return EventPage(items=_latest_engagement_only(items), next_cursor=cursor)


def _arrival_cursor(received_at: datetime, event_id: UUID) -> str:
    return encode_cursor(f"{received_at.isoformat()}|{event_id}")


def contact_events_cursor(*, contact_id: UUID) -> str:
    """Where a live timeline starts: after the contact's last arrived event (or at the very beginning)."""
    last = (
        Event.objects.filter(contact_id=contact_id)
        .order_by("-received_at", "-id")
        .values_list("received_at", "id")
        .first()
    )
    if last is None:
        return encode_cursor(f"{datetime(2000, 1, 1, tzinfo=now().tzinfo).isoformat()}|{UUID(int=0)}")
    return _arrival_cursor(*last)


def contact_events_after(*, contact_id: UUID, cursor: str, limit: int = 100) -> tuple[list[Event], str]:
    """A contact's events that arrived after `cursor` (by received_at, id), oldest first, and the new cursor."""
    position = _split_cursor(cursor)
    rows = Event.objects.filter(contact_id=contact_id).select_related("details")
    if position is not None:
        moment, event_id = position
        rows = rows.filter(Q(received_at__gt=moment) | Q(received_at=moment, id__gt=event_id))
    items = list(rows.order_by("received_at", "id")[:limit])
    if not items:
        return [], cursor
    return items, _arrival_cursor(items[-1].received_at, items[-1].id)


def contact_activity(*, contact_id: UUID) -> ContactActivity | None:
    """The processor's counters for one contact (None before its first event)."""
    return (
        ContactActivity.objects.filter(contact_id=contact_id)
        .select_related("first_touch_channel", "last_touch_channel")
        .first()
    )


def source_names(*, source_ids: set[UUID] | None = None) -> dict[UUID, str]:
    rows = Source.objects.all()
    if source_ids is not None:
        rows = rows.filter(id__in=source_ids)
    return dict(rows.values_list("id", "name"))


# ---------------------------------------------------------------------------------------- live view


@dataclass
class SeriesLine:
    key: str
    label: str
    counts: list[int]

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass
class LiveSeries:
    minutes: list[datetime]  # the start of each minute, oldest first
    by_source: list[SeriesLine] = field(default_factory=list)
    by_type: list[SeriesLine] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.total for line in self.by_source)


def events_per_minute(*, minutes: int = 60, source: UUID | None = None) -> LiveSeries:
    """Events processed per minute over the last `minutes` (this one included), per source and per type.

    Read from the processor's EventMinute counters, so it costs one small query whatever the traffic.
    """
    minutes = max(1, min(minutes, 24 * 60))
    current = now().replace(second=0, microsecond=0)
    start = current - timedelta(minutes=minutes - 1)
    buckets = [start + timedelta(minutes=i) for i in range(minutes)]
    position = {moment: i for i, moment in enumerate(buckets)}
    rows = EventMinute.objects.filter(minute__gte=start, minute__lte=current)
    if source is not None:
        rows = rows.filter(source_id=source)
    by_source: dict[UUID, list[int]] = {}
    by_type: dict[str, list[int]] = {}
    for minute, source_id, event_type, count in rows.values_list("minute", "source_id", "type", "count"):
        index = position.get(minute.replace(second=0, microsecond=0))
        if index is None:
            continue
        by_source.setdefault(source_id, [0] * minutes)[index] += count
        by_type.setdefault(event_type, [0] * minutes)[index] += count
    names = source_names(source_ids=set(by_source))
    type_labels = dict(EventType.choices)
    sources = [
        SeriesLine(key=str(source_id), label=names.get(source_id, str(source_id)), counts=counts)
        for source_id, counts in by_source.items()
    ]
    types = [
        SeriesLine(key=event_type, label=str(type_labels.get(event_type, event_type)), counts=counts)
        for event_type, counts in by_type.items()
    ]
    sources.sort(key=lambda line: (-line.total, line.label))
    types.sort(key=lambda line: (-line.total, line.key))
    return LiveSeries(minutes=buckets, by_source=sources, by_type=types)


def recent_events(*, limit: int = 50, source: UUID | None = None) -> list[Event]:
    """The workspace's latest arrived events, newest first, a page view's engagement reports as one."""
    rows = Event.objects.select_related("details")
    if source is not None:
        rows = rows.filter(source_id=source)
    return _latest_engagement_only(list(rows.order_by("-received_at", "-id")[: limit * 4]))[:limit]
