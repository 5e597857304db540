"""Contacts over HTTP: thin handlers over the contacts selectors and services.

Phones leave the API masked (138****1234) everywhere except the audited reveal endpoint.
"""

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from django.http import HttpResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.renderers import JSONRenderer

from siyu.contacts.cleaning import clean_custom_value
from siyu.contacts.filters import CUSTOM_PREFIX
from siyu.contacts.models import (
    Channel,
    ChannelKind,
    Contact,
    CustomField,
    FieldType,
    FollowUp,
    FollowUpKind,
    Identity,
    IdentityType,
    Stage,
    Tag,
    TagGroup,
    TimelineEntry,
    TimelineKind,
    mask_phone,
)
from siyu.contacts.selectors import (
    ContactFilters,
    channel_list,
    contact_get_for,
    contact_page,
    contact_tags,
    contact_tags_map,
    custom_field_get,
    custom_field_list,
    follow_up_get,
    follow_up_list,
    identity_list,
    tag_get,
    tag_group_get,
    tag_group_list,
    tag_list,
    tag_list_by_ids,
    timeline_list,
)
from siyu.contacts.services import (
    MAX_BATCH,
    MERGE_RULE,
    UpsertKey,
    channel_create,
    contact_create,
    contact_delete,
    contact_merge,
    contact_merge_preview,
    contact_owner_change,
    contact_phone_reveal,
    contact_stage_change,
    contact_tags_add,
    contact_tags_remove,
    contact_update,
    contacts_upsert,
    custom_field_create,
    custom_field_delete,
    custom_field_update,
    follow_up_complete,
    follow_up_create,
    identity_add,
    identity_remove,
    tag_create,
    tag_delete,
    tag_group_create,
    tag_group_delete,
    tag_group_update,
    tag_update,
)
from siyu.core.errors import PayloadTooLarge, ValidationError
from siyu.tenancy.api import AuthedRequest
from siyu.tenancy.models import Member
from siyu.tenancy.selectors import member_get

# --- schemas ------------------------------------------------------------------------------------


class MemberRef(Schema):
    id: UUID
    display_name: str


class ChannelRef(Schema):
    id: UUID
    name: str
    code: str


class TagOut(Schema):
    id: UUID
    group_id: UUID
    name: str
    color: str
    sort_order: int


class ContactOut(Schema):
    id: UUID
    name: str
    phone: str = Field(description="Masked (138****1234); use the reveal endpoint for the full number.")
    email: str
    gender: str
    birthday: date | None
    region: str
    city: str
    company: str
    notes: str
    owner: MemberRef | None
    in_public_pool: bool
    channel: ChannelRef | None
    stage: Stage
    strength: str
    custom: dict[str, Any]
    tags: list[TagOut]
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime | None


class ContactPageOut(Schema):
    items: list[ContactOut]
    next_cursor: str | None
    has_more: bool


class IdentityIn(Schema):
    type: IdentityType
    namespace: str = ""
    value: str


class ContactIn(Schema):
    """A new contact. `owner` is a member id, username or display name (null: the public pool;
    omitted: the calling member); `channel` a channel id, code or name; `tags` tag names."""

    name: str | None = None
    phone: str | None = None
    email: str | None = None
    gender: str | None = Field(None, description="female, male or empty")
    birthday: date | None = None
    region: str | None = None
    city: str | None = None
    company: str | None = None
    notes: str | None = None
    owner: str | None = None
    channel: str | None = None
    stage: Stage | None = None
    custom: dict[str, Any] | None = None
    tags: list[str] | None = None
    identities: list[IdentityIn] | None = None


class ContactPatch(ContactIn):
    """Only the fields present change; `null` clears a field."""


