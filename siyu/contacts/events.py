"""What the contacts domain tells the domains above it."""

from dataclasses import dataclass
from uuid import UUID

from siyu.core.events import DomainEvent


@dataclass(frozen=True)
class ContactsMerged(DomainEvent):
    """`merged_id` was folded into `survivor_id`; published before the merged-away row is deleted."""

    survivor_id: UUID
    merged_id: UUID


@dataclass(frozen=True)
class ContactDeleted(DomainEvent):
    contact_id: UUID
