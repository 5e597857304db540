"""Reads the segments API needs beyond the shared selectors: keyset pages of segments and of history."""

from datetime import datetime
from uuid import UUID

from django.db.models import Q

from siyu.core.errors import InvalidCursor
from siyu.core.pagination import Page, decode_cursor, encode_cursor, paginate_by_id
from siyu.segments.models import MembershipChange, Segment
from siyu.segments.selectors.segments import segment_changes_visible, segment_list
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission


def segment_page(
    *, actor: Actor, kind: str | None = None, q: str = "", cursor: str | None = None, limit: int = 50
) -> Page[Segment]:
    """Segments newest first, optionally of one kind and with `q` in the name."""
    actor.require(Permission.SEGMENTS_READ)
    return paginate_by_id(segment_list(q=q, kind=kind), cursor=cursor, limit=limit)


def _history_cursor(change: MembershipChange) -> str:
    return encode_cursor(f"{change.at.isoformat()}|{change.id}")


def _history_position(cursor: str) -> tuple[datetime, UUID]:
    try:
        moment, change_id = decode_cursor(cursor).split("|")
        return datetime.fromisoformat(moment), UUID(change_id)
    except ValueError as error:
        raise InvalidCursor() from error


def segment_history_page(
    *,
    actor: Actor,
    segment: Segment,
    contact_id: UUID | None = None,
    kind: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page[MembershipChange]:
    """Entries and exits, newest first, of the contacts the actor may see (keyset on the moment, then id)."""
    actor.require(Permission.SEGMENTS_READ)
    changes = segment_changes_visible(actor=actor, segment=segment, kind=kind)
    if contact_id is not None:
        changes = changes.filter(contact_id=contact_id)
    if cursor:
        moment, change_id = _history_position(cursor)
        changes = changes.filter(Q(at__lt=moment) | Q(at=moment, id__lt=change_id))
    items = list(changes[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=_history_cursor(items[-1]) if has_more else None, has_more=has_more)
