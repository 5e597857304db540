"""Reads for the segment pages: the size series and "is this contact in?"."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from siyu.contacts.models import Contact
from siyu.contacts.selectors import ContactFilters, contact_list
from siyu.segments.models import Segment, SegmentDay
from siyu.segments.selectors.segments import members_entered_at
from siyu.tenancy.actor import Actor


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
