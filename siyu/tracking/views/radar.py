"""The radar 客户雷达: a member's live alerts, the workspace's live events and a contact's live timeline.

Two Server-Sent Event streams run as async views, so an open stream holds no worker thread between
polls. The tenancy middleware's workspace scope ends when the view hands back its streaming response,
so each stream captures the actor and language first and re-enters `workspace_scope` in every poll.
Under ASGI a database connection opened in a poll's thread would never be reused, so each poll closes
the connections it opened.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connections
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from siyu.contacts.models import Contact
from siyu.contacts.selectors import contact_get_for, contacts_by_ids
from siyu.core.errors import DomainError, NotFound
from siyu.core.pagination import decode_cursor
from siyu.core.tenancy import workspace_scope
from siyu.core.web import ActorRequest, actor_required, is_htmx
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.describe import (
    describe_event,
    describe_notification,
    duration_text,
    event_icon,
    money_text,
)
from siyu.tracking.models import ContactActivity, Event, Notification
from siyu.tracking.selectors.radar import (
    contact_activity,
    contact_events,
    contact_events_after,
    contact_events_cursor,
    events_per_minute,
    notification_latest_version,
    notification_list,
    notification_unread_count,
    notifications_after,
    recent_events,
    source_names,
)
from siyu.tracking.services.radar import ALL, notification_mark_read

LIST_LIMIT = 100
TIMELINE_PAGE = 50
LIVE_EVENTS = 50
LIVE_MINUTES = 60
HEARTBEAT_SECONDS = 15.0
RECONNECT_MS = 3000


def _poll_seconds() -> float:
    return float(getattr(settings, "SIYU_RADAR_POLL_SECONDS", 0.25))


def _max_seconds() -> float:
    return float(getattr(settings, "SIYU_SSE_MAX_SECONDS", 300))


def safe_url(value: Any) -> str:
    """A visitor-supplied URL fit for an href: http(s) only, never javascript: and friends."""
    text = str(value or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else ""


def contact_url(contact_id: UUID | None) -> str:
    return reverse("contacts:detail", kwargs={"contact_id": contact_id}) if contact_id else ""


# ------------------------------------------------------------------------------------ notifications


@dataclass
class AlertItem:
    notification: Notification
    text: str
    contact_url: str
    page_url: str

    @property
    def is_unread(self) -> bool:
        return self.notification.read_at is None

    @property
    def state(self) -> str:
        return (
            str(self.notification.data.get("state", "")) if isinstance(self.notification.data, dict) else ""
        )


def alert_item(notification: Notification) -> AlertItem:
    data = notification.data if isinstance(notification.data, dict) else {}
    return AlertItem(
        notification=notification,
        text=describe_notification(notification),
        contact_url=contact_url(notification.contact_id),
        page_url=safe_url(data.get("url")),
    )


def _alerts_context(actor: Actor, *, unread_only: bool) -> dict[str, Any]:
    items = [alert_item(n) for n in notification_list(actor=actor, limit=LIST_LIMIT, unread_only=unread_only)]
    return {
        "items": items,
        "unread_only": unread_only,
        "unread": notification_unread_count(actor=actor),
        "version": notification_latest_version(actor=actor),
    }


@require_GET
@actor_required()
def notifications(request: ActorRequest[Actor]) -> HttpResponse:
    context = _alerts_context(request.actor, unread_only=request.GET.get("unread") == "1")
    template = "tracking/radar/_alerts.html" if is_htmx(request) else "tracking/radar/notifications.html"
    return render(request, template, context)


@require_POST
@actor_required()
def mark_read(request: ActorRequest[Actor]) -> HttpResponse:
    wanted = ALL if request.POST.get("all") == "1" else request.POST.getlist("id")
    notification_mark_read(actor=request.actor, notification_ids=wanted)
    if not is_htmx(request):
        return HttpResponseRedirect(reverse("radar:notifications"))
    context = _alerts_context(request.actor, unread_only=request.POST.get("unread") == "1")
    response = render(request, "tracking/radar/_alerts.html", context)
    response.headers["HX-Trigger"] = json.dumps({"siyu:radar-unread": {"unread": context["unread"]}})
    return response


# ---------------------------------------------------------------------------------------- live view


@dataclass
class EventRow:
    event: Event
    text: str
    icon: str
    source: str
    contact_name: str
    contact_url: str
    page_url: str

    @property
    def local_time(self) -> datetime:
        return timezone.localtime(self.event.timestamp)


def _page_url(event: Event) -> str:
    properties = event.properties if isinstance(event.properties, dict) else {}
    return safe_url(properties.get("url"))


def _contact_label(contact: Contact) -> str:
    return contact.name or contact.masked_phone or contact.email or _("Visitor")


def event_rows(
    events: Iterable[Event], *, actor: Actor | None = None, contact: Contact | None = None
) -> list[EventRow]:
    """Events as readable rows; contacts the actor may not see are shown without name or link."""
    events = list(events)
    sources = source_names(source_ids={e.source_id for e in events})
    names: dict[UUID, str] = {}
    if contact is not None:
        names[contact.id] = _contact_label(contact)
    elif actor is not None and actor.can(Permission.CONTACTS_READ):
        ids = list({e.contact_id for e in events if e.contact_id})
        names = {c.id: _contact_label(c) for c in contacts_by_ids(actor=actor, contact_ids=ids)}
    return [
        EventRow(
            event=event,
            text=describe_event(event),
            icon=event_icon(event),
            source=sources.get(event.source_id, ""),
            contact_name=names.get(event.contact_id, "") if event.contact_id else "",
            contact_url=contact_url(event.contact_id) if event.contact_id in names else "",
            page_url=_page_url(event),
        )
        for event in events
    ]


def _source_filter(request: HttpRequest) -> UUID | None:
    try:
        return UUID(request.GET.get("source", ""))
    except ValueError:
        return None


def _minute_label(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M")


def _live_payload(actor: Actor, source: UUID | None) -> dict[str, Any]:
    series = events_per_minute(minutes=LIVE_MINUTES, source=source)
    rows = event_rows(recent_events(limit=LIVE_EVENTS, source=source), actor=actor)
    return {
        "minutes": [_minute_label(m) for m in series.minutes],
        "sources": [
            {"key": line.key, "label": line.label, "counts": line.counts, "total": line.total}
            for line in series.by_source
        ],
        "types": [
            {"key": line.key, "label": line.label, "counts": line.counts, "total": line.total}
            for line in series.by_type
        ],
        "total": series.total,
        "events_html": render_to_string("tracking/radar/_live_events.html", {"rows": rows}),
    }


@require_GET
@actor_required(Permission.EVENTS_READ)
def live(request: ActorRequest[Actor]) -> HttpResponse:
    source = _source_filter(request)
    series = events_per_minute(minutes=LIVE_MINUTES, source=source)
    rows = event_rows(recent_events(limit=LIVE_EVENTS, source=source), actor=request.actor)
    data_url = reverse("radar:live_data") + (f"?source={source}" if source else "")
    return render(
        request,
        "tracking/radar/live.html",
        {
            "series": series,
            "rows": rows,
            "sources": sorted(source_names().items(), key=lambda item: item[1]),
            "source": str(source) if source else "",
            "data_url": data_url,
            "labels": {"events": _("Events"), "minute": _("Minute"), "total": _("Total")},
        },
    )


@require_GET
@actor_required(Permission.EVENTS_READ)
def live_data(request: ActorRequest[Actor]) -> HttpResponse:
    return JsonResponse(_live_payload(request.actor, _source_filter(request)))


# ------------------------------------------------------------------------------- contact activity


def day_label(day: date) -> str:
    today = timezone.localdate()
    if day == today:
        return _("Today")
    if (today - day).days == 1:
        return _("Yesterday")
    return formats.date_format(day, "DATE_FORMAT")


@dataclass
class DayGroup:
    day: date
    label: str
    rows: list[EventRow]


def group_by_day(rows: list[EventRow]) -> list[DayGroup]:
    groups: list[DayGroup] = []
    for row in rows:
        day = row.local_time.date()
        if not groups or groups[-1].day != day:
            groups.append(DayGroup(day=day, label=day_label(day), rows=[]))
        groups[-1].rows.append(row)
    return groups


def _touch_text(channel_name: str, touch: Mapping[str, Any]) -> str:
    """A first/last touch: the channel's name, else what the visit said about where it came from."""
    if channel_name:
        return channel_name
    if not isinstance(touch, Mapping):
        return ""
    campaign = touch.get("campaign")
    campaign = campaign if isinstance(campaign, Mapping) else {}
    described = " / ".join(str(campaign[k]) for k in ("source", "medium") if campaign.get(k))
    if not described and isinstance(touch.get("channel"), str):
        described = touch["channel"]
    if not described and isinstance(touch.get("referrer"), str):
        described = urlsplit(touch["referrer"]).hostname or ""
    return described[:80]


