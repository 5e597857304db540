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


@dataclass(frozen=True)
class ContactsCreated(DomainEvent):
    contact_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class ContactsChanged(DomainEvent):
    """These contacts changed. `aspects` names what: `field:<name>` for a plain field (`field:stage`,
    `field:owner`, `field:channel`, …), `field:custom` for custom fields, `tags`, `identities`; `*` when anything may have changed."""

    contact_ids: tuple[UUID, ...]
    aspects: frozenset[str]
