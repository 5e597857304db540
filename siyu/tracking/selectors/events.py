"""Base querysets of stored events and per-contact counters, for set-based readers above (segments)."""

from datetime import datetime

from django.db.models import QuerySet

from siyu.tracking.models import ContactActivity, Event, EventNumber, EventText

NUMBERS_BY_TIME = "eventnumber_window"
NUMBERS_BY_CONTACT = "eventnumber_by_contact"  # SQLite only (migration 0007)
# The share of a key's history above which reading all of it in contact order beats sorting the
# window by contact (SQLite, 1M contacts, 180 days of reads: a 30-day window sorted took 1.8 s, the
# whole history in contact order 0.67 s; a 7-day window 0.45 s against 0.5 s).
CONTACT_ORDER_SHARE = 1 / 12


def event_rows() -> QuerySet[Event]:
    """Stored events that belong to a contact."""
    return Event.objects.filter(contact_id__isnull=False)


def number_rows() -> QuerySet[EventNumber]:
    """Numeric properties of stored events that belong to a contact (see `EventNumber`)."""
    return EventNumber.objects.filter(contact_id__isnull=False)


def text_rows() -> QuerySet[EventText]:
    """Short text properties of stored events that belong to a contact (see `EventText`)."""
    return EventText.objects.filter(contact_id__isnull=False)


def number_window_index(*, type: str, name: str, key: str, since: datetime, now: datetime) -> str:
    """SQLite: the `EventNumber` index from which to aggregate one key per contact since `since`.

    SQLite groups by sorting. The time-ordered index reads just the window and sorts it; the
    contact-ordered one needs no sort but reads the key's whole history. The window's share of that
    history decides: is there a row older than the window divided by that share (one index seek)?"""
    if not name:  # events of any name: neither index gives one key's rows in contact order
        return NUMBERS_BY_TIME
    horizon = now - (now - since) / CONTACT_ORDER_SHARE
    longer = EventNumber.objects.filter(type=type, name=name, key=key, timestamp__lt=horizon).exists()
    return NUMBERS_BY_TIME if longer else NUMBERS_BY_CONTACT


def activity_rows() -> QuerySet[ContactActivity]:
    return ContactActivity.objects.all()


def event_names_recent(*, sample: int = 20_000) -> list[tuple[str, str, int]]:
    """(type, name, count) of the most recent events, most frequent first: names for rule pickers."""
    counts: dict[tuple[str, str], int] = {}
    recent = Event.objects.order_by("-received_at").values_list("type", "name")[:sample]
    for kind, name in recent:
        counts[(kind, name)] = counts.get((kind, name), 0) + 1
    return sorted(((kind, name, n) for (kind, name), n in counts.items()), key=lambda row: (-row[2], row[1]))


def event_property_keys(*, type: str, name: str, sample: int = 2000) -> list[tuple[str, str]]:
    """(key, JSON type: "text" | "number" | "other") of properties seen on recent events of a kind."""
    events = Event.objects.filter(type=type)
    if name:
        events = events.filter(name=name)
    seen: dict[str, str] = {}
    for properties in events.order_by("-received_at").values_list("properties", flat=True)[:sample]:
        for key, value in (properties or {}).items():
            kind = (
                "number"
                if isinstance(value, int | float) and not isinstance(value, bool)
                else "text"
                if isinstance(value, str)
                else "other"
            )
            seen.setdefault(key, kind)
    return sorted(seen.items())
