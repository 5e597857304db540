"""Reads for the segment pages: "is this contact in?"."""

from dataclasses import dataclass
from datetime import datetime

from siyu.contacts.models import Contact
from siyu.contacts.selectors import ContactFilters, contact_list
from siyu.segments.models import Segment
from siyu.segments.selectors.segments import members_entered_at
from siyu.tenancy.actor import Actor


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
