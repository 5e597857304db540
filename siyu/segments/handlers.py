"""The segments domain listens to the domains below it and re-evaluates only what a change can affect.

Activity, new, changed and merged contacts are gathered: inside the event processor's chunk they arrive
together (`siyu.core.events.gathered`), and each affected segment is evaluated once for them all.
"""

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from siyu.contacts.events import ContactDeleted, ContactsChanged, ContactsCreated, ContactsMerged
from siyu.core.events import DomainEvent, subscribe, subscribe_batched
from siyu.core.time import now as clock_now
from siyu.segments.models import ChangeCause, SegmentMember
from siyu.segments.services.evaluation import EVERYTHING, segments_reevaluate_changes
from siyu.segments.services.membership import changes_apply
from siyu.tracking.events import ActivityRecorded


def on_changes(events: Sequence[DomainEvent]) -> None:
    changes: defaultdict[UUID, set[str]] = defaultdict(set)
    gone: set[UUID] = set()
    for event in events:
        match event:
            case ActivityRecorded(changes=recorded):
                for contact_id, keys in recorded.items():
                    changes[contact_id] |= keys
            case ContactsCreated(contact_ids=ids):
                for contact_id in ids:
                    changes[contact_id].add(EVERYTHING)
            case ContactsChanged(contact_ids=ids, aspects=aspects):
                aspect_keys = {EVERYTHING} if "*" in aspects else set(aspects)
                for contact_id in ids:
                    changes[contact_id] |= aspect_keys
            case ContactsMerged(survivor_id=survivor_id, merged_id=merged_id):
                changes[survivor_id].add(EVERYTHING)  # it took over the other's history
                gone.add(merged_id)
    segments_reevaluate_changes(changes={cid: keys for cid, keys in changes.items() if cid not in gone})


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
    _leave_everything(event.merged_id)  # at once: its rows cascade away after this


def on_contact_deleted(event: ContactDeleted) -> None:
    _leave_everything(event.contact_id)


subscribe_batched([ActivityRecorded, ContactsCreated, ContactsChanged, ContactsMerged], on_changes)
subscribe(ContactsMerged, on_contacts_merged)
subscribe(ContactDeleted, on_contact_deleted)
