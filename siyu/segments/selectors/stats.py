"""Reads of segment sizes, daily entries and exits, memberships and overlaps, for reports.

Sizes per day come from `SegmentDay` (the end-of-day size and the day's entries and exits the
engine keeps); `MembershipChange` gives the exact entries and exits of days without such a row, and
`SegmentMember` the size right now. Scoped to the active workspace by the tenant managers.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.errors import NotFound
from siyu.core.ids import uuid_or_none
from siyu.core.time import day_start
from siyu.segments.models import MembershipChange, MembershipChangeKind, Segment, SegmentDay, SegmentMember
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission


def segments_for_stats(*, actor: Actor) -> QuerySet[Segment]:
    """Every segment of the workspace, by name (snapshots and static lists included), for someone who
    may read the reports."""
    actor.require(Permission.ANALYTICS_READ)
    return Segment.objects.order_by("name", "id")


def segment_for_stats(*, actor: Actor, segment_id: object) -> Segment:
    """One segment of the active workspace, for someone who may read the reports: the one way the
    reports fetch a segment by id. NotFound for another workspace's id or a bad id."""
    actor.require(Permission.ANALYTICS_READ)
    key = uuid_or_none(segment_id)
    segment = Segment.objects.filter(id=key).first() if key else None
    if segment is None:
        raise NotFound(_("This segment does not exist or was deleted."))
    return segment


def segment_member_ids(*, segment: Segment) -> QuerySet[SegmentMember, Any]:
    """The current members' contact ids, for `id IN (…)` filters (answered from the unique index)."""
    return SegmentMember.objects.filter(segment=segment).order_by().values("contact_id")


def segment_size(*, segment: Segment) -> int:
    return SegmentMember.objects.filter(segment=segment).count()


def segment_days(*, segment: Segment, start: date, end: date) -> QuerySet[SegmentDay]:
    """The engine's end-of-day rows from `start` to `end` (both included), oldest first."""
    return SegmentDay.objects.filter(segment=segment, day__gte=start, day__lte=end).order_by("day")


def segment_day_before(*, segment: Segment, day: date) -> SegmentDay | None:
    """The newest end-of-day row before `day`, if any."""
    return SegmentDay.objects.filter(segment=segment, day__lt=day).order_by("-day").first()


def segment_changes_by_day(*, segment: Segment, since: datetime, until: datetime) -> QuerySet[Any, Any]:
    """Rows of `day, entered, exited` (local days) from the membership history in `[since, until)`."""
    return (
        MembershipChange.objects.filter(segment=segment, at__gte=since, at__lt=until)
        .annotate(day=TruncDate("at"))
        .values("day")
        .annotate(
            entered=Count("id", filter=Q(kind=MembershipChangeKind.ENTERED)),
            exited=Count("id", filter=Q(kind=MembershipChangeKind.EXITED)),
        )
        .order_by("day")
    )


def segment_net_change(*, segment: Segment, since: datetime) -> int:
    """Entries minus exits recorded from `since` until now."""
    row = MembershipChange.objects.filter(segment=segment, at__gte=since).aggregate(
        entered=Count("id", filter=Q(kind=MembershipChangeKind.ENTERED)),
        exited=Count("id", filter=Q(kind=MembershipChangeKind.EXITED)),
    )
    return int(row["entered"]) - int(row["exited"])


@dataclass(frozen=True)
class DayFigure:
    day: date
    size: int  # at the end of the day
    entered: int
    exited: int


def segment_size_series(*, segment: Segment, start: date, end: date, today: date) -> list[DayFigure]:
    """The segment's size at the end of each day from `start` to `end` (not past `today`), with the
    day's entries and exits.

    A day with an engine row (SegmentDay) shows it; a day without one takes its entries and exits from
    the membership history and its size from the day before (the live size for today). Before the
    first engine row, the size is worked back from today's members and the history since.
    """
    last = min(end, today)
    if last < start:
        return []
    since, until = day_start(start), day_start(last + timedelta(days=1))
    stored = {row.day: row for row in segment_days(segment=segment, start=start, end=last)}
    changes = {
        _local_day(row["day"]): row
        for row in segment_changes_by_day(segment=segment, since=since, until=until)
    }
    size_now = segment_size(segment=segment)
    before = segment_day_before(segment=segment, day=start)
    size = before.size if before is not None else size_now - segment_net_change(segment=segment, since=since)
    figures: list[DayFigure] = []
    day = start
    while day <= last:
        row = stored.get(day)
        if row is not None:
            size = row.size
            figures.append(DayFigure(day=day, size=size, entered=row.entered, exited=row.exited))
        else:
            change = changes.get(day, {"entered": 0, "exited": 0})
            size = size_now if day == today else max(0, size + change["entered"] - change["exited"])
            figures.append(DayFigure(day=day, size=size, entered=change["entered"], exited=change["exited"]))
        day += timedelta(days=1)
    return figures


def _local_day(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def segment_overlap(*, first: Segment, second: Segment) -> dict[str, int]:
    """Current members of each segment and of both, counted in the database."""
    both = SegmentMember.objects.filter(
        segment=first, contact_id__in=segment_member_ids(segment=second)
    ).count()
    return {"first": segment_size(segment=first), "second": segment_size(segment=second), "both": both}
