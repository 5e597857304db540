"""Rows the event processor would write, made directly so the radar can be tested on its own."""

import itertools
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from siyu.core.time import now
from siyu.tenancy.models import Member
from siyu.tracking.models import (
    ContactActivity,
    Event,
    EventMinute,
    Notification,
    NotificationKind,
    Source,
)

_numbers = itertools.count(1)


def radar_source(name: str = "官网") -> Source:
    number = next(_numbers)
    return Source.objects.create(name=name, write_key=f"wk_radar_{number}_{name}")


def radar_event(
    *,
    source: Source,
    contact_id: UUID | None,
    type: str = "track",
    name: str = "",
    properties: dict[str, Any] | None = None,
    timestamp: datetime | None = None,
    received_at: datetime | None = None,
    **fields: Any,
) -> Event:
    moment = timestamp or now()
    return Event.objects.create(
        source=source,
        message_id=f"radar-{next(_numbers)}",
        type=type,
        name=name,
        contact_id=contact_id,
        properties=properties or {},
        timestamp=moment,
        received_at=received_at or moment,
        **fields,
    )


def radar_alert(
    *,
    member: Member,
    contact_id: UUID | None,
    version: int,
    kind: str = NotificationKind.CONTENT_VIEW,
    read: bool = False,
    **data: Any,
) -> Notification:
    moment = now()
    payload = {
        "contact_name": "张三",
        "title": "秋冬护肤指南",
        "url": "https://shop.example.com/articles/1",
        "content_id": "",
        "dwell_ms": 130_000,
        "state": "reading",
        "kind": kind,
        **data,
    }
    return Notification.objects.create(
        member=member,
        kind=kind,
        key=f"view:{next(_numbers)}",
        contact_id=contact_id,
        data=payload,
        created_at=moment,
        updated_at=moment,
        version=version,
        read_at=moment if read else None,
    )


def radar_minute(*, source: Source, minutes_ago: int, type: str, count: int) -> EventMinute:
    minute = now().replace(second=0, microsecond=0) - timedelta(minutes=minutes_ago)
    return EventMinute.objects.create(minute=minute, source=source, type=type, count=count)


def radar_activity(*, contact_id: UUID, **fields: Any) -> ContactActivity:
    return ContactActivity.objects.create(contact_id=contact_id, **fields)
