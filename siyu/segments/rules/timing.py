"""When can a contact's answer to a time-relative rule next change without any new event?

Each time-relative condition yields, per contact, the moments its answer may flip ("the oldest read
in the 7-day window leaves it", "30 days after the last order"); a contact's re-check is the
earliest of them still ahead. Earlier is always safe: a re-check that finds nothing changed simply
schedules the next one.
"""

from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Max, Min, QuerySet

from siyu.contacts.selectors import contact_rows
from siyu.segments.rules.json import JsonText
from siyu.segments.rules.spec import (
    DAY_OPS,
    Condition,
    EventCondition,
    FieldCondition,
    PurchaseCondition,
    RfmCondition,
    condition_is_time_relative,
)
from siyu.segments.rules.sql import Clock, event_base, midnight
from siyu.tracking.selectors.events import activity_rows

DAY = timedelta(days=1)
STREAM_CHUNK = 5000


def next_anniversary(value: date, today: date) -> date:
    year = today.year
    while True:
        try:
            candidate = value.replace(year=year)
        except ValueError:  # 29 February in a common year
            year += 1
            continue
        if candidate >= today:
            return candidate
        year += 1


def date_flips(op: str, days: int, value: date, today: date) -> list[date]:
    """The days on which a date condition's answer can change, from today on."""
    match op:
        case "within_last_days":
            return [value, value + (days + 1) * DAY]
        case "more_than_days_ago":
            return [value + (days + 1) * DAY]
        case "within_next_days":
            return [value - days * DAY, value + DAY]
        case "anniversary_within_days":
            upcoming = next_anniversary(value, today)
            return [upcoming - days * DAY, upcoming + DAY]
    return []


def _parse_date(raw: Any) -> date | None:
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        return None


def _moments(
    condition: Condition, clock: Clock, contact_ids: Iterable[UUID] | None
) -> Iterator[tuple[UUID, datetime]]:
    """(contact, moment at which the answer may flip) pairs; moments may lie in the past."""

    def limit(rows: QuerySet[Any], column: str) -> QuerySet[Any]:
        if contact_ids is None:
            return rows.filter(**{f"{column}__in": contact_rows().values("id")}) if column != "id" else rows
        return rows.filter(**{f"{column}__in": list(contact_ids)})

    match condition:
        case FieldCondition(field=spec, op=op, value=days) if op in DAY_OPS:
            if spec.type == "datetime":
                rows = limit(contact_rows().filter(**{f"{spec.name}__isnull": False}), "id")
                for contact_id, moment in rows.values_list("id", spec.name).iterator(chunk_size=STREAM_CHUNK):
                    yield contact_id, moment + days * DAY
                return
            contacts = limit(contact_rows(), "id")
            if spec.is_custom:
                values = contacts.annotate(day=JsonText("custom", spec.custom_key)).filter(day__isnull=False)
                pairs = values.values_list("id", "day")
            else:
                pairs = contacts.filter(**{f"{spec.name}__isnull": False}).values_list("id", spec.name)
            for contact_id, raw in pairs.iterator(chunk_size=STREAM_CHUNK):
                day = _parse_date(raw)
                if day is not None:
                    for flip in date_flips(op, days, day, clock.today):
                        yield contact_id, midnight(flip)
        case EventCondition(window=window, aggregate=aggregate, op=op, value=value):
            events = limit(event_base(condition, clock), "contact_id").values("contact_id")
            if window.last_seconds is not None:
                span = timedelta(seconds=window.last_seconds)
                oldest = events.annotate(moment=Min("timestamp")).values_list("contact_id", "moment")
                for contact_id, moment in oldest.iterator(chunk_size=STREAM_CHUNK):
                    yield contact_id, moment + span
            if aggregate in ("first", "last") and op in DAY_OPS:
                moment_of = Min("timestamp") if aggregate == "first" else Max("timestamp")
                pairs = events.annotate(moment=moment_of).values_list("contact_id", "moment")
                for contact_id, moment in pairs.iterator(chunk_size=STREAM_CHUNK):
                    yield contact_id, moment + value * DAY
        case PurchaseCondition(measure="recency_days", value=value):
            offsets = sorted(
                {n + extra for n in (value if isinstance(value, tuple) else (value,)) for extra in (0, 1)}
            )
            rows = limit(activity_rows().filter(last_order_at__isnull=False), "contact_id")
            for contact_id, last in rows.values_list("contact_id", "last_order_at").iterator(
                chunk_size=STREAM_CHUNK
            ):
                for offset in offsets:
                    yield contact_id, last + offset * DAY
        case RfmCondition():
            if clock.rfm is not None:
                offset = (clock.rfm.recency_high_max_days + 1) * DAY
                rows = limit(activity_rows().filter(last_order_at__isnull=False), "contact_id")
                for contact_id, last in rows.values_list("contact_id", "last_order_at").iterator(
                    chunk_size=STREAM_CHUNK
                ):
                    yield contact_id, last + offset


def next_checks(
    conditions: Iterable[Condition], clock: Clock, *, contact_ids: Iterable[UUID] | None = None
) -> dict[UUID, datetime]:
    """Each contact's earliest flip moment still ahead of `clock.now`, over every time-relative condition."""
    ids = None if contact_ids is None else list(contact_ids)
    due: dict[UUID, datetime] = {}
    for condition in conditions:
        if not condition_is_time_relative(condition):
            continue
        for contact_id, moment in _moments(condition, clock, ids):
            if moment > clock.now and (contact_id not in due or moment < due[contact_id]):
                due[contact_id] = moment
    return due