@dataclass
class ActivityFigures:
    last_seen_at: datetime | None
    sessions: int
    page_views: int
    dwell: str
    orders: int
    revenue: str
    first_touch: str
    last_touch: str


def activity_figures(activity: ContactActivity | None) -> ActivityFigures | None:
    if activity is None:
        return None
    first = activity.first_touch_channel.name if activity.first_touch_channel else ""
    last = activity.last_touch_channel.name if activity.last_touch_channel else ""
    return ActivityFigures(
        last_seen_at=activity.last_seen_at,
        sessions=activity.sessions,
        page_views=activity.page_views,
        dwell=duration_text(activity.active_dwell_ms),
        orders=activity.orders,
        revenue=money_text(activity.revenue),
        first_touch=_touch_text(first, activity.first_touch),
        last_touch=_touch_text(last, activity.last_touch),
    )


@require_GET
@actor_required(Permission.CONTACTS_READ)
def contact_activity_view(request: ActorRequest[Actor], contact_id: UUID) -> HttpResponse:
    contact = contact_get_for(request.actor, contact_id)
    before = request.GET.get("before") or None
    try:
        page = contact_events(contact_id=contact.id, before=before, limit=TIMELINE_PAGE)
    except DomainError:  # a cursor that does not decode: start from the newest
        before = None
        page = contact_events(contact_id=contact.id, limit=TIMELINE_PAGE)
    groups = group_by_day(event_rows(page.items, contact=contact))
    context: dict[str, Any] = {
        "contact": contact,
        "groups": groups,
        "next_cursor": page.next_cursor,
        "continues_day": request.GET.get("day", ""),
        "last_day": groups[-1].day.isoformat() if groups else "",
    }
    if before:
        return render(request, "tracking/radar/_activity_more.html", context)
    stream_url = reverse("radar:contact_stream", kwargs={"contact_id": contact.id})
    context.update(
        figures=activity_figures(contact_activity(contact_id=contact.id)),
        stream_url=f"{stream_url}?after={contact_events_cursor(contact_id=contact.id)}",
    )
    return render(request, "tracking/radar/activity.html", context)


