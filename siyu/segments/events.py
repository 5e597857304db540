"""What the segments domain tells the domains above it (journeys subscribe to these)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from siyu.core.events import DomainEvent


@dataclass(frozen=True)
class SegmentEntered(DomainEvent):
    """segment.entered: these contacts joined the segment at `at` (`cause` says why)."""

    segment_id: UUID
    contact_ids: tuple[UUID, ...]
    cause: str
    at: datetime


@dataclass(frozen=True)
class SegmentExited(DomainEvent):
    """segment.exited: these contacts left the segment at `at`."""

    segment_id: UUID
    contact_ids: tuple[UUID, ...]
    cause: str
    at: datetime
