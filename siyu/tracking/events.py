"""What the tracking domain tells the domains above it."""

from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from siyu.core.events import DomainEvent


@dataclass(frozen=True)
class ActivityRecorded(DomainEvent):
    """Processed events changed these contacts' activity. Each contact maps to what changed:
    `event:<type>:<name>` and `event:<type>:*` per event, `purchases` for a completed order,
    `activity:touch` for a page or screen view (last-touch channel)."""

    changes: Mapping[UUID, frozenset[str]]