# ------------------------------------------------------------------------------------------ streams


def release_connections() -> None:
    """Close the connections this thread opened: under ASGI a stream's thread would keep them forever.

    A connection inside a transaction is left alone: it is not ours to close (a test's, typically).
    """
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


def sse_frame(*, event: str, data: Mapping[str, Any], frame_id: str | int | None = None) -> str:
    lines = [f"id: {frame_id}"] if frame_id is not None else []
    lines += [f"event: {event}", f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}"]
    return "\n".join(lines) + "\n\n"


def _streamable(request: HttpRequest) -> Actor | None:
    actor: Actor | None = getattr(request, "actor", None)
    return actor if actor is not None and actor.member is not None else None


def _refused() -> HttpResponse:
    return HttpResponse(_("Log in to receive live updates."), status=403, content_type="text/plain")


def _event_stream(body: AsyncIterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type="text/event-stream; charset=utf-8")
    response.headers["Cache-Control"] = "no-cache, no-store"
    response.headers["X-Accel-Buffering"] = "no"  # nginx: pass frames through as they come
    return response


def _resume_point(request: HttpRequest) -> str:
    """Where a stream resumes: the Last-Event-ID the browser sends on reconnect, else ?after=."""
    return request.headers.get("Last-Event-ID", "").strip() or request.GET.get("after", "").strip()


async def _poll_loop(poll: Callable[[Any], tuple[list[str], Any]], cursor: Any) -> AsyncIterator[str]:
    """Opening frames, then each poll's frames, heartbeats while quiet, until the time is up."""
    loop = asyncio.get_running_loop()
    started = last_sent = loop.time()
    yield f"retry: {RECONNECT_MS}\n: open\n\n"
    interval = _poll_seconds()
    deadline = started + _max_seconds()
    # Off the thread every sync view of this process shares: a page's request never waits for streams.
    poll_async = sync_to_async(poll, thread_sensitive=False)
    while True:
        frames, cursor = await poll_async(cursor)
        for frame in frames:
            yield frame
            last_sent = loop.time()
        current = loop.time()
        if current >= deadline:
            return
        if current - last_sent >= HEARTBEAT_SECONDS:
            yield ": heartbeat\n\n"
            last_sent = current
        await asyncio.sleep(min(interval, max(0.0, deadline - current)))


