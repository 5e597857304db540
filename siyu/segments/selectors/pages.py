"""Reads for the segment pages: search, members' entry times, the size series, history within the
actor's data scope, a contact's recent entries and exits, and "is this contact in?"."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from uuid import UUID

from django.db.models import QuerySet

from siyu.contacts.models import Contact
from siyu.contacts.selectors import ContactFilters, contact_list, contact_scoped
from siyu.segments.models import MembershipChange, Segment, SegmentDay, SegmentMember
from siyu.tenancy.actor import Actor


def segment_search(*, query: str = "") -> QuerySet[Segment]:
    """Every segment of the workspace whose name contains `query`, by name, with its creator."""
    segments = Segment.objects.select_related("created_by").order_by("name")
    query = query.strip()
    return segments.filter(name__icontains=query) if query else segments


def members_entered_at(*, segment: Segment, contact_ids: Iterable[UUID]) -> dict[UUID, datetime]:
    rows = SegmentMember.objects.filter(segment=segment, contact_id__in=list(contact_ids)).values_list(
        "contact_id", "entered_at"
    )
    return dict(rows)


@dataclass(frozen=True)
class DayFigure:
    day: date
    size: int
    entered: int
    exited: int


def segment_size_series(*, segment: Segment, start: date, end: date) -> list[DayFigure]:
    """One figure per day from `start` to `end`: a day without a stored row keeps the previous size and
    had no entries or exits."""
    before = SegmentDay.objects.filter(segment=segment, day__lt=start).order_by("-day").first()
    size = before.size if before else 0
    stored = {
        row.day: row for row in SegmentDay.objects.filter(segment=segment, day__gte=start, day__lte=end)
    }
    figures: list[DayFigure] = []
    day = start
    while day <= end:
        row = stored.get(day)
        if row is not None:
            size = row.size
            figures.append(DayFigure(day=day, size=size, entered=row.entered, exited=row.exited))
        else:
            figures.append(DayFigure(day=day, size=size, entered=0, exited=0))
        day += timedelta(days=1)
    return figures


def segment_changes_visible(
    *, actor: Actor, segment: Segment, kind: str = "", offset: int = 0, limit: int = 50
) -> tuple[list[MembershipChange], bool]:
    """One page of the segment's entries and exits (newest first) for contacts the actor may see;
    returns the rows and whether there are more."""
    changes = MembershipChange.objects.filter(
        segment=segment, contact_id__in=contact_scoped(actor=actor).values("id")
    )
    if kind:
        changes = changes.filter(kind=kind)
    rows = list(changes.select_related("contact").order_by("-at", "-id")[offset : offset + limit + 1])
    return rows[:limit], len(rows) > limit


def contact_recent_changes(*, contact_id: UUID, limit: int = 10) -> list[MembershipChange]:
    """A contact's latest entries into and exits from segments, with the segment."""
    return list(
        MembershipChange.objects.filter(contact_id=contact_id)
        .select_related("segment")
        .order_by("-at", "-id")[:limit]
    )


@dataclass(frozen=True)
class LookupRow:
    contact: Contact
    entered_at: datetime | None  # None: not a member


def segment_lookup(*, actor: Actor, segment: Segment, query: str, limit: int = 10) -> list[LookupRow]:
    """Contacts the actor may see that match a search (name, pinyin, phone suffix, email, identity),
    each with whether and since when it is in the segment."""
    if not query.strip():
        return []
    contacts = list(
        contact_list(actor=actor, filters=ContactFilters(q=query.strip())).select_related("owner")[:limit]
    )
    entered = members_entered_at(segment=segment, contact_ids=[c.id for c in contacts])
    return [LookupRow(contact=c, entered_at=entered.get(c.id)) for c in contacts]
