"""Hand-built rows for analytics tests: contacts acquired at chosen times, their stage history,
events, orders, reading records and segment memberships, written straight to the tables."""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from siyu.contacts.models import Channel, Contact, Stage, StageChange
from siyu.contacts.services.tracked import contacts_seen
from siyu.segments.models import MembershipChange, MembershipChangeKind, Segment, SegmentDay, SegmentMember
from siyu.tracking.models import Content, ContentKind, ContentViewer, Event, Purchase, Source
from tests.factories import ChannelFactory, ContactFactory

# Every test measures from this moment (passed as `as_of`) so figures do not depend on the clock.
NOW = datetime(2026, 6, 30, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai, 30 June 2026

SHANGHAI = ZoneInfo("Asia/Shanghai")
_numbers = itertools.count(1)


def local_day(day: int, hour: int = 10, *, month: int = 6) -> datetime:
    """A moment of a day of June 2026 (by default), in Asia/Shanghai."""
    return datetime(2026, month, day, hour, tzinfo=SHANGHAI)


def days_ago(days: float, *, base: datetime = NOW) -> datetime:
    return base - timedelta(days=days)


def channel(name: str, **fields: Any) -> Channel:
    return ChannelFactory(name=name, code=f"c{next(_numbers)}", **fields)


def contact(
    *,
    created_at: datetime,
    channel: Channel | None = None,
    stage: Stage | None = None,
    first_stage: Stage = Stage.VISITOR,
    history: list[tuple[Stage, datetime]] | None = None,
) -> Contact:
    """A contact acquired at `created_at` at `first_stage`, then moved as `history` says.

    Its current stage is `stage` when given (a stage set without history), else the last move's.
    """
    moves = [(first_stage, created_at), *(history or [])]
    row = ContactFactory(channel=channel, stage=stage or moves[-1][0])
    Contact.objects.filter(id=row.id).update(created_at=created_at)
    row.created_at = created_at
    previous = ""
    for to_stage, at in moves:
        change = StageChange.objects.create(contact=row, from_stage=previous, to_stage=to_stage)
        StageChange.objects.filter(id=change.id).update(changed_at=at)
        previous = to_stage
    return row


def event(who: Contact, at: datetime, *, via: Source, name: str = "Product Viewed") -> Event:
    """An event of the contact; like the processor, it moves the contact's `last_seen_at` forward and
    sets the retention flags it falls in."""
    contacts_seen(moments={who.id: [at]})
    return Event.objects.create(
        source=via,
        message_id=f"a-{next(_numbers)}",
        type="track",
        name=name,
        contact_id=who.id,
        timestamp=at,
        received_at=at,
    )


def purchase(who: Contact, at: datetime, amount: str) -> Purchase:
    number = next(_numbers)
    return Purchase.objects.create(
        order_no=f"NO{number}",
        contact_id=who.id,
        placed_at=at,
        amount=Decimal(amount),
        message_id=f"p-{number}",
    )


def article(title: str) -> Content:
    return Content.objects.create(kind=ContentKind.ARTICLE, title=title, is_published=True)


def viewed(who: Contact, content: Content, at: datetime) -> ContentViewer:
    return ContentViewer.objects.create(
        content=content, contact_id=who.id, views=1, first_viewed_at=at, last_viewed_at=at
    )


def segment(name: str) -> Segment:
    return Segment.objects.create(name=name)


def member(of: Segment, who: Contact, at: datetime) -> SegmentMember:
    return SegmentMember.objects.create(segment=of, contact=who, entered_at=at)


def change(of: Segment, who: Contact, kind: str, at: datetime) -> MembershipChange:
    return MembershipChange.objects.create(segment=of, contact=who, kind=kind, cause="activity", at=at)


ENTERED = MembershipChangeKind.ENTERED
EXITED = MembershipChangeKind.EXITED


def segment_day(of: Segment, day: date, *, size: int, entered: int = 0, exited: int = 0) -> SegmentDay:
    return SegmentDay.objects.create(segment=of, day=day, size=size, entered=entered, exited=exited)