def _alert_payload(item: AlertItem, unread: int) -> dict[str, Any]:
    notification = item.notification
    return {
        "id": str(notification.id),
        "version": notification.version,
        "html": render_to_string("tracking/radar/_alert.html", {"item": item}),
        "text": item.text,
        "contact_url": item.contact_url,
        "unread": unread,
        "is_read": not item.is_unread,
        "state": item.state,
    }


def notification_poller(*, actor: Actor, language: str) -> Callable[[int], tuple[list[str], int]]:
    """One poll of a member's alerts: frames for what changed after the cursor, and the new cursor."""

    def poll(cursor: int) -> tuple[list[str], int]:
        try:
            with workspace_scope(actor.workspace_id), translation.override(language):
                changed = notifications_after(actor=actor, version=cursor)
                if not changed:
                    return [], cursor
                unread = notification_unread_count(actor=actor)
                frames = [
                    sse_frame(
                        event="notification",
                        data=_alert_payload(alert_item(n), unread),
                        frame_id=n.version,
                    )
                    for n in changed
                ]
                return frames, changed[-1].version
        finally:
            release_connections()

    return poll


def _latest_version(actor: Actor) -> int:
    try:
        with workspace_scope(actor.workspace_id):
            return notification_latest_version(actor=actor)
    finally:
        release_connections()


async def stream(request: HttpRequest) -> HttpResponseBase:
    """The member's radar alerts as Server-Sent Events (`event: notification`, id = version)."""
    actor = _streamable(request)
    if actor is None:
        return _refused()
    resume = _resume_point(request)
    # Without a resume point the stream starts now; settle "now" before answering, so an alert
    # written while the response is on its way is sent, not mistaken for the starting point.
    cursor = int(resume) if resume.isdigit() else await sync_to_async(_latest_version)(actor)
    poll = notification_poller(actor=actor, language=translation.get_language() or settings.LANGUAGE_CODE)
    return _event_stream(_poll_loop(poll, cursor))


def contact_poller(
    *, actor: Actor, language: str, contact_id: UUID
) -> Callable[[str], tuple[list[str], str]]:
    """One poll of a contact's newly arrived events, as rendered timeline rows."""

    def poll(cursor: str) -> tuple[list[str], str]:
        try:
            with workspace_scope(actor.workspace_id), translation.override(language):
                events, new_cursor = contact_events_after(contact_id=contact_id, cursor=cursor)
                if not events:
                    return [], cursor
                frames = []
                for row in event_rows(events, contact=None):
                    day = row.local_time.date()
                    html = render_to_string("tracking/radar/_event_row.html", {"row": row, "live": True})
                    frames.append(
                        sse_frame(
                            event="activity",
                            data={
                                "id": str(row.event.id),
                                "html": html,
                                "day": day.isoformat(),
                                "day_label": day_label(day),
                            },
                        )
                    )
                # One id for the batch: a reconnect resumes after its last event.
                frames[-1] = f"id: {new_cursor}\n{frames[-1]}"
                return frames, new_cursor
        finally:
            release_connections()

    return poll


def _contact_stream_start(actor: Actor, contact_id: UUID, resume: str) -> tuple[UUID, str]:
    try:
        with workspace_scope(actor.workspace_id):
            contact = contact_get_for(actor, contact_id)
            if resume:
                try:
                    decode_cursor(resume)
                except DomainError:
                    resume = ""
            return contact.id, resume or contact_events_cursor(contact_id=contact.id)
    finally:
        release_connections()


async def contact_stream(request: HttpRequest, contact_id: UUID) -> HttpResponseBase:
    """One contact's newly arrived events as Server-Sent Events (`event: activity`), for its live timeline."""
    actor = _streamable(request)
    if actor is None:
        return _refused()
    try:
        found_id, cursor = await sync_to_async(_contact_stream_start)(
            actor, contact_id, _resume_point(request)
        )
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except DomainError as exc:  # no permission to read contacts
        raise Http404(exc.message) from exc
    language = translation.get_language() or settings.LANGUAGE_CODE
    poll = contact_poller(actor=actor, language=language, contact_id=found_id)
    return _event_stream(_poll_loop(poll, cursor))
