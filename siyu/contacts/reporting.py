"""Reads of contacts for reports: who was acquired when and through which channel, and which
lifecycle stages they reached and when.

Everything returns a queryset or an expression for the database to aggregate (GROUP BY, conditional
counts, semi-joins); nothing here walks contacts in Python. Callers (the analytics domain) compose
these with their own grouping. All reads are scoped to the active workspace by the tenant managers.

Definitions (docs/analytics.md):
- A contact is *acquired* when it was created (`Contact.created_at`), through its `channel`.
- A contact has *reached* a stage when its current stage is that stage or a later one, or its stage
  history records a move to that stage or a later one (a stage moved back by hand stays reached).
- It reached a stage *at* the earliest recorded move to that stage or a later one; every contact's
  history starts with the move to its first stage at creation.
"""

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from django.db.models import (
    Case,
    DateField,
    DateTimeField,
    Expression,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)

from siyu.contacts.models import STAGE_ORDER, Channel, Contact, Stage, StageChange
from siyu.core.time import day_start, month_after

CONVERTED_STAGE = Stage.CUSTOMER
RETENTION_DAYS = (30, 60, 90)
RETENTION_WINDOW_DAYS = 30
DAY = timedelta(days=1)


def retention_window(days: int) -> tuple[timedelta, timedelta]:
    """The N-day window: days N-29 … N after acquisition (day 0 is the first 24 hours), half-open."""
    return (days - RETENTION_WINDOW_DAYS + 1) * DAY, (days + 1) * DAY


def retained_field(days: int) -> str:
    """The contact's flag for activity in the N-day window (`Contact.retained_30` …)."""
    return f"retained_{days}"


def retention_hits(created_at: datetime, moments: Iterable[datetime]) -> set[str]:
    """The retention flags that activity at these moments sets for a contact created at `created_at`."""
    hits = set()
    for moment in moments:
        offset = moment - created_at
        for days in RETENTION_DAYS:
            start, end = retention_window(days)
            if start <= offset < end:
                hits.add(retained_field(days))
    return hits


def stages_from(stage: Stage) -> list[str]:
    """The stage and every later one, as stored values."""
    return [s.value for s in STAGE_ORDER[STAGE_ORDER.index(stage) :]]


def report_channels() -> QuerySet[Channel]:
    """Every channel of the workspace (inactive ones too: their contacts still count), by name."""
    return Channel.objects.order_by("name", "id")


def contacts_acquired(
    *,
    since: datetime,
    until: datetime,
    channel_ids: Sequence[UUID] | None = None,
    include_no_channel: bool = False,
    contact_ids: QuerySet[Any, Any] | None = None,
) -> QuerySet[Contact]:
    """Contacts created in `[since, until)`.

    `channel_ids` keeps those channels only (None: every channel); `include_no_channel` adds the
    contacts without a channel to a channel selection. `contact_ids` (a values queryset of ids, e.g. a
    segment's members) narrows further, as a semi-join in the database.
    """
    rows = Contact.objects.filter(created_at__gte=since, created_at__lt=until)
    if channel_ids is not None:
        wanted = Q(channel_id__in=list(channel_ids))
        if include_no_channel:
            wanted |= Q(channel__isnull=True)
        rows = rows.filter(wanted)
    if contact_ids is not None:
        rows = rows.filter(id__in=contact_ids)
    return rows.order_by()


def stage_at_least_q(stage: Stage) -> Q:
    """Contacts whose current stage is `stage` or a later one."""
    return Q(stage__in=stages_from(stage))


def moved_back_from(stage: Stage, *, contacts: QuerySet[Contact]) -> QuerySet[Contact]:
    """Of `contacts`, those whose current stage is earlier than `stage` although their history reached
    it (moved back by hand): with `stage_at_least_q`, the contacts that have reached `stage`.

    Kept apart so the database can answer it as one semi-join of the stage history instead of a
    probe per contact; moved-back contacts are few.
    """
    reached = StageChange.objects.filter(to_stage__in=stages_from(stage)).values("contact_id")
    return contacts.exclude(stage_at_least_q(stage)).filter(id__in=reached)


def stage_history(stage: Stage, *, contact: Expression | OuterRef | None = None) -> QuerySet[StageChange]:
    """The moves of the contact (the outer row by default) to `stage` or a later one, for EXISTS."""
    return StageChange.objects.filter(contact_id=contact or OuterRef("pk"), to_stage__in=stages_from(stage))


def stage_reached_at(stage: Stage, *, contact: Expression | OuterRef | None = None) -> Subquery:
    """When the contact (the outer row by default) first moved to `stage` or a later one, else NULL."""
    moves = stage_history(stage, contact=contact).order_by("changed_at")
    return Subquery(moves.values("changed_at")[:1], output_field=DateTimeField())


def seen_since_q(offset: timedelta) -> Q:
    """Contacts last seen (any tracked activity) at or after `offset` past their acquisition.

    `last_seen_at` only ever moves forward to the newest processed event (merges keep the later of
    the two), so a contact not seen since a moment has no event after it: a cheap test that spares
    the event index a probe for contacts that never came back.
    """
    return Q(last_seen_at__gte=F("created_at") + offset)


def by_channel_and_month(contacts: QuerySet[Contact], *, months: Sequence[date]) -> QuerySet[Any, Any]:
    """The contacts, acquired within `months` (first days of calendar months in the current time
    zone), grouped by acquisition channel and month: a values queryset of `channel_id, month` (a
    date) for the caller to annotate with its counts.

    The month is a CASE over the months' local boundaries — plain comparisons — rather than a
    truncation in the local time zone, which SQLite runs as a Python function call per contact.
    """
    boundaries = [When(created_at__lt=day_start(month_after(m)), then=Value(m)) for m in sorted(months)]
    month_of = Case(*boundaries, default=Value(None), output_field=DateField())
    return contacts.annotate(month=month_of).values("channel_id", "month").order_by()
