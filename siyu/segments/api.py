"""Segments (人群), static lists and RFM over HTTP: thin handlers over the segments services and selectors.

Rule errors answer 422 `invalid_rule` with `fields` keyed by the rule path (`root.all[0].op`).
Member counts are workspace-wide; member lists, samples and history show only the contacts the
caller may see.
"""

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from ninja import Field, Query, Router, Schema, Status

from siyu.contacts.api import ContactOut, contact_out
from siyu.contacts.models import Contact
from siyu.contacts.selectors import contact_get_for, contact_tags_map
from siyu.core.errors import Conflict
from siyu.segments.models import (
    ChangeCause,
    MembershipChange,
    MembershipChangeKind,
    RfmMethod,
    RfmSettings,
    Segment,
    SegmentBuild,
    SegmentKind,
)
from siyu.segments.rfm import RfmScore
from siyu.segments.rules.spec import RuleError
from siyu.segments.selectors.api_support import segment_history_page, segment_page
from siyu.segments.selectors.rfm import rfm_for_contact, rfm_settings
from siyu.segments.selectors.segments import (
    contact_segments,
    members_entered_at,
    rule_preview,
    segment_builds,
    segment_get_for,
    segment_members_page,
    segment_membership,
)
from siyu.segments.services.rfm import rfm_refresh, rfm_settings_update
from siyu.segments.services.segments import (
    MAX_BULK,
    RowResult,
    segment_create,
    segment_delete,
    segment_members_add,
    segment_members_remove,
    segment_rebuild,
    segment_snapshot,
    segment_update,
)
from siyu.tenancy.api import AuthedRequest
from siyu.tenancy.roles import Permission

# --- schemas ------------------------------------------------------------------------------------

RULES_HELP = 'A rule document of the rule language v1: {"version": 1, "root": {...}}.'


class SegmentOut(Schema):
    id: UUID
    name: str
    description: str
    kind: SegmentKind
    rules: dict[str, Any] = Field(description="The rule document; {} for a static list.")
    revision: int = Field(description="Goes up by one whenever the rules change.")
    dependencies: list[str] = Field(
        description='What the rules read: "field:city", "tags", "segment:<id>", …'
    )
    is_time_relative: bool = Field(description="The rules depend on the clock (windows, days ago).")
    member_count: int = Field(description="Members in the whole workspace (not limited to your data scope).")
    is_ready: bool = Field(description="False until the first build after creation has run.")
    problem: str = Field(description="Why the stored rules can no longer be evaluated; empty when fine.")
    last_built_at: datetime | None
    snapshot_of_id: UUID | None
    created_by_id: UUID | None
    created_at: datetime
    updated_at: datetime


class SegmentPageOut(Schema):
    items: list[SegmentOut]
    next_cursor: str | None
    has_more: bool