class ContactListQuery(Schema):
    q: str = Field("", description="Name, pinyin or initials, phone suffix, email or identity value")
    stage: list[Stage] = Field(default_factory=list)
    tag: list[UUID] = Field(default_factory=list, description="Tag ids")
    tag_match: Literal["any", "all", "none"] = "any"
    owner: str = Field(
        "", description='"me", "pool" or a member id', pattern=r"^(|me|pool|[0-9a-fA-F-]{32,36})$"
    )
    channel: list[UUID] = Field(default_factory=list, description="Channel ids")
    created_from: date | None = None
    created_to: date | None = None
    cursor: str | None = Field(None, description="The next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)


class PhoneOut(Schema):
    phone: str


class OwnerIn(Schema):
    owner_id: UUID | None = Field(description="A member id, or null for the public pool")


class StageIn(Schema):
    stage: Stage
    reason: str = Field("", max_length=200)


class IdentityAddIn(IdentityIn):
    merge: bool = Field(False, description="If another contact holds the identity, merge it into this one")


class IdentityOut(Schema):
    id: UUID
    type: str
    namespace: str
    value: str = Field(description="Masked for phone identities")
    created_at: datetime


class TagIdsIn(Schema):
    tag_ids: list[UUID] = Field(min_length=1)


class FollowUpIn(Schema):
    kind: FollowUpKind = FollowUpKind.NOTE
    content: str
    next_follow_up_on: date | None = None


class FollowUpOut(Schema):
    id: UUID
    kind: str
    content: str
    next_follow_up_on: date | None
    done_at: datetime | None
    author: MemberRef | None
    created_at: datetime


class TimelineEntryOut(Schema):
    id: UUID
    kind: str
    data: dict[str, Any]
    member: MemberRef | None
    created_at: datetime


class TimelineQuery(Schema):
    limit: int = Field(100, ge=1, le=500)


class MergeIn(Schema):
    other_id: UUID


class MergeFieldOut(Schema):
    survivor: Any
    other: Any
    result: Any


class MergePreviewOut(Schema):
    survivor_id: UUID
    other_id: UUID
    rule: str
    fields: dict[str, MergeFieldOut]


class UpsertKeyIn(Schema):
    type: IdentityType = IdentityType.PHONE
    namespace: str = ""


_RENDERER = JSONRenderer()


class BulkUpsertIn(Schema):
    key: UpsertKeyIn = Field(
        default_factory=UpsertKeyIn, description="The identity that decides 'same contact'"
    )
    on_duplicate: Literal["update", "skip"] = "update"
    rows: list[dict[str, Any]] = Field(description=f"At most {MAX_BATCH} contacts, fields as in ContactIn")


class RowResultOut(Schema):
    index: int
    status: Literal["created", "updated", "unchanged", "skipped", "failed"]
    contact_id: UUID | None
    errors: dict[str, str]


class BulkUpsertOut(Schema):
    counts: dict[str, int]
    results: list[RowResultOut]


class TagGroupOut(Schema):
    id: UUID
    name: str
    is_exclusive: bool
    sort_order: int
    tags: list[TagOut]


class TagGroupIn(Schema):
    name: str
    is_exclusive: bool = False


class TagGroupPatch(Schema):
    name: str | None = None
    is_exclusive: bool | None = None


class TagIn(Schema):
    group_id: UUID
    name: str
    color: str = "blue"


class TagPatch(Schema):
    name: str | None = None
    color: str | None = None


class CustomFieldOut(Schema):
    id: UUID
    key: str
    label: str
    type: FieldType
    options: list[str]
    is_required: bool
    sort_order: int


class CustomFieldIn(Schema):
    label: str
    type: FieldType = FieldType.TEXT
    key: str = ""
    options: list[str] = Field(default_factory=list)
    is_required: bool = False


class CustomFieldPatch(Schema):
    label: str | None = None
    options: list[str] | None = None
    is_required: bool | None = None


class ChannelOut(Schema):
    id: UUID
    name: str
    code: str
    kind: ChannelKind
    is_active: bool


class ChannelIn(Schema):
    name: str
    kind: ChannelKind = ChannelKind.OTHER
    code: str = ""


# --- presenters: model → response dict ----------------------------------------------------------


def _member_ref(member: Member | None) -> dict[str, Any] | None:
    return {"id": member.id, "display_name": member.display_name} if member else None


def _tag_out(tag: Tag) -> dict[str, Any]:
    return {
        "id": tag.id,
        "group_id": tag.group_id,
        "name": tag.name,
        "color": tag.color,
        "sort_order": tag.sort_order,
    }


def _channel_ref(channel: Channel | None) -> dict[str, Any] | None:
    return {"id": channel.id, "name": channel.name, "code": channel.code} if channel else None


def contact_out(contact: Contact, tags: list[Tag]) -> dict[str, Any]:
    return {
        "id": contact.id,
        "name": contact.name,
        "phone": contact.masked_phone,
        "email": contact.email,
        "gender": contact.gender,
        "birthday": contact.birthday,
        "region": contact.region,
        "city": contact.city,
        "company": contact.company,
        "notes": contact.notes,
        "owner": _member_ref(contact.owner),
        "in_public_pool": contact.in_public_pool,
        "channel": _channel_ref(contact.channel),
        "stage": contact.stage,
        "strength": contact.strength,
        "custom": contact.custom,
        "tags": [_tag_out(t) for t in tags],
        "created_at": contact.created_at,
        "updated_at": contact.updated_at,
        "last_seen_at": contact.last_seen_at,
    }


def _contact_detail(contact: Contact) -> dict[str, Any]:
    return contact_out(contact, contact_tags(contact=contact))


def _identity_out(identity: Identity) -> dict[str, Any]:
    value = mask_phone(identity.value) if identity.type == IdentityType.PHONE else identity.value
    return {
        "id": identity.id,
        "type": identity.type,
        "namespace": identity.namespace,
        "value": value,
        "created_at": identity.created_at,
    }


def _follow_up_out(follow_up: FollowUp) -> dict[str, Any]:
    return {
        "id": follow_up.id,
        "kind": follow_up.kind,
        "content": follow_up.content,
        "next_follow_up_on": follow_up.next_follow_up_on,
        "done_at": follow_up.done_at,
        "author": _member_ref(follow_up.author),
        "created_at": follow_up.created_at,
    }


def _looks_like_phone(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("+") and value[1:].isdigit()


def _masked(value: Any) -> Any:
    return mask_phone(value) if _looks_like_phone(value) else value


def _mask_timeline_data(kind: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """Timeline entries record values as they were; phones in them leave the API masked."""
    masked = dict(data)
    if kind == TimelineKind.UPDATED and isinstance(masked.get("changes"), Mapping):
        changes = dict(masked["changes"])
        if isinstance(changes.get("phone"), Mapping):
            changes["phone"] = {k: _masked(v) for k, v in changes["phone"].items()}
        masked["changes"] = changes
    elif kind == TimelineKind.MERGED:
        masked["merged_name"] = _masked(masked.get("merged_name"))
        if isinstance(masked.get("preview"), Mapping):
            masked["preview"] = _mask_preview(masked["preview"])
    elif kind == TimelineKind.IDENTITY_ADDED and masked.get("type") == IdentityType.PHONE:
        masked["value"] = mask_phone(str(masked.get("value", "")))
    return masked


def _mask_preview(preview: Mapping[str, Any]) -> dict[str, Any]:
    masked = dict(preview)
    if isinstance(masked.get("phone"), Mapping):
        masked["phone"] = {k: _masked(v) for k, v in masked["phone"].items()}
    return masked


def _timeline_out(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "data": _mask_timeline_data(entry.kind, entry.data),
        "member": _member_ref(entry.member),
        "created_at": entry.created_at,
    }


def _tag_group_out(group: TagGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "is_exclusive": group.is_exclusive,
        "sort_order": group.sort_order,
        "tags": [_tag_out(t) for t in group.tags.all()],
    }


def _custom_filters(request: AuthedRequest) -> dict[str, Any]:
    """`cf_<key>=value` query parameters, typed by the field definitions (unknown keys are an error)."""
    raw = {
        k[len(CUSTOM_PREFIX) :]: v for k, v in request.GET.items() if k.startswith(CUSTOM_PREFIX) and v != ""
    }
    if not raw:
        return {}
    definitions: dict[str, CustomField] = {f.key: f for f in custom_field_list()}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in raw.items():
        definition = definitions.get(key)
        if definition is None:
            errors[f"{CUSTOM_PREFIX}{key}"] = _("There is no custom field “%(key)s”.") % {"key": key}
            continue
        try:
            values[key] = clean_custom_value(definition, value)
        except ValueError as exc:
            errors[f"{CUSTOM_PREFIX}{key}"] = str(exc)
    if errors:
        raise ValidationError(_("The filters are not valid."), fields=errors)
    return values


# --- contacts -----------------------------------------------------------------------------------

contacts_router = Router(tags=["contacts"])


@contacts_router.get("", response=ContactPageOut, operation_id="contacts_list")
def contacts_list(request: AuthedRequest, query: Query[ContactListQuery]) -> dict[str, Any]:
    """Contacts the caller may see, newest first, one cursor page at a time (never counted).

    Filter by custom fields with `cf_<key>=value`.
    """
    filters = ContactFilters(
        q=query.q.strip(),
        stages=[s.value for s in query.stage],
        owner=query.owner,
        tag_ids=query.tag,
        tag_match=query.tag_match,
        channel_ids=query.channel,
        custom=_custom_filters(request),
        created_from=query.created_from,
        created_to=query.created_to,
    )
    page = contact_page(actor=request.auth, filters=filters, cursor=query.cursor, limit=query.limit)
    tags = contact_tags_map(contact_ids=[c.id for c in page.items])
    return {
        "items": [contact_out(c, tags[c.id]) for c in page.items],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


@contacts_router.post("", response={201: ContactOut}, operation_id="contacts_create")
def contacts_create(request: AuthedRequest, payload: ContactIn) -> Status[dict[str, Any]]:
    contact = contact_create(actor=request.auth, data=payload.model_dump(exclude_unset=True), source="api")
    return Status(201, _contact_detail(contact))


@contacts_router.post("/bulk-upsert", response=BulkUpsertOut, operation_id="contacts_bulk_upsert")
def contacts_bulk_upsert(request: AuthedRequest, payload: BulkUpsertIn) -> HttpResponse:
    """Create or update up to 1,000 contacts keyed by an identity; replaying a call changes nothing.

    Each row succeeds or fails on its own; failed rows carry field errors.
    """
    if len(payload.rows) > MAX_BATCH:
        raise PayloadTooLarge(
            _("At most %(n)d rows per call; split the batch.") % {"n": MAX_BATCH},
            code="too_many_rows",
            fields={"rows": _("%(count)d rows sent.") % {"count": len(payload.rows)}},
        )
    results = contacts_upsert(
        actor=request.auth,
        rows=payload.rows,
        key=UpsertKey(type=payload.key.type, namespace=payload.key.namespace),
        on_duplicate=payload.on_duplicate,
        source="api",
    )
    counts = dict.fromkeys(("created", "updated", "unchanged", "skipped", "failed"), 0)
    for result in results:
        counts[result.status] += 1
    body = {
        "counts": counts,
        "results": [
            {
                "index": r.index,
                "status": r.status,
                "contact_id": None if r.contact_id is None else str(r.contact_id),
                "errors": r.errors,
            }
            for r in results
        ],
    }
    # Already in BulkUpsertOut's shape: rendered as ninja renders, without validating 1,000 results again.
    return HttpResponse(
        _RENDERER.render(request, body, response_status=200),
        content_type=f"{_RENDERER.media_type}; charset={_RENDERER.charset}",
    )


@contacts_router.get(
    "/{contact_id}", response=ContactOut, operation_id="contacts_get", url_name="contact_detail"
)
def contacts_get(request: AuthedRequest, contact_id: UUID, response: HttpResponse) -> dict[str, Any]:
    """A contact. A merged-away id answers the survivor (see its `id` and the Content-Location header)."""
    contact = contact_get_for(request.auth, contact_id)
    if contact.id != contact_id:
        response["Content-Location"] = reverse("api:contact_detail", kwargs={"contact_id": contact.id})
    return _contact_detail(contact)


@contacts_router.patch("/{contact_id}", response=ContactOut, operation_id="contacts_update")
def contacts_update(request: AuthedRequest, contact_id: UUID, payload: ContactPatch) -> dict[str, Any]:
    contact = contact_get_for(request.auth, contact_id)
    contact = contact_update(actor=request.auth, contact=contact, data=payload.model_dump(exclude_unset=True))
    return _contact_detail(contact)


@contacts_router.delete("/{contact_id}", response={204: None}, operation_id="contacts_delete")
def contacts_delete(request: AuthedRequest, contact_id: UUID) -> Status[None]:
    """Deletes the contact. A merged-away id answers 404 here: a stale id never deletes the survivor."""
    contact = contact_get_for(request.auth, contact_id, follow_merges=False)
    contact_delete(actor=request.auth, contact=contact)
    return Status(204, None)


@contacts_router.post("/{contact_id}/reveal-phone", response=PhoneOut, operation_id="contacts_reveal_phone")
def contacts_reveal_phone(request: AuthedRequest, contact_id: UUID) -> dict[str, str]:
    """The full phone number; every reveal is written to the audit log."""
    contact = contact_get_for(request.auth, contact_id)
    return {"phone": contact_phone_reveal(actor=request.auth, contact=contact)}


@contacts_router.post("/{contact_id}/owner", response=ContactOut, operation_id="contacts_owner_change")
def contacts_owner_change(request: AuthedRequest, contact_id: UUID, payload: OwnerIn) -> dict[str, Any]:
    contact = contact_get_for(request.auth, contact_id)
    owner = member_get(member_id=payload.owner_id) if payload.owner_id else None
    contact_owner_change(actor=request.auth, contacts=[contact], owner=owner)
    return _contact_detail(contact)


@contacts_router.post("/{contact_id}/stage", response=ContactOut, operation_id="contacts_stage_change")
def contacts_stage_change(request: AuthedRequest, contact_id: UUID, payload: StageIn) -> dict[str, Any]:
    """A manual stage change (any direction), recorded in the stage history."""
    contact = contact_get_for(request.auth, contact_id)
    contact_stage_change(
        actor=request.auth, contact=contact, stage=payload.stage, reason=payload.reason, manual=True
    )
    return _contact_detail(contact)


# identities


@contacts_router.get(
    "/{contact_id}/identities", response=list[IdentityOut], operation_id="contacts_identities_list"
)
def contacts_identities_list(request: AuthedRequest, contact_id: UUID) -> list[dict[str, Any]]:
    contact = contact_get_for(request.auth, contact_id)
    return [_identity_out(i) for i in identity_list(contact=contact)]


@contacts_router.post(
    "/{contact_id}/identities", response={201: IdentityOut}, operation_id="contacts_identities_add"
)
def contacts_identities_add(
    request: AuthedRequest, contact_id: UUID, payload: IdentityAddIn
) -> Status[dict[str, Any]]:
    """Attach an identity. Held by another contact: 409, or a merge into this contact with `merge: true`."""
    contact = contact_get_for(request.auth, contact_id)
    identity = identity_add(
        actor=request.auth,
        contact=contact,
        type=payload.type,
        namespace=payload.namespace,
        value=payload.value,
        merge=payload.merge,
    )
    return Status(201, _identity_out(identity))


@contacts_router.delete(
    "/{contact_id}/identities/{identity_id}", response={204: None}, operation_id="contacts_identities_remove"
)
def contacts_identities_remove(request: AuthedRequest, contact_id: UUID, identity_id: UUID) -> Status[None]:
    contact = contact_get_for(request.auth, contact_id)
    identity_remove(actor=request.auth, contact=contact, identity_id=identity_id)
    return Status(204, None)


# tags on a contact


@contacts_router.post("/{contact_id}/tags", response=list[TagOut], operation_id="contacts_tags_add")
def contacts_tags_add(request: AuthedRequest, contact_id: UUID, payload: TagIdsIn) -> list[dict[str, Any]]:
    """Add tags; in a single-choice group the new tag replaces the old one. Answers the contact's tags."""
    contact = contact_get_for(request.auth, contact_id)
    contact_tags_add(actor=request.auth, contact=contact, tags=tag_list_by_ids(tag_ids=payload.tag_ids))
    return [_tag_out(t) for t in contact_tags(contact=contact)]


@contacts_router.delete(
    "/{contact_id}/tags/{tag_id}", response={204: None}, operation_id="contacts_tags_remove"
)
def contacts_tags_remove(request: AuthedRequest, contact_id: UUID, tag_id: UUID) -> Status[None]:
    contact = contact_get_for(request.auth, contact_id)
    contact_tags_remove(actor=request.auth, contact=contact, tags=[tag_get(tag_id=tag_id)])
    return Status(204, None)


# follow-ups


@contacts_router.get(
    "/{contact_id}/follow-ups", response=list[FollowUpOut], operation_id="contacts_follow_ups_list"
)
def contacts_follow_ups_list(request: AuthedRequest, contact_id: UUID) -> list[dict[str, Any]]:
    contact = contact_get_for(request.auth, contact_id)
    return [_follow_up_out(f) for f in follow_up_list(contact=contact)]


@contacts_router.post(
    "/{contact_id}/follow-ups", response={201: FollowUpOut}, operation_id="contacts_follow_ups_create"
)
def contacts_follow_ups_create(
    request: AuthedRequest, contact_id: UUID, payload: FollowUpIn
) -> Status[dict[str, Any]]:
    contact = contact_get_for(request.auth, contact_id)
    follow_up = follow_up_create(
        actor=request.auth,
        contact=contact,
        kind=payload.kind,
        content=payload.content,
        next_follow_up_on=payload.next_follow_up_on,
    )
    return Status(201, _follow_up_out(follow_up))


@contacts_router.post(
    "/{contact_id}/follow-ups/{follow_up_id}/complete",
    response=FollowUpOut,
    operation_id="contacts_follow_ups_complete",
)
def contacts_follow_ups_complete(
    request: AuthedRequest, contact_id: UUID, follow_up_id: UUID
) -> dict[str, Any]:
    contact = contact_get_for(request.auth, contact_id)
    follow_up = follow_up_get(contact=contact, follow_up_id=follow_up_id)
    return _follow_up_out(follow_up_complete(actor=request.auth, follow_up=follow_up))


# timeline and merge


@contacts_router.get(
    "/{contact_id}/timeline", response=list[TimelineEntryOut], operation_id="contacts_timeline"
)
def contacts_timeline(
    request: AuthedRequest, contact_id: UUID, query: Query[TimelineQuery]
) -> list[dict[str, Any]]:
    """Newest first: creation, updates, stage and owner changes, tags, follow-ups, merges."""
    contact = contact_get_for(request.auth, contact_id)
    return [_timeline_out(e) for e in timeline_list(contact=contact, limit=query.limit)]


@contacts_router.get(
    "/{contact_id}/merge-preview", response=MergePreviewOut, operation_id="contacts_merge_preview"
)
def contacts_merge_preview(request: AuthedRequest, contact_id: UUID, other_id: UUID) -> dict[str, Any]:
    """What merging `other_id` into this contact would give, field by field, and the rule applied."""
    survivor = contact_get_for(request.auth, contact_id)
    other = contact_get_for(request.auth, other_id, follow_merges=False)
    return {
        "survivor_id": survivor.id,
        "other_id": other.id,
        "rule": str(MERGE_RULE),
        "fields": _mask_preview(contact_merge_preview(survivor=survivor, other=other)),
    }


@contacts_router.post("/{contact_id}/merge", response=ContactOut, operation_id="contacts_merge")
def contacts_merge(request: AuthedRequest, contact_id: UUID, payload: MergeIn) -> dict[str, Any]:
    """Merge `other_id` into this contact; the other id then redirects here. Audited."""
    survivor = contact_get_for(request.auth, contact_id)
    other = contact_get_for(request.auth, payload.other_id, follow_merges=False)
    return _contact_detail(contact_merge(actor=request.auth, survivor=survivor, other=other))


# --- tag groups and tags ------------------------------------------------------------------------

tag_groups_router = Router(tags=["tags"])
tags_router = Router(tags=["tags"])


@tag_groups_router.get("", response=list[TagGroupOut], operation_id="tag_groups_list")
def tag_groups_list(request: AuthedRequest) -> list[dict[str, Any]]:
    return [_tag_group_out(g) for g in tag_group_list()]


@tag_groups_router.post("", response={201: TagGroupOut}, operation_id="tag_groups_create")
def tag_groups_create(request: AuthedRequest, payload: TagGroupIn) -> Status[dict[str, Any]]:
    group = tag_group_create(actor=request.auth, name=payload.name, is_exclusive=payload.is_exclusive)
    return Status(201, _tag_group_out(group))


@tag_groups_router.get("/{group_id}", response=TagGroupOut, operation_id="tag_groups_get")
def tag_groups_get(request: AuthedRequest, group_id: UUID) -> dict[str, Any]:
    return _tag_group_out(tag_group_get(group_id=group_id))


@tag_groups_router.patch("/{group_id}", response=TagGroupOut, operation_id="tag_groups_update")
def tag_groups_update(request: AuthedRequest, group_id: UUID, payload: TagGroupPatch) -> dict[str, Any]:
    group = tag_group_get(group_id=group_id)
    group = tag_group_update(
        actor=request.auth,
        group=group,
        name=payload.name if payload.name is not None else group.name,
        is_exclusive=payload.is_exclusive if payload.is_exclusive is not None else group.is_exclusive,
    )
    return _tag_group_out(group)


@tag_groups_router.delete("/{group_id}", response={204: None}, operation_id="tag_groups_delete")
def tag_groups_delete(request: AuthedRequest, group_id: UUID) -> Status[None]:
    """Deletes the group with its tags (and removes them from contacts)."""
    tag_group_delete(actor=request.auth, group=tag_group_get(group_id=group_id))
    return Status(204, None)


@tags_router.get("", response=list[TagOut], operation_id="tags_list")
def tags_list(request: AuthedRequest) -> list[dict[str, Any]]:
    return [_tag_out(t) for t in tag_list()]


@tags_router.post("", response={201: TagOut}, operation_id="tags_create")
def tags_create(request: AuthedRequest, payload: TagIn) -> Status[dict[str, Any]]:
    group = tag_group_get(group_id=payload.group_id)
    return Status(
        201, _tag_out(tag_create(actor=request.auth, group=group, name=payload.name, color=payload.color))
    )


@tags_router.get("/{tag_id}", response=TagOut, operation_id="tags_get")
def tags_get(request: AuthedRequest, tag_id: UUID) -> dict[str, Any]:
    return _tag_out(tag_get(tag_id=tag_id))


@tags_router.patch("/{tag_id}", response=TagOut, operation_id="tags_update")
def tags_update(request: AuthedRequest, tag_id: UUID, payload: TagPatch) -> dict[str, Any]:
    tag = tag_get(tag_id=tag_id)
    tag = tag_update(
        actor=request.auth,
        tag=tag,
        name=payload.name if payload.name is not None else tag.name,
        color=payload.color if payload.color is not None else tag.color,
    )
    return _tag_out(tag)


@tags_router.delete("/{tag_id}", response={204: None}, operation_id="tags_delete")
def tags_delete(request: AuthedRequest, tag_id: UUID) -> Status[None]:
    tag_delete(actor=request.auth, tag=tag_get(tag_id=tag_id))
    return Status(204, None)


# --- custom field definitions -------------------------------------------------------------------

custom_fields_router = Router(tags=["custom fields"])


def _custom_field_out(definition: CustomField) -> dict[str, Any]:
    return {
        "id": definition.id,
        "key": definition.key,
        "label": definition.label,
        "type": definition.type,
        "options": [str(o) for o in definition.options],
        "is_required": definition.is_required,
        "sort_order": definition.sort_order,
    }


@custom_fields_router.get("", response=list[CustomFieldOut], operation_id="custom_fields_list")
def custom_fields_list(request: AuthedRequest) -> list[dict[str, Any]]:
    return [_custom_field_out(f) for f in custom_field_list()]


@custom_fields_router.post("", response={201: CustomFieldOut}, operation_id="custom_fields_create")
def custom_fields_create(request: AuthedRequest, payload: CustomFieldIn) -> Status[dict[str, Any]]:
    definition = custom_field_create(
        actor=request.auth,
        label=payload.label,
        type=payload.type,
        key=payload.key,
        options=payload.options,
        is_required=payload.is_required,
    )
    return Status(201, _custom_field_out(definition))


@custom_fields_router.get("/{field_id}", response=CustomFieldOut, operation_id="custom_fields_get")
def custom_fields_get(request: AuthedRequest, field_id: UUID) -> dict[str, Any]:
    return _custom_field_out(custom_field_get(field_id=field_id))


@custom_fields_router.patch("/{field_id}", response=CustomFieldOut, operation_id="custom_fields_update")
def custom_fields_update(request: AuthedRequest, field_id: UUID, payload: CustomFieldPatch) -> dict[str, Any]:
    """The label, options and required flag change; the key and type are fixed once created."""
    definition = custom_field_get(field_id=field_id)
    definition = custom_field_update(
        actor=request.auth,
        field=definition,
        label=payload.label if payload.label is not None else definition.label,
        options=payload.options if payload.options is not None else list(definition.options),
        is_required=payload.is_required if payload.is_required is not None else definition.is_required,
    )
    return _custom_field_out(definition)


@custom_fields_router.delete("/{field_id}", response={204: None}, operation_id="custom_fields_delete")
def custom_fields_delete(request: AuthedRequest, field_id: UUID) -> Status[None]:
    custom_field_delete(actor=request.auth, field=custom_field_get(field_id=field_id))
    return Status(204, None)


# --- channels -----------------------------------------------------------------------------------

channels_router = Router(tags=["channels"])


def _channel_out(channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "code": channel.code,
        "kind": channel.kind,
        "is_active": channel.is_active,
    }


@channels_router.get("", response=list[ChannelOut], operation_id="channels_list")
def channels_list(request: AuthedRequest) -> list[dict[str, Any]]:
    return [_channel_out(c) for c in channel_list()]


@channels_router.post("", response={201: ChannelOut}, operation_id="channels_create")
def channels_create(request: AuthedRequest, payload: ChannelIn) -> Status[dict[str, Any]]:
    channel = channel_create(actor=request.auth, name=payload.name, kind=payload.kind, code=payload.code)
    return Status(201, _channel_out(channel))
