"""Reads of segment sizes, daily entries and exits, memberships and overlaps, for reports.

Sizes per day come from `SegmentDay` (the end-of-day size and the day's entries and exits the
engine keeps); `MembershipChange` gives the exact entries and exits of days without such a row, and
`SegmentMember` the size right now. Scoped to the active workspace by the tenant managers.
"""

from datetime import date, datetime
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils.translation import gettext as _

from siyu.core.errors import NotFound
from siyu.core.ids import uuid_or_none
from siyu.segments.models import MembershipChange, MembershipChangeKind, Segment, SegmentDay, SegmentMember


def segments_for_stats() -> QuerySet[Segment]:
    """Every segment of the workspace, by name (snapshots and static lists included)."""
    return Segment.objects.order_by("name", "id")


def segment_for_stats(*, segment_id: object) -> Segment:
    """One segment of the active workspace; NotFound for another workspace's id or a bad id."""
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


def segment_overlap(*, first: Segment, second: Segment) -> dict[str, int]:
    """Current members of each segment and of both, counted in the database."""
    both = SegmentMember.objects.filter(
        segment=first, contact_id__in=segment_member_ids(segment=second)
    ).count()
    return {"first": segment_size(segment=first), "second": segment_size(segment=second), "both": both}