class SegmentListQuery(Schema):
    kind: SegmentKind | None = None
    q: str = Field("", max_length=100, description="Part of the name")
    cursor: str | None = Field(None, description="The next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


class SegmentIn(Schema):
    """A dynamic segment (rules; built in the background) or a static list (members added by hand)."""

    name: str
    description: str = ""
    kind: SegmentKind = SegmentKind.DYNAMIC
    rules: dict[str, Any] | None = Field(None, description=RULES_HELP + " Omitted or {}: every contact.")


class SegmentPatch(Schema):
    """Only the fields present change. New rules rebuild the segment in the background."""

    name: str | None = None
    description: str | None = None
    rules: dict[str, Any] | None = Field(None, description=RULES_HELP)


class RuleValidateIn(Schema):
    rules: dict[str, Any] = Field(description=RULES_HELP)
    segment_id: UUID | None = Field(
        None, description="The segment being edited, so that circular references are found"
    )
    sample_size: int = Field(10, ge=0, le=50)


class SegmentContactRef(Schema):
    id: UUID
    name: str


class RulePreviewOut(Schema):
    valid: bool
    count: int = Field(description="Contacts matching now, in the whole workspace")
    sample: list[SegmentContactRef] = Field(description="Some of them, among the contacts you may see")
    errors: dict[str, str]


class SegmentBuildOut(Schema):
    kind: str
    started_at: datetime
    duration_ms: int
    added: int
    removed: int
    size: int
    found_drift: bool = Field(description="A reconciliation that had to add or remove anyone")


class SegmentBuildsQuery(Schema):
    limit: int = Field(20, ge=1, le=100)


class SegmentMembersQuery(Schema):
    cursor: str | None = Field(None, description="The next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


class SegmentMemberOut(ContactOut):
    entered_at: datetime | None


class SegmentMemberPageOut(Schema):
    items: list[SegmentMemberOut]
    next_cursor: str | None
    has_more: bool


class SegmentMembershipOut(Schema):
    segment_id: UUID
    contact_id: UUID
    member: bool
    entered_at: datetime | None


class SegmentValuesIn(Schema):
    values: list[str] = Field(
        min_length=1, description=f"Contact ids or phone numbers, at most {MAX_BULK:,} per call"
    )


class SegmentMemberRowOut(Schema):
    row: int
    value: str
    status: Literal["added", "removed", "unchanged", "not_found", "invalid"]
    contact_id: UUID | None
    message: str


class SegmentMembersChangeOut(Schema):
    counts: dict[str, int]
    results: list[SegmentMemberRowOut]
    member_count: int


class SegmentSnapshotIn(Schema):
    name: str


class SegmentHistoryQuery(Schema):
    kind: MembershipChangeKind | None = None
    contact_id: UUID | None = None
    cursor: str | None = Field(None, description="The next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


class SegmentChangeOut(Schema):
    id: UUID
    contact: SegmentContactRef
    kind: MembershipChangeKind
    cause: ChangeCause
    at: datetime


class SegmentHistoryPageOut(Schema):
    items: list[SegmentChangeOut]
    next_cursor: str | None
    has_more: bool


class ContactSegmentOut(Schema):
    id: UUID
    name: str
    kind: SegmentKind
    entered_at: datetime


class RfmSettingsOut(Schema):
    method: RfmMethod
    recency_cuts: list[int] = Field(description="Days since the last order; ascending")
    frequency_cuts: list[int] = Field(description="Orders; ascending minimums for scores 2..5")
    monetary_cuts: list[Decimal] = Field(description="Revenue; ascending minimums for scores 2..5")
    computed_at: datetime | None


class RfmSettingsIn(Schema):
    """With `thresholds`, four ascending cut points per dimension; with `quintiles` the cuts are computed."""

    method: RfmMethod
    recency_cuts: list[int] = Field(default_factory=list)
    frequency_cuts: list[int] = Field(default_factory=list)
    monetary_cuts: list[Decimal] = Field(default_factory=list)


class RfmScoreOut(Schema):
    recency_days: int
    frequency: int
    monetary: Decimal
    r: int
    f: int
    m: int
    group: str
    group_label: str


class RfmContactOut(Schema):
    contact_id: UUID
    score: RfmScoreOut | None = Field(
        description="null for a contact without orders, or before cut points exist"
    )


# --- presenters ---------------------------------------------------------------------------------


def _segment_out(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rules": segment.rules or {},
        "revision": segment.revision,
        "dependencies": list(segment.dependencies or ()),
        "is_time_relative": segment.is_time_relative,
        "member_count": segment.member_count,
        "is_ready": segment.is_ready,
        "problem": segment.problem,
        "last_built_at": segment.last_built_at,
        "snapshot_of_id": segment.snapshot_of_id,
        "created_by_id": segment.created_by_id,
        "created_at": segment.created_at,
        "updated_at": segment.updated_at,
    }


def _build_out(build: SegmentBuild) -> dict[str, Any]:
    return {
        "kind": build.kind,
        "started_at": build.started_at,
        "duration_ms": build.duration_ms,
        "added": build.added,
        "removed": build.removed,
        "size": build.size,
        "found_drift": build.found_drift,
    }


def _contact_ref(contact: Contact) -> dict[str, Any]:
    return {"id": contact.id, "name": contact.name}


def _change_out(change: MembershipChange) -> dict[str, Any]:
    return {
        "id": change.id,
        "contact": _contact_ref(change.contact),
        "kind": change.kind,
        "cause": change.cause,
        "at": change.at,
    }


def _members_change_out(segment: Segment, results: list[RowResult]) -> dict[str, Any]:
    counts = dict.fromkeys(("added", "removed", "unchanged", "not_found", "invalid"), 0)
    for result in results:
        counts[result.status] += 1
    return {
        "counts": counts,
        "results": [
            {
                "row": r.row,
                "value": r.value,
                "status": r.status,
                "contact_id": r.contact_id,
                "message": r.message,
            }
            for r in results
        ],
        "member_count": segment.member_count,
    }


def _rfm_settings_out(settings: RfmSettings | None) -> dict[str, Any]:
    if settings is None:
        return {
            "method": RfmMethod.QUINTILES,
            "recency_cuts": [],
            "frequency_cuts": [],
            "monetary_cuts": [],
            "computed_at": None,
        }
    return {
        "method": settings.method,
        "recency_cuts": settings.recency_cuts,
        "frequency_cuts": settings.frequency_cuts,
        "monetary_cuts": settings.monetary_cuts,
        "computed_at": settings.computed_at,
    }


def _rfm_score_out(score: RfmScore | None) -> dict[str, Any] | None:
    if score is None:
        return None
    return {
        "recency_days": score.recency_days,
        "frequency": score.frequency,
        "monetary": score.monetary,
        "r": score.r,
        "f": score.f,
        "m": score.m,
        "group": score.group,
        "group_label": score.group_label,
    }


# --- segments -----------------------------------------------------------------------------------

segments_router = Router(tags=["segments"])


@segments_router.get("", response=SegmentPageOut, operation_id="segments_list")
def segments_list(request: AuthedRequest, query: Query[SegmentListQuery]) -> dict[str, Any]:
    """Segments and static lists, newest first, one cursor page at a time."""
    page = segment_page(
        actor=request.auth, kind=query.kind, q=query.q.strip(), cursor=query.cursor, limit=query.limit
    )
    return {
        "items": [_segment_out(s) for s in page.items],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@segments_router.post("", response={201: SegmentOut}, operation_id="segments_create")
def segments_create(request: AuthedRequest, payload: SegmentIn) -> Status[dict[str, Any]]:
    """Create a segment. A dynamic one is built in the background: `is_ready` turns true when done."""
    segment = segment_create(
        actor=request.auth,
        name=payload.name,
        description=payload.description,
        kind=payload.kind,
        rules=payload.rules,
    )
    return Status(201, _segment_out(segment))


@segments_router.post("/validate", response=RulePreviewOut, operation_id="segments_validate")
def segments_validate(request: AuthedRequest, payload: RuleValidateIn) -> dict[str, Any]:
    """Check a rule and count who matches now, without saving anything. Invalid rules answer 422."""
    if payload.segment_id is not None:
        segment_get_for(request.auth, payload.segment_id)
    preview = rule_preview(
        actor=request.auth,
        rules=payload.rules,
        segment_id=payload.segment_id,
        sample_size=payload.sample_size,
    )
    if preview.errors:
        raise RuleError(preview.message, fields=preview.errors)
    return {
        "valid": True,
        "count": preview.count,
        "sample": [_contact_ref(c) for c in preview.sample],
        "errors": {},
    }


@segments_router.get(
    "/contacts/{contact_id}/segments",
    response=list[ContactSegmentOut],
    operation_id="segments_for_contact",
)
def segments_for_contact(request: AuthedRequest, contact_id: UUID) -> list[dict[str, Any]]:
    """The segments and lists a contact is in, by name, with when it entered each."""
    request.auth.require(Permission.SEGMENTS_READ)
    contact = contact_get_for(request.auth, contact_id)
    return [
        {"id": segment.id, "name": segment.name, "kind": segment.kind, "entered_at": entered_at}
        for segment, entered_at in contact_segments(contact_id=contact.id)
    ]


@segments_router.get("/{segment_id}", response=SegmentOut, operation_id="segments_get")
def segments_get(request: AuthedRequest, segment_id: UUID) -> dict[str, Any]:
    return _segment_out(segment_get_for(request.auth, segment_id))


@segments_router.patch("/{segment_id}", response=SegmentOut, operation_id="segments_update")
def segments_update(request: AuthedRequest, segment_id: UUID, payload: SegmentPatch) -> dict[str, Any]:
    segment = segment_get_for(request.auth, segment_id)
    segment = segment_update(
        actor=request.auth,
        segment=segment,
        name=payload.name if payload.name is not None else segment.name,
        description=payload.description if payload.description is not None else segment.description,
        rules=payload.rules,
    )
    return _segment_out(segment)


@segments_router.delete("/{segment_id}", response={204: None}, operation_id="segments_delete")
def segments_delete(request: AuthedRequest, segment_id: UUID) -> Status[None]:
    """Delete a segment with its members and history. 409 while other segments are built on it."""
    segment_delete(actor=request.auth, segment=segment_get_for(request.auth, segment_id))
    return Status(204, None)


@segments_router.post("/{segment_id}/rebuild", response=SegmentBuildOut, operation_id="segments_rebuild")
def segments_rebuild(request: AuthedRequest, segment_id: UUID) -> dict[str, Any]:
    """Evaluate a dynamic segment now over the whole workspace and answer what changed."""
    segment = segment_get_for(request.auth, segment_id)
    build = segment_rebuild(actor=request.auth, segment=segment)
    if build is None:
        raise Conflict(segment.problem, code="segment_problem")
    return _build_out(build)


@segments_router.get("/{segment_id}/builds", response=list[SegmentBuildOut], operation_id="segments_builds")
def segments_builds(
    request: AuthedRequest, segment_id: UUID, query: Query[SegmentBuildsQuery]
) -> list[dict[str, Any]]:
    """Recent full builds and reconciliations, newest first; `found_drift` marks repaired drift."""
    segment = segment_get_for(request.auth, segment_id)
    return [_build_out(b) for b in segment_builds(segment=segment, limit=query.limit)]


@segments_router.get(
    "/{segment_id}/members", response=SegmentMemberPageOut, operation_id="segments_members_list"
)
def segments_members_list(
    request: AuthedRequest, segment_id: UUID, query: Query[SegmentMembersQuery]
) -> dict[str, Any]:
    """The members you may see (your data scope applies), newest contacts first."""
    segment = segment_get_for(request.auth, segment_id)
    page = segment_members_page(actor=request.auth, segment=segment, cursor=query.cursor, limit=query.limit)
    contact_ids = [c.id for c in page.items]
    tags = contact_tags_map(contact_ids=contact_ids)
    entered = members_entered_at(segment=segment, contact_ids=contact_ids)
    return {
        "items": [{**contact_out(c, tags[c.id]), "entered_at": entered.get(c.id)} for c in page.items],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@segments_router.post(
    "/{segment_id}/members/add", response=SegmentMembersChangeOut, operation_id="segments_members_add"
)
def segments_members_add(
    request: AuthedRequest, segment_id: UUID, payload: SegmentValuesIn
) -> dict[str, Any]:
    """Add contacts (ids or phone numbers) to a static list; one result per value."""
    segment = segment_get_for(request.auth, segment_id)
    results = segment_members_add(actor=request.auth, segment=segment, values=payload.values)
    return _members_change_out(segment, results)


@segments_router.post(
    "/{segment_id}/members/remove", response=SegmentMembersChangeOut, operation_id="segments_members_remove"
)
def segments_members_remove(
    request: AuthedRequest, segment_id: UUID, payload: SegmentValuesIn
) -> dict[str, Any]:
    """Remove contacts (ids or phone numbers) from a static list; one result per value."""
    segment = segment_get_for(request.auth, segment_id)
    results = segment_members_remove(actor=request.auth, segment=segment, values=payload.values)
    return _members_change_out(segment, results)


@segments_router.get(
    "/{segment_id}/members/{contact_id}", response=SegmentMembershipOut, operation_id="segments_membership"
)
def segments_membership(request: AuthedRequest, segment_id: UUID, contact_id: UUID) -> dict[str, Any]:
    """Is this contact in the segment? 404 for a contact you may not see."""
    segment = segment_get_for(request.auth, segment_id)
    contact = contact_get_for(request.auth, contact_id)
    membership = segment_membership(segment=segment, contact_id=contact.id)
    return {
        "segment_id": segment.id,
        "contact_id": contact.id,
        "member": membership is not None,
        "entered_at": membership.entered_at if membership is not None else None,
    }


@segments_router.post("/{segment_id}/snapshot", response={201: SegmentOut}, operation_id="segments_snapshot")
def segments_snapshot(
    request: AuthedRequest, segment_id: UUID, payload: SegmentSnapshotIn
) -> Status[dict[str, Any]]:
    """A new static list holding the segment's members as they are now."""
    segment = segment_get_for(request.auth, segment_id)
    snapshot = segment_snapshot(actor=request.auth, segment=segment, name=payload.name)
    return Status(201, _segment_out(snapshot))


@segments_router.get("/{segment_id}/history", response=SegmentHistoryPageOut, operation_id="segments_history")
def segments_history(
    request: AuthedRequest, segment_id: UUID, query: Query[SegmentHistoryQuery]
) -> dict[str, Any]:
    """Entries and exits, newest first, of the contacts you may see."""
    segment = segment_get_for(request.auth, segment_id)
    contact_id = contact_get_for(request.auth, query.contact_id).id if query.contact_id else None
    page = segment_history_page(
        actor=request.auth,
        segment=segment,
        contact_id=contact_id,
        kind=query.kind,
        cursor=query.cursor,
        limit=query.limit,
    )
    return {
        "items": [_change_out(c) for c in page.items],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


# --- RFM ----------------------------------------------------------------------------------------

rfm_router = Router(tags=["rfm"])


@rfm_router.get("/settings", response=RfmSettingsOut, operation_id="rfm_settings_get")
def rfm_settings_get(request: AuthedRequest) -> dict[str, Any]:
    """The scoring method and the cut points now in use (empty before the first computation)."""
    request.auth.require(Permission.SEGMENTS_READ)
    return _rfm_settings_out(rfm_settings())


@rfm_router.put("/settings", response=RfmSettingsOut, operation_id="rfm_settings_update")
def rfm_settings_put(request: AuthedRequest, payload: RfmSettingsIn) -> dict[str, Any]:
    """Set the method (and, for thresholds, the cut points); segments on RFM groups are rebuilt."""
    settings = rfm_settings_update(
        actor=request.auth,
        method=payload.method,
        recency_cuts=payload.recency_cuts,
        frequency_cuts=payload.frequency_cuts,
        monetary_cuts=payload.monetary_cuts,
    )
    return _rfm_settings_out(settings)


@rfm_router.post("/refresh", response=RfmSettingsOut, operation_id="rfm_refresh")
def rfm_refresh_now(request: AuthedRequest) -> dict[str, Any]:
    """Recompute quintile cut points now (thresholds stay as set)."""
    request.auth.require(Permission.SEGMENTS_MANAGE)
    return _rfm_settings_out(rfm_refresh())


@rfm_router.get("/contacts/{contact_id}", response=RfmContactOut, operation_id="rfm_contact")
def rfm_contact(request: AuthedRequest, contact_id: UUID) -> dict[str, Any]:
    """A contact's recency, frequency and monetary scores (1–5) and RFM group."""
    request.auth.require(Permission.SEGMENTS_READ)
    contact = contact_get_for(request.auth, contact_id)
    return {"contact_id": contact.id, "score": _rfm_score_out(rfm_for_contact(contact_id=contact.id))}
