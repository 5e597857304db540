"""What stored events change: counters, stage, attribution, content reading, per-minute counts, radar.

Everything here runs inside the processor's transaction, once per chunk, with set-based reads and
writes (a handful of statements per chunk, not per event).
"""

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from siyu.contacts.models import STAGE_ORDER, Channel, Stage
from siyu.contacts.selectors import contact_briefs
from siyu.contacts.services.tracked import (
    IdentityKey,
    NewVisitor,
    contact_traits_apply,
    contacts_channel_fill,
    contacts_seen,
    contacts_stage_advance,
    identities_link,
    visitors_create,
)
from siyu.core.db import instance_rows, rows_update, rows_write
from siyu.core.ids import uuid7, uuid_or_none
from siyu.core.time import now
from siyu.tracking.models import (
    ENGAGEMENT_EVENTS,
    NUMBER_KEY_MAX,
    ContactActivity,
    Content,
    ContentViewer,
    Event,
    EventContext,
    EventMinute,
    EventNumber,
    EventText,
    Notification,
    NotificationKind,
    ShareLink,
    Source,
    SourceKind,
    TrackingSettings,
    text_is_kept,
)
from siyu.tracking.services.purchases import ORDER_COMPLETED, purchases_record

MAX_DWELL_DELTA_MS = 60 * 60 * 1000  # one report never adds more than an hour
RADAR_RECENT = timedelta(minutes=30)  # older events (imports, late batches) do not ring the radar


@dataclass
class EffectInput:
    events: list[dict[str, Any]]  # fresh, in time order, with contactId resolved
    new_visitors: list[NewVisitor]
    links: list[tuple[UUID, IdentityKey]]
    channels: Mapping[str, Channel]  # by id, code and name (lower case), from ContactLookups


# -- small helpers ------------------------------------------------------------------------------------


_version_lock = threading.Lock()
_last_version = 0


