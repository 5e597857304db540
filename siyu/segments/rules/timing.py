"""When can a contact's answer to a time-relative rule next change without any new event?

Each time-relative condition yields, per contact, the moments its answer may flip ("the oldest read
in the 7-day window leaves it", "30 days after the last order"); a contact's re-check is the
earliest of them still ahead. Earlier is always safe: a re-check that finds nothing changed simply
schedules the next one.
"""

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    DateTimeField,
    F,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Substr
from django.db.models.lookups import In

from siyu.contacts.selectors import contact_rows
from siyu.core.db import datetime_plus
from siyu.segments.rules.json import JsonText, MonthDay
from siyu.segments.rules.spec import (
    DAY_OPS,
    All,
    AnyOf,
    Condition,
    EventCondition,
    FieldCondition,
    Node,
    Not,
    PurchaseCondition,
    RfmCondition,
    condition_is_time_relative,
)
from siyu.segments.rules.sql import Clock, event_base, measured_rows
from siyu.tracking.selectors.events import activity_rows

DAY = timedelta(days=1)


WHO_MEMBERS = "members"
WHO_OTHERS = "others"
WHO_ALL = "all"


def time_flip(condition: Condition, *, nonnegative: bool = False) -> str:
    """How time alone can change a condition's answer: "leave" (true → false only: windows whose
    events age out of a count of at least N), "enter" (false → true only: "no order in 30 days"),
    or "both". `nonnegative`: for a contact whose summed values are none below zero (a sum over a
    window then only falls as time passes, like a count)."""
    match condition:
        case FieldCondition(op="within_last_days"):
            return "leave"
        case FieldCondition(op="more_than_days_ago"):
            return "enter"
        case EventCondition(window=window, aggregate=aggregate, op=op):
            if window.is_relative:
                if aggregate == "count" or (aggregate == "sum" and nonnegative):
                    if op in ("gte", "gt"):
                        return "leave"
                    if op in ("lte", "lt"):
                        return "enter"
                return "both"
            return {"within_last_days": "leave", "more_than_days_ago": "enter"}.get(op, "both")
        case PurchaseCondition(op=op):
            return {"gte": "enter", "gt": "enter", "lte": "leave", "lt": "leave"}.get(op, "both")
    return "both"


def recheck_targets(root: Node, *, nonnegative: bool = False) -> list[tuple[Condition, str]]:
    """The rule's time-relative conditions (those that need per-contact re-checks, not day boundaries),
    each with whose re-checks can matter: a condition that can only turn false under an even number
    of NOTs can only take contacts out of the segment, so only members need re-checking for it; one
    that can only turn true, only non-members. `nonnegative` as for `time_flip`."""
    found: list[tuple[Condition, str]] = []

    def walk(node: Node, negated: bool) -> None:
        match node:
            case All(children=children) | AnyOf(children=children):
                for child in children:
                    walk(child, negated)
            case Not(child=child):
                walk(child, not negated)
            case _:
                condition: Condition = node
                if not condition_is_time_relative(condition) or _is_day_condition(condition):
                    return
                flip = time_flip(condition, nonnegative=nonnegative)
                if flip == "both":
                    found.append((condition, WHO_ALL))
                else:
                    leaves = (flip == "leave") != negated
                    found.append((condition, WHO_MEMBERS if leaves else WHO_OTHERS))

    walk(root, False)
    return found


def _is_day_condition(condition: Condition) -> bool:
    return isinstance(condition, FieldCondition) and condition.field.type == "date"


def moment_sources(condition: Condition, clock: Clock) -> list[tuple[QuerySet[Any], str]]:
    """Querysets of (contact id, moment at which the condition's answer may flip), each with the name
    of its contact column, for the clock's contacts (`Clock.within`). Moments may lie in the past;
    callers keep those still ahead.

    Conditions on dates (not date-times) change at local midnight and are handled by day boundaries
    (`date_flip_q`), not by per-contact re-checks.
    """
    sources: list[tuple[QuerySet[Any], str]] = []
    match condition:
        case FieldCondition(field=spec, op=op, value=days) if op in DAY_OPS and spec.type == "datetime":
            span = days * DAY
            rows = clock.rows(contact_rows(), "id").filter(**{f"{spec.name}__gt": clock.now - span})
            sources.append(
                (rows.annotate(moment=datetime_plus(F(spec.name), span)).values_list("id", "moment"), "id")
            )
        case EventCondition(window=window, aggregate=aggregate, op=op, value=value):
            events = event_base(condition, clock).order_by().values("contact_id")
            if window.last_seconds is not None:
                span = timedelta(seconds=window.last_seconds)
                measured = measured_rows(condition, clock)
                if measured is not None:  # a full build read the window once already
                    oldest = measured.annotate(moment=datetime_plus(F("oldest"), span))
                else:
                    oldest = events.annotate(moment=datetime_plus(Min("timestamp"), span))
                sources.append((oldest.values_list("contact_id", "moment"), "contact_id"))
            if aggregate in ("first", "last") and op in DAY_OPS:
                span = value * DAY
                moment_of = Min("timestamp") if aggregate == "first" else Max("timestamp")
                pairs = events.annotate(occurred=moment_of).filter(occurred__gt=clock.now - span)
                pairs = pairs.annotate(moment=datetime_plus(F("occurred"), span))
                sources.append((pairs.values_list("contact_id", "moment"), "contact_id"))
        case PurchaseCondition(measure="recency_days", value=value):
            bounds = value if isinstance(value, tuple) else (value,)
            offsets = sorted({(n + extra) * DAY for n in bounds for extra in (0, 1)})
            recent = clock.rows(activity_rows()).filter(last_order_at__gt=clock.now - offsets[-1])
            # The earliest of those moments still ahead, in one pass over the recent buyers.
            ahead = [
                When(last_order_at__gt=clock.now - offset, then=datetime_plus(F("last_order_at"), offset))
                for offset in offsets[:-1]
            ]
            last = datetime_plus(F("last_order_at"), offsets[-1])
            moment = Case(*ahead, default=last, output_field=DateTimeField()) if ahead else last
            sources.append((recent.annotate(moment=moment).values_list("contact_id", "moment"), "contact_id"))
        case RfmCondition():
            if clock.rfm is not None:
                offset = (clock.rfm.recency_high_max_days + 1) * DAY
                recent = clock.rows(activity_rows()).filter(last_order_at__gt=clock.now - offset)
                moments = recent.annotate(moment=datetime_plus(F("last_order_at"), offset))
                sources.append((moments.values_list("contact_id", "moment"), "contact_id"))
    return [(rows.order_by(), column) for rows, column in sources]


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
