"""Reads the segments API needs beyond the shared selectors: a filtered page of segments, a page of
history under the caller's data scope, and when listed members entered."""

from datetime import datetime
from uuid import UUID

from django.db.models import Q
from django.utils.translation import gettext as _

from siyu.contacts.selectors import contact_scoped
from siyu.core.errors import ValidationError
from siyu.core.pagination import Page, decode_cursor, encode_cursor, paginate_by_id
from siyu.segments.models import MembershipChange, Segment, SegmentMember
from siyu.segments.selectors.segments import segment_changes, segment_list
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission


def segment_page(
    *, actor: Actor, kind: str | None = None, q: str = "", cursor: str | None = None, limit: int = 50
) -> Page[Segment]:
    """Segments newest first, optionally of one kind and with `q` in the name."""
    actor.require(Permission.SEGMENTS_READ)
    segments = segment_list().select_related("created_by")
    if kind:
        segments = segments.filter(kind=kind)
    if q:
        segments = segments.filter(name__icontains=q)
    return paginate_by_id(segments, cursor=cursor, limit=limit)


def segment_entered_at(*, segment: Segment, contact_ids: list[UUID]) -> dict[UUID, datetime]:
    """When each of these contacts entered the segment (those that are members)."""
    rows = SegmentMember.objects.filter(segment=segment, contact_id__in=contact_ids)
    return dict(rows.values_list("contact_id", "entered_at"))


def _history_cursor(change: MembershipChange) -> str:
    return encode_cursor(f"{change.at.isoformat()}|{change.id}")


def _history_position(cursor: str) -> tuple[datetime, UUID]:
    try:
        moment, change_id = decode_cursor(cursor).split("|")
        return datetime.fromisoformat(moment), UUID(change_id)
    except ValueError as error:
        raise ValidationError(_("The cursor is not valid."), fields={"cursor": _("Invalid.")}) from error


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
    changes = segment_changes(segment=segment, contact_id=contact_id, kind=kind).filter(
        contact_id__in=contact_scoped(actor=actor).values("id")
    )
    if cursor:
        moment, change_id = _history_position(cursor)
        changes = changes.filter(Q(at__lt=moment) | Q(at=moment, id__lt=change_id))
    items = list(changes.select_related("contact")[: limit + 1])
    has_more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=_history_cursor(items[-1]) if has_more else None, has_more=has_more)