def next_version() -> int:
    """Strictly increasing across this process, close to the time in microseconds."""
    global _last_version  # process-wide monotonic counter, guarded by the lock
    with _version_lock:
        _last_version = max(_last_version + 1, time.time_ns() // 1000)
        return _last_version


def _int(value: Any, *, limit: int) -> int:
    try:
        number = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return 0
    return max(0, min(number, limit))


def _numbers(properties: dict[str, Any]) -> list[tuple[str, float]]:
    """The properties `EventNumber` keeps, as segment rules read them: JSON numbers, not booleans."""
    return [
        (key, float(value))
        for key, value in properties.items()
        if isinstance(value, int | float) and not isinstance(value, bool) and len(key) <= NUMBER_KEY_MAX
    ]


def _texts(properties: dict[str, Any]) -> list[tuple[str, str]]:
    """The properties `EventText` keeps, as segment rules compare them: short JSON texts, not empty."""
    return [
        (key, value)
        for key, value in properties.items()
        if text_is_kept(value) and len(key) <= NUMBER_KEY_MAX
    ]


def _property_rows(
    events: list[dict[str, Any]], kept: Callable[[dict[str, Any]], list[tuple[str, Any]]]
) -> list[dict[str, Any]]:
    """`EventNumber` or `EventText` rows of the events: the properties `kept` returns."""
    return [
        {
            "event_id": e["_id"],
            "key": key,
            "value": value,
            "contact_id": e["contactId"],
            "type": e["type"],
            "name": e["name"],
            "timestamp": e["timestamp"],
        }
        for e in events
        for key, value in kept(e["properties"])
    ]


def _page_of(event: Mapping[str, Any]) -> dict[str, Any]:
    page = event["context"].get("page")
    page = page if isinstance(page, dict) else {}
    properties = event["properties"]
    return {
        "url": str(properties.get("url") or page.get("url") or "")[:500],
        "path": str(properties.get("path") or page.get("path") or "")[:300],
        "title": str(properties.get("title") or page.get("title") or event["name"] or "")[:200],
        "referrer": str(properties.get("referrer") or page.get("referrer") or "")[:500],
    }


class _Attribution:
    """Which channel a visit came through: explicit code, share link, utm_source, referrer, source."""

    def __init__(self, channels: Mapping[str, Channel], share_links: Mapping[str, ShareLink]) -> None:
        unique = {c.id: c for c in channels.values()}.values()
        self.by_code = {c.code.lower(): c for c in unique}
        self.by_utm = {s.lower(): c for c in unique for s in (c.utm_sources or []) if isinstance(s, str)}
        self.by_domain = [
            (d.lower().lstrip("."), c)
            for c in unique
            for d in (c.referrer_domains or [])
            if isinstance(d, str)
        ]
        self.share_links = share_links

    def touch(self, event: Mapping[str, Any], page: Mapping[str, str]) -> tuple[UUID | None, dict[str, Any]]:
        campaign = event["context"].get("campaign")
        campaign = campaign if isinstance(campaign, dict) else {}
        code = str(campaign.get("channel") or event["properties"].get("channel") or "").lower()
        utm_source = str(campaign.get("source") or "").lower()
        share = self.share_links.get(str(event["properties"].get("share_token") or ""))
        channel: Channel | None = self.by_code.get(code) if code else None
        if channel is None and share is not None and share.channel_id:
            channel = next((c for c in self.by_code.values() if c.id == share.channel_id), None)
        if channel is None and utm_source:
            channel = self.by_code.get(utm_source) or self.by_utm.get(utm_source)
        referrer_host = (urlsplit(page["referrer"]).hostname or "").lower()
        page_host = (urlsplit(page["url"]).hostname or "").lower()
        if channel is None and referrer_host and referrer_host != page_host:
            channel = next(
                (c for d, c in self.by_domain if referrer_host == d or referrer_host.endswith("." + d)), None
            )
        touch = {
            "source_id": str(event["sourceId"]),
            "channel": channel.code if channel else "",
            "campaign": {k: str(v)[:100] for k, v in campaign.items() if isinstance(v, str | int)},
            "referrer": page["referrer"],
            "url": page["url"],
            "at": event["timestamp"].isoformat(),
        }
        return (channel.id if channel else None), touch

    @staticmethod
    def explicit(touch: Mapping[str, Any]) -> bool:
        return bool(touch["channel"] or touch["campaign"] or touch["referrer"])


# -- the effects --------------------------------------------------------------------------------------


def effects_apply(data: EffectInput) -> None:
    events = data.events
    settings = TrackingSettings.objects.first() or TrackingSettings()
    sources = {s.id: s for s in Source.objects.filter(id__in={e["sourceId"] for e in events})}
    tokens = {str(t) for e in events if (t := e["properties"].get("share_token"))}
    share_links = {link.token: link for link in ShareLink.objects.filter(token__in=[t[:16] for t in tokens])}
    content_ids = {u for e in events if (u := uuid_or_none(e["properties"].get("content_id")))}
    contents = {c.id: c for c in Content.objects.filter(id__in=content_ids).select_related("category")}
    attribution = _Attribution(data.channels, share_links)
    for event in events:
        event["_page"] = _page_of(event)
        channel_id, touch = attribution.touch(event, event["_page"])
        event["_channel"] = channel_id or sources[event["sourceId"]].channel_id
        event["_touch"] = touch
        event["_content"] = contents.get(uuid_or_none(event["properties"].get("content_id")))  # type: ignore[arg-type]
        event["_share"] = share_links.get(str(event["properties"].get("share_token") or ""))

    first_event: dict[UUID, dict[str, Any]] = {}
    for event in events:
        first_event.setdefault(event["contactId"], event)
    for visitor in data.new_visitors:
        first = first_event.get(visitor.contact_id)
        if first is not None:
            visitor.channel_id = first["_channel"]
            visitor.first_seen_at = first["timestamp"]
    visitors_create(visitors=data.new_visitors)
    identities_link(links=data.links)

    for event in events:
        event["_id"] = uuid7()
    rows_write(
        Event,
        [
            {
                "id": e["_id"],
                "source_id": e["sourceId"],
                "message_id": e["messageId"],
                "type": e["type"],
                "name": e["name"],
                "contact_id": e["contactId"],
                "anonymous_id": e["anonymousId"],
                "user_id": e["userId"],
                "properties": e["properties"],
                "timestamp": e["timestamp"],
                "received_at": e["receivedAt"],
            }
            for e in events
        ],
        conflict="ignore",
    )
    # A context whose event was not stored (another processor stored that messageId first) fails the
    # foreign key at commit, and the batch is redone without it.
    rows_write(
        EventContext, [{"event_id": e["_id"], "context": e["context"]} for e in events if e["context"]]
    )
    rows_write(EventNumber, _property_rows(events, _numbers))
    rows_write(EventText, _property_rows(events, _texts))
    # Orders: a purchase per order number, stored once however many ways the order arrives; only the
    # events whose purchase is new count in the counters below.
    purchases_record(
        events, import_source_ids={s.id for s in sources.values() if s.kind == SourceKind.IMPORT}
    )
    for event in events:
        values = event.get("_traits")
        if values:
            refused_fields = {kind for kind, _ns, _v in event.get("_refused", ())}
            kept = {k: v for k, v in values.items() if k not in refused_fields}
            contact_traits_apply(contact_id=event["contactId"], values=kept)

    activities = _activity_update(events, settings=settings)
    _viewers_update(events)
    _stages_advance(events, settings=settings)
    new_visitors = {v.contact_id for v in data.new_visitors}
    contacts_channel_fill(
        channels={
            a.contact_id: a.values["first_touch_channel_id"]
            for a in activities
            if "first_touch" in a.changed
            and a.values["first_touch_channel_id"]
            and a.contact_id not in new_visitors
        }
    )
    moments: dict[UUID, list[datetime]] = defaultdict(list)
    for event in events:
        moments[event["contactId"]].append(event["timestamp"])
    contacts_seen(moments=moments)
    _minutes_count(events)
    _radar_notify(events, settings=settings)


# The counters every event may change; the attribution and category columns change rarely and are
# written only for the contacts whose values moved.
COUNTER_FIELDS = [
    "first_seen_at",
    "last_seen_at",
    "sessions",
    "page_views",
    "events",
    "active_dwell_ms",
    "content_views",
    "orders",
    "revenue",
    "last_order_at",
    "last_event",
    "last_page_url",
]
FIRST_TOUCH_FIELDS = ["first_touch", "first_touch_channel_id"]
LAST_TOUCH_FIELDS = ["last_touch", "last_touch_channel_id"]


@dataclass
class Activity:
    """One contact's counters while a chunk is applied: loaded without the JSON columns when possible."""

    contact_id: UUID
    values: dict[str, Any]
    is_new: bool
    changed: set[str]


def _activity_load(contact_ids: set[UUID], *, with_categories: set[UUID]) -> dict[UUID, Activity]:
    loaded: dict[UUID, Activity] = {}
    for row in ContactActivity.objects.filter(contact_id__in=contact_ids).values(
        "contact_id", *COUNTER_FIELDS
    ):
        loaded[row["contact_id"]] = Activity(row["contact_id"], row, is_new=False, changed=set())
    if with_categories:
        categories = ContactActivity.objects.filter(contact_id__in=with_categories & set(loaded)).values_list(
            "contact_id", "category_views"
        )
        for contact_id, views in categories:
            loaded[contact_id].values["category_views"] = views
    return loaded


def _activity_update(events: list[dict[str, Any]], *, settings: TrackingSettings) -> list[Activity]:
    contact_ids = {e["contactId"] for e in events}
    readers = {e["contactId"] for e in events if e["_content"] is not None}
    rows = _activity_load(contact_ids, with_categories=readers)
    timeout = timedelta(minutes=settings.session_timeout_minutes)
    for event in events:
        contact_id, moment, properties = event["contactId"], event["timestamp"], event["properties"]
        activity = rows.get(contact_id)
        if activity is None:
            blank: dict[str, Any] = dict.fromkeys(
                ("sessions", "page_views", "events", "active_dwell_ms", "content_views", "orders"), 0
            )
            blank.update(
                first_seen_at=None,
                last_seen_at=None,
                revenue=Decimal(0),
                last_order_at=None,
                last_event="",
                last_page_url="",
                category_views={},
            )
            activity = rows[contact_id] = Activity(contact_id, blank, is_new=True, changed=set())
        row = activity.values
        if row["first_seen_at"] is None:
            row["first_touch"], row["first_touch_channel_id"] = event["_touch"], event["_channel"]
            activity.changed.add("first_touch")
        if row["first_seen_at"] is None or moment < row["first_seen_at"]:
            row["first_seen_at"] = moment
        if row["last_seen_at"] is None or moment - row["last_seen_at"] > timeout:
            row["sessions"] += 1
        if row["last_seen_at"] is None or moment > row["last_seen_at"]:
            row["last_seen_at"] = moment
        row["events"] += 1
        row["last_event"] = (event["name"] or event["type"])[:200]
        if event["type"] in ("page", "screen"):
            row["page_views"] += 1
            row["last_page_url"] = event["_page"]["url"][:500]
            if event["_touch"]["channel"]:
                row["last_touch"], row["last_touch_channel_id"] = event["_touch"], event["_channel"]
                activity.changed.add("last_touch")
            content = event["_content"]
            if content is not None:
                row["content_views"] += 1
                if content.category is not None:
                    name = content.category.name
                    views = row.setdefault("category_views", {})
                    views[name] = views.get(name, 0) + 1
                    activity.changed.add("category_views")
        elif event["name"] in ENGAGEMENT_EVENTS:
            row["active_dwell_ms"] += _int(properties.get("dwell_delta_ms"), limit=MAX_DWELL_DELTA_MS)
        elif event["name"] == ORDER_COMPLETED and event.get("_new_order"):
            row["orders"] += 1
            row["revenue"] = Decimal(row["revenue"]) + event["_order_amount"]
            if row["last_order_at"] is None or moment > row["last_order_at"]:
                row["last_order_at"] = moment
    activities = list(rows.values())
    rows_write(
        ContactActivity,
        [{"id": uuid7(), "contact_id": a.contact_id, **a.values} for a in activities if a.is_new],
    )
    existing = [a for a in activities if not a.is_new]
    rows_update(
        ContactActivity,
        [{"contact_id": a.contact_id, **a.values} for a in existing],
        key=["contact_id"],
        fields=COUNTER_FIELDS,
    )
    for fields, change in (
        (FIRST_TOUCH_FIELDS, "first_touch"),
        (LAST_TOUCH_FIELDS, "last_touch"),
        (["category_views"], "category_views"),
    ):
        rows_update(
            ContactActivity,
            [{"contact_id": a.contact_id, **a.values} for a in existing if change in a.changed],
            key=["contact_id"],
            fields=fields,
        )
    return activities


def _viewers_update(events: list[dict[str, Any]]) -> None:
    reading = [e for e in events if e["_content"] is not None]
    if not reading:
        return
    keys = {(e["_content"].id, e["contactId"]) for e in reading}
    rows = {
        (v.content_id, v.contact_id): v
        for v in ContentViewer.objects.filter(
            content_id__in={k[0] for k in keys}, contact_id__in={k[1] for k in keys}
        )
    }
    for event in reading:
        key = (event["_content"].id, event["contactId"])
        row = rows.get(key)
        moment = event["timestamp"]
        if row is None:
            share = event["_share"]
            row = rows[key] = ContentViewer(
                content_id=key[0],
                contact_id=key[1],
                sharer_id=share.member_id if share is not None else None,
                first_viewed_at=moment,
                last_viewed_at=moment,
            )
        if event["type"] == "page":
            row.views += 1
        elif event["name"] in ENGAGEMENT_EVENTS:
            properties = event["properties"]
            row.active_dwell_ms += _int(properties.get("dwell_delta_ms"), limit=MAX_DWELL_DELTA_MS)
            row.max_read_depth = max(row.max_read_depth, _int(properties.get("scroll_depth"), limit=100))
        row.first_viewed_at = min(row.first_viewed_at, moment)
        row.last_viewed_at = max(row.last_viewed_at, moment)
    rows_write(
        ContentViewer,
        instance_rows(list(rows.values())),
        conflict="update",
        unique_fields=["workspace", "content", "contact_id"],
        update_fields=["views", "active_dwell_ms", "max_read_depth", "first_viewed_at", "last_viewed_at"],
    )


def _stages_advance(events: list[dict[str, Any]], *, settings: TrackingSettings) -> None:
    rules = settings.stage_rules or {}
    targets: dict[UUID, tuple[str, str]] = {}
    for event in events:
        if event["type"] != "track":
            continue
        stage = rules.get(event["name"])
        if stage not in Stage.values:
            continue
        current = targets.get(event["contactId"])
        if current is None or STAGE_ORDER.index(Stage(stage)) > STAGE_ORDER.index(Stage(current[0])):
            targets[event["contactId"]] = (stage, f"event: {event['name']}"[:200])
    if not targets:
        return
    briefs = contact_briefs(contact_ids=targets)
    forward = {
        cid: target
        for cid, target in targets.items()
        if cid in briefs and STAGE_ORDER.index(Stage(target[0])) > STAGE_ORDER.index(Stage(briefs[cid].stage))
    }
    contacts_stage_advance(targets=forward)


def _minutes_count(events: list[dict[str, Any]]) -> None:
    counts: dict[tuple[datetime, UUID, str], int] = defaultdict(int)
    for event in events:
        minute = event["receivedAt"].replace(second=0, microsecond=0)
        counts[(minute, event["sourceId"], event["type"])] += 1
    existing = {
        (m.minute, m.source_id, m.type): m
        for m in EventMinute.objects.filter(
            minute__in={k[0] for k in counts}, source_id__in={k[1] for k in counts}
        )
    }
    rows = []
    for (minute, source_id, kind), count in counts.items():
        row = existing.get((minute, source_id, kind))
        if row is None:
            row = EventMinute(minute=minute, source_id=source_id, type=kind, count=0)
        row.count += count
        rows.append(row)
    EventMinute.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["workspace", "minute", "source", "type"],
        update_fields=["count"],
    )


