"""The segments domain listens to the domains below it and re-evaluates only what a change can affect."""

from uuid import UUID

from siyu.contacts.events import ContactDeleted, ContactsChanged, ContactsCreated, ContactsMerged
from siyu.core.events import subscribe
from siyu.core.time import now as clock_now
from siyu.segments.models import ChangeCause, SegmentMember
from siyu.segments.services.evaluation import EVERYTHING, segments_reevaluate
from siyu.segments.services.membership import changes_apply
from siyu.tracking.events import ActivityRecorded


def on_activity_recorded(event: ActivityRecorded) -> None:
    keys: set[str] = set()
    for changed in event.changes.values():
        keys |= changed
    segments_reevaluate(contact_ids=event.changes.keys(), keys=keys)


def on_contacts_created(event: ContactsCreated) -> None:
    segments_reevaluate(contact_ids=event.contact_ids, keys=[EVERYTHING])


def on_contacts_changed(event: ContactsChanged) -> None:
    keys = [EVERYTHING] if "*" in event.aspects else event.aspects
    segments_reevaluate(contact_ids=event.contact_ids, keys=keys)


def _leave_everything(contact_id: UUID) -> None:
    """A contact about to disappear leaves its segments with exit records (the rows cascade after)."""
    moment = clock_now()
    for segment_id in SegmentMember.objects.filter(contact_id=contact_id).values_list(
        "segment_id", flat=True
    ):
        changes_apply(
            segment_id=segment_id, entered=[], exited=[contact_id], cause=ChangeCause.ACTIVITY, at=moment
        )


def on_contacts_merged(event: ContactsMerged) -> None:
    _leave_everything(event.merged_id)
    segments_reevaluate(contact_ids=[event.survivor_id], keys=[EVERYTHING])


def on_contact_deleted(event: ContactDeleted) -> None:
    _leave_everything(event.contact_id)


subscribe(ActivityRecorded, on_activity_recorded)
subscribe(ContactsCreated, on_contacts_created)
subscribe(ContactsChanged, on_contacts_changed)
subscribe(ContactsMerged, on_contacts_merged)
subscribe(ContactDeleted, on_contact_deleted)
