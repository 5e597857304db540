"""What tracking does when the contacts domain reports a merge or a deletion."""

from siyu.contacts.events import ContactDeleted, ContactsMerged
from siyu.core.events import subscribe


def connect() -> None:
    from siyu.tracking.services.contacts import contact_events_delete, contact_events_move

    subscribe(ContactsMerged, contact_events_move)
    subscribe(ContactDeleted, contact_events_delete)