def _radar_path(path: str, prefixes: list[str]) -> bool:
    return any(isinstance(p, str) and p and path.startswith(p) for p in prefixes)


def _radar_notify(events: list[dict[str, Any]], *, settings: TrackingSettings) -> None:
    cutoff = now() - RADAR_RECENT
    prefixes = list(settings.radar_paths or [])
    noteworthy = []
    for event in events:
        if event["timestamp"] < cutoff:
            continue
        if event["type"] != "page" and event["name"] not in ENGAGEMENT_EVENTS:
            continue
        if event["_content"] is None and not _radar_path(event["_page"]["path"], prefixes):
            continue
        noteworthy.append(event)
    if not noteworthy:
        return
    briefs = contact_briefs(contact_ids={e["contactId"] for e in noteworthy})
    alerts: dict[tuple[UUID, str], dict[str, Any]] = {}
    for event in noteworthy:
        brief = briefs.get(event["contactId"])
        if brief is None:
            continue
        share = event["_share"]
        recipient = brief.owner_id or (share.member_id if share is not None else None)
        if recipient is None:
            continue
        properties, content = event["properties"], event["_content"]
        view_id = str(properties.get("view_id") or event["messageId"])[:100]
        alert_key = (recipient, f"view:{view_id}")
        alert = alerts.get(alert_key) or {
            "contact_id": str(brief.id),
            "contact_name": brief.label,
            "kind": NotificationKind.CONTENT_VIEW if content is not None else NotificationKind.KEY_PAGE,
            "title": content.title if content is not None else event["_page"]["title"],
            "url": event["_page"]["url"],
            "path": event["_page"]["path"],
            "content_id": str(content.id) if content is not None else "",
            "dwell_ms": 0,
            "depth": 0,
            "state": "reading",
        }
        alert["dwell_ms"] = max(alert["dwell_ms"], _int(properties.get("active_dwell_ms"), limit=10**9))
        alert["depth"] = max(alert["depth"], _int(properties.get("scroll_depth"), limit=100))
        alert["state"] = "left" if event["name"] == "Page Left" else "reading"
        alert.setdefault("started_at", event["timestamp"])
        alert["seen_at"] = event["timestamp"]
        alerts[alert_key] = alert
    existing = {
        (n.member_id, n.key): n
        for n in Notification.objects.filter(
            member_id__in={k[0] for k in alerts}, key__in={k[1] for k in alerts}
        )
    }
    moment = now()
    rows = []
    for (member_id, key), alert in sorted(alerts.items(), key=lambda item: item[1]["dwell_ms"]):
        row = existing.get((member_id, key))
        started_at, seen_at = alert.pop("started_at"), alert.pop("seen_at")
        if row is None:
            row = Notification(member_id=member_id, key=key, created_at=min(started_at, moment), data={})
        else:
            alert["dwell_ms"] = max(alert["dwell_ms"], row.data.get("dwell_ms", 0))
            alert["depth"] = max(alert["depth"], row.data.get("depth", 0))
        row.kind = alert["kind"]
        row.contact_id = UUID(alert["contact_id"])
        row.data = alert
        row.updated_at = min(max(seen_at, row.created_at), moment)  # when the contact was last seen on it
        row.version = next_version()  # a read alert stays read while the same view goes on
        rows.append(row)
    rows_write(
        Notification,
        instance_rows(rows),
        conflict="update",
        unique_fields=["workspace", "member", "key"],
        update_fields=["kind", "contact_id", "data", "updated_at", "version"],
    )
