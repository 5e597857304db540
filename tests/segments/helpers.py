"""Helpers for segment tests: contacts through the contacts services, events through the real processor."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from siyu.segments.models import Segment, SegmentMember
from siyu.tracking.ingest.spec import Received
from siyu.tracking.ingest.store import events_accept
from siyu.tracking.models import Source
from tests.tracking.events import iso, message, process_all


def members(segment: Segment) -> set[UUID]:
    return set(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))


def track(user_id: str, name: str, at: datetime, **properties: Any) -> dict[str, Any]:
    return message("track", userId=user_id, event=name, properties=properties, timestamp=iso(at))


def deliver(source: Source, messages: list[dict[str, Any]]) -> None:
    """Store and process events the way the gateway and the processor do (no HTTP)."""
    events_accept(
        source=source, messages=messages, received=Received(at=datetime.now(UTC)), sent_at=datetime.now(UTC)
    )
    process_all()


def rule(root: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "root": root}


def article_reads(*, at_least: int = 1) -> dict[str, Any]:
    """The condition "at least N Article Read events in the last 7 days"."""
    return {
        "kind": "event",
        "type": "track",
        "name": "Article Read",
        "window": {"last": 7, "unit": "days"},
        "aggregate": "count",
        "op": "gte",
        "value": at_least,
    }
