"""Base querysets of stored events and per-contact counters, for set-based readers above (segments)."""

from django.db.models import QuerySet

from siyu.tracking.models import ContactActivity, Event, EventNumber


def event_rows() -> QuerySet[Event]:
    """Stored events that belong to a contact."""
    return Event.objects.filter(contact_id__isnull=False)


def number_rows() -> QuerySet[EventNumber]:
    """Numeric properties of stored events that belong to a contact (see `EventNumber`)."""
    return EventNumber.objects.filter(contact_id__isnull=False)


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
