"""Base querysets of stored events and per-contact counters, for set-based readers above (segments)."""

from django.db.models import QuerySet

from siyu.tracking.models import ContactActivity, Event


def event_rows() -> QuerySet[Event]:
    """Stored events that belong to a contact."""
    return Event.objects.filter(contact_id__isnull=False)


def activity_rows() -> QuerySet[ContactActivity]:
    return ContactActivity.objects.all()
