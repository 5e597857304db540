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

from django.db.models import BooleanField, Max, Min, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Substr
from django.db.models.lookups import In

from siyu.contacts.selectors import contact_rows
from siyu.segments.rules.json import JsonText, MonthDay
from siyu.segments.rules.spec import (
    DAY_OPS,
    Condition,
    EventCondition,
    FieldCondition,
    PurchaseCondition,
    RfmCondition,
    condition_is_time_relative,
)
from siyu.segments.rules.sql import Clock, event_base
from siyu.tracking.selectors.events import activity_rows

DAY = timedelta(days=1)
STREAM_CHUNK = 5000


def _moments(
    condition: Condition, clock: Clock, contact_ids: Iterable[UUID] | None
) -> Iterator[tuple[UUID, datetime]]:
    """(contact, moment at which the answer may flip) pairs, only for moments still ahead.

    Conditions on dates (not date-times) change at local midnight and are handled by day boundaries
    (`date_flip_q`), not by per-contact re-checks.
    """

    def limit(rows: QuerySet[Any], column: str) -> QuerySet[Any]:
        if contact_ids is None:
            return rows.filter(**{f"{column}__in": contact_rows().values("id")}) if column != "id" else rows
        return rows.filter(**{f"{column}__in": list(contact_ids)})

    match condition:
        case FieldCondition(field=spec, op=op, value=days) if op in DAY_OPS and spec.type == "datetime":
            span = days * DAY
            rows = limit(contact_rows().filter(**{f"{spec.name}__gt": clock.now - span}), "id")
            for contact_id, moment in rows.values_list("id", spec.name).iterator(chunk_size=STREAM_CHUNK):
                yield contact_id, moment + span
        case EventCondition(window=window, aggregate=aggregate, op=op, value=value):
            events = limit(event_base(condition, clock), "contact_id").values("contact_id")
            if window.last_seconds is not None:
                span = timedelta(seconds=window.last_seconds)
                oldest = events.annotate(moment=Min("timestamp")).values_list("contact_id", "moment")
                for contact_id, moment in oldest.iterator(chunk_size=STREAM_CHUNK):
                    yield contact_id, moment + span
            if aggregate in ("first", "last") and op in DAY_OPS:
                span = value * DAY
                moment_of = Min("timestamp") if aggregate == "first" else Max("timestamp")
                pairs = events.annotate(moment=moment_of).filter(moment__gt=clock.now - span)
                for contact_id, moment in pairs.values_list("contact_id", "moment").iterator(
                    chunk_size=STREAM_CHUNK
                ):
                    yield contact_id, moment + span
        case PurchaseCondition(measure="recency_days", value=value):
            bounds = value if isinstance(value, tuple) else (value,)
            offsets = sorted({(n + extra) * DAY for n in bounds for extra in (0, 1)})
            recent = activity_rows().filter(last_order_at__gt=clock.now - offsets[-1])
            rows = limit(recent, "contact_id").values_list("contact_id", "last_order_at")
            for contact_id, last in rows.iterator(chunk_size=STREAM_CHUNK):
                for offset in offsets:
                    yield contact_id, last + offset
        case RfmCondition():
            if clock.rfm is not None:
                offset = (clock.rfm.recency_high_max_days + 1) * DAY
                recent = activity_rows().filter(last_order_at__gt=clock.now - offset)
                rows = limit(recent, "contact_id").values_list("contact_id", "last_order_at")
                for contact_id, last in rows.iterator(chunk_size=STREAM_CHUNK):
                    yield contact_id, last + offset


def date_conditions(conditions: Iterable[Condition]) -> list[FieldCondition]:
    """The rule's conditions on dates relative to today (they change at local midnight)."""
    return [
        c for c in conditions if isinstance(c, FieldCondition) and c.field.type == "date" and c.op in DAY_OPS
    ]


def flip_values(op: str, days: int, day: date) -> tuple[list[date], list[str]]:
    """The date values (exact dates, or 'MM-DD' for anniversaries) whose answer changes when `day` begins:
    the days on which such a condition's answer can change, turned around."""
    match op:
        case "within_last_days":
            return [day, day - (days + 1) * DAY], []
        case "more_than_days_ago":
            return [day - (days + 1) * DAY], []
        case "within_next_days":
            return [day + days * DAY, day - DAY], []
        case "anniversary_within_days":
            return [], [(day + days * DAY).strftime("%m-%d"), (day - DAY).strftime("%m-%d")]
    return [], []


def date_flip_q(condition: FieldCondition, day: date) -> Q:
    """Contacts whose answer to a date condition changes when `day` begins."""
    dates, month_days = flip_values(condition.op, condition.value, day)
    spec = condition.field
    if spec.is_custom:
        text = JsonText("custom", spec.custom_key)
        if month_days:
            return Q(Coalesce(In(Substr(text, 6, 5), month_days), Value(False), output_field=BooleanField()))
        return Q(
            Coalesce(In(text, [d.isoformat() for d in dates]), Value(False), output_field=BooleanField())
        )
    if month_days:
        return Q(Coalesce(In(MonthDay(spec.name), month_days), Value(False), output_field=BooleanField()))
    return Q(**{f"{spec.name}__in": dates})


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
