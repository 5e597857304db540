"""Reads of segments, their members and history."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from siyu.contacts.models import Contact
from siyu.contacts.selectors import contact_scoped
from siyu.core.errors import NotFound
from siyu.core.pagination import Page, paginate_by_id
from siyu.core.time import now as clock_now
from siyu.segments.models import MembershipChange, Segment, SegmentBuild, SegmentMember
from siyu.segments.rules.spec import RuleError, rule_document_of, rule_parse
from siyu.segments.rules.sql import Clock, rule_q
from siyu.segments.selectors.catalog import catalog_load
from siyu.segments.selectors.rfm import rfm_cuts
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission


def segment_list(*, q: str = "", kind: str | None = None) -> QuerySet[Segment]:
    """The workspace's segments by name (optionally of one kind, with `q` in the name), with their creator."""
    segments = Segment.objects.select_related("created_by").order_by("name")
    if kind:
        segments = segments.filter(kind=kind)
    q = q.strip()
    return segments.filter(name__icontains=q) if q else segments


def segment_get(*, segment_id: UUID | str) -> Segment:
    """The active workspace's segment, or NotFound (another workspace's id is simply not found)."""
    try:
        return Segment.objects.get(id=segment_id)
    except (Segment.DoesNotExist, ValueError) as error:
        raise NotFound(_("Segment not found.")) from error


def segment_get_for(actor: Actor, segment_id: UUID | str) -> Segment:
    actor.require(Permission.SEGMENTS_READ)
    return segment_get(segment_id=segment_id)


def segment_members(*, actor: Actor, segment: Segment) -> QuerySet[Contact]:
    """The segment's members the actor may see (data scope applies; counts stay workspace-wide)."""
    return contact_scoped(actor=actor).filter(
        id__in=SegmentMember.objects.filter(segment=segment).values("contact_id")
    )


def segment_members_page(
    *, actor: Actor, segment: Segment, cursor: str | None, limit: int = 50
) -> Page[Contact]:
    return paginate_by_id(
        segment_members(actor=actor, segment=segment).select_related("owner", "channel"),
        cursor=cursor,
        limit=limit,
    )


def segment_membership(*, segment: Segment, contact_id: UUID) -> SegmentMember | None:
    return SegmentMember.objects.filter(segment=segment, contact_id=contact_id).first()


def segment_changes(
    *, segment: Segment | None = None, contact_id: UUID | None = None, kind: str | None = None
) -> QuerySet[MembershipChange]:
    """Entry and exit history, newest first, for a segment and/or a contact."""
    changes = MembershipChange.objects.all()
    if segment is not None:
        changes = changes.filter(segment=segment)
    if contact_id is not None:
        changes = changes.filter(contact_id=contact_id)
    if kind:
        changes = changes.filter(kind=kind)
    return changes.order_by("-at", "-id")


def segment_changes_visible(
    *, actor: Actor, segment: Segment, kind: str | None = None
) -> QuerySet[MembershipChange]:
    """The segment's entries and exits, newest first, of the contacts the actor may see, with the contact."""
    visible = contact_scoped(actor=actor).values("id")
    return (
        segment_changes(segment=segment, kind=kind).filter(contact_id__in=visible).select_related("contact")
    )


def members_entered_at(*, segment: Segment, contact_ids: Iterable[UUID]) -> dict[UUID, datetime]:
    """When each of these contacts entered the segment (those that are members)."""
    rows = SegmentMember.objects.filter(segment=segment, contact_id__in=list(contact_ids))
    return dict(rows.values_list("contact_id", "entered_at"))


def segment_builds(*, segment: Segment, limit: int = 20) -> list[SegmentBuild]:
    return list(SegmentBuild.objects.filter(segment=segment).order_by("-started_at")[:limit])


def contact_segments(*, contact_id: UUID) -> list[tuple[Segment, datetime]]:
    """The segments a contact is in, with when it entered each."""
    rows = (
        SegmentMember.objects.filter(contact_id=contact_id)
        .select_related("segment")
        .order_by("segment__name")
    )
    return [(row.segment, row.entered_at) for row in rows]


def segments_using(*, segment: Segment) -> list[Segment]:
    """Segments whose rules name this one."""
    key = f"segment:{segment.id}"
    return [other for other in Segment.objects.exclude(id=segment.id) if key in (other.dependencies or ())]


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Contact]
    errors: dict[str, str]
    message: str = ""


def rule_preview(
    *, actor: Actor, rules: Any, segment_id: UUID | None = None, sample_size: int = 10
) -> Preview:
    """Validate a rule and count who matches now (workspace-wide), with a sample the actor may see."""
    actor.require(Permission.SEGMENTS_READ)
    try:
        rule = rule_parse(rule_document_of(rules), catalog=catalog_load(), segment_id=segment_id)
    except RuleError as error:
        return Preview(count=0, sample=[], errors=dict(error.fields), message=error.message)
    catalog_subtrees = catalog_load(lenient=True).team_subtrees
    q = rule_q(rule.root, Clock(now=clock_now(), rfm=rfm_cuts()), team_subtrees=dict(catalog_subtrees))
    matching = Contact.objects.filter(q)
    sample = list(contact_scoped(actor=actor).filter(q).select_related("owner").order_by("-id")[:sample_size])
    return Preview(count=matching.count(), sample=sample, errors={})
