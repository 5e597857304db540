"""Reads of contacts and their satellites. Every read goes through the actor's data scope."""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar
from uuid import UUID

from django.db import connection
from django.db.models import BooleanField, Count, Model, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from siyu.contacts.cleaning import reversed_digits
from siyu.contacts.models import (
    Channel,
    Contact,
    ContactRedirect,
    ContactTag,
    CustomField,
    ExportJob,
    FollowUp,
    Identity,
    IdentityType,
    ImportJob,
    SavedView,
    StageChange,
    Tag,
    TagGroup,
    TimelineEntry,
    mask_phone,
)
from siyu.core.errors import NotFound
from siyu.core.ids import uuid_or_none
from siyu.core.pagination import Page, decode_id_cursor, encode_cursor, paginate_by_id
from siyu.core.time import today
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tenancy.selectors import member_list

_M = TypeVar("_M", bound=Model)
_DIGITS = re.compile(r"^\+?\d{3,20}$")
_ASCII_WORD = re.compile(r"^[a-z]+$")


def contact_scoped(*, actor: Actor) -> QuerySet[Contact]:
    """The one entry point for contact reads: tenant (by the manager) + data scope (by the actor)."""
    actor.require(Permission.CONTACTS_READ)
    return Contact.objects.filter(actor.scope_q())


def contact_redirect_target(*, contact_id: UUID | str) -> UUID | None:
    old_id = uuid_or_none(contact_id)
    if old_id is None:
        return None
    return ContactRedirect.objects.filter(old_id=old_id).values_list("contact_id", flat=True).first()


def contact_get_for(actor: Actor, contact_id: UUID | str, *, follow_merges: bool = True) -> Contact:
    """The only way HTTP code fetches a contact by id: another workspace's id or one out of scope is 404."""
    wanted = uuid_or_none(contact_id)
    if wanted is None:
        raise NotFound(_("Contact not found."))
    contacts = contact_scoped(actor=actor).select_related("owner", "channel", "owner__team")
    contact = contacts.filter(id=wanted).first()
    if contact is None and follow_merges:
        survivor_id = contact_redirect_target(contact_id=wanted)
        if survivor_id is not None:
            contact = contacts.filter(id=survivor_id).first()
    if contact is None:
        raise NotFound(_("Contact not found."))
    return contact


@dataclass
class ContactFilters:
    q: str = ""
    stages: list[str] = field(default_factory=list)
    owner: str = ""  # "" any, "me", "pool", or a member id
    tag_ids: list[UUID] = field(default_factory=list)
    tag_match: str = "any"  # any | all | none
    channel_ids: list[UUID] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    created_from: date | None = None
    created_to: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "q": self.q,
            "stages": self.stages,
            "owner": self.owner,
            "tag_ids": [str(t) for t in self.tag_ids],
            "tag_match": self.tag_match,
            "channel_ids": [str(c) for c in self.channel_ids],
            "custom": self.custom,
            "created_from": self.created_from.isoformat() if self.created_from else None,
            "created_to": self.created_to.isoformat() if self.created_to else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ContactFilters":
        def uuids(values: list[Any]) -> list[UUID]:
            return [u for u in (uuid_or_none(v) for v in values or []) if u is not None]

        def day(value: Any) -> date | None:
            try:
                return date.fromisoformat(value) if value else None
            except (TypeError, ValueError):
                return None

        return cls(
            q=str(data.get("q") or "").strip(),
            stages=[str(s) for s in data.get("stages") or []],
            owner=str(data.get("owner") or ""),
            tag_ids=uuids(data.get("tag_ids") or []),
            tag_match=str(data.get("tag_match") or "any"),
            channel_ids=uuids(data.get("channel_ids") or []),
            custom=dict(data.get("custom") or {}),
            created_from=day(data.get("created_from")),
            created_to=day(data.get("created_to")),
        )


def _prefix(field: str, value: str) -> Q:
    """`field` starts with `value`, in the form each database answers from an index.

    PostgreSQL: LIKE 'x%' on a pattern-ops index (right under any collation). SQLite: LIKE cannot use
    an index there (it is case-insensitive), so the prefix becomes a range over the binary order.
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": value})
    return Q(**{f"{field}__gte": value, f"{field}__lt": value + "\U0010ffff"})


def contact_search_q(query: str) -> Q:
    """Name, pinyin ("zhangsan") and initials ("zs"), phone suffix ("尾号"), email and identity values.

    Every branch is an indexed range or equality, so the OR is answered from indexes, not a scan.
    """
    query = query.strip()
    if not query:
        return Q()
    lowered = query.lower()
    identity_match = Q(id__in=Identity.objects.filter(value=query).values("contact_id"))
    if _DIGITS.match(query):
        return _prefix("phone_reversed", reversed_digits(query)) | identity_match
    if "@" in query:
        return _prefix("email", lowered) | identity_match
    compact = lowered.replace(" ", "")
    if _ASCII_WORD.match(compact):
        return (
            _prefix("name_pinyin", compact)
            | _prefix("name_initials", compact)
            | _prefix("email", compact)
            | identity_match
        )
    return _prefix("name", query) | identity_match


def contact_list(*, actor: Actor, filters: ContactFilters | None = None) -> QuerySet[Contact]:
    contacts = contact_scoped(actor=actor)
    if filters is None:
        return contacts
    if filters.q:
        contacts = contacts.filter(contact_search_q(filters.q))
    if filters.stages:
        contacts = contacts.filter(stage__in=filters.stages)
    if filters.owner == "me":
        contacts = contacts.filter(owner_id=actor.member_id)
    elif filters.owner == "pool":
        contacts = contacts.filter(owner__isnull=True)
    elif filters.owner:
        owner_id = uuid_or_none(filters.owner)
        contacts = contacts.filter(owner_id=owner_id) if owner_id else contacts.none()
    if filters.channel_ids:
        contacts = contacts.filter(channel_id__in=filters.channel_ids)
    if filters.tag_ids:
        tagged = ContactTag.objects.filter(tag_id__in=filters.tag_ids)
        if filters.tag_match == "none":
            contacts = contacts.exclude(id__in=tagged.values("contact_id"))
        elif filters.tag_match == "all":
            for tag_id in filters.tag_ids:
                contacts = contacts.filter(
                    id__in=ContactTag.objects.filter(tag_id=tag_id).values("contact_id")
                )
        else:
            contacts = contacts.filter(id__in=tagged.values("contact_id"))
    for key, value in filters.custom.items():
        if value in (None, ""):
            continue
        if isinstance(value, list):
            contacts = _custom_list_has_all(contacts, key, value)
        else:
            contacts = contacts.filter(**{f"custom__{key}": value})
    if filters.created_from:
        contacts = contacts.filter(created_at__date__gte=filters.created_from)
    if filters.created_to:
        contacts = contacts.filter(created_at__date__lte=filters.created_to)
    return contacts


def contact_page(
    *, actor: Actor, filters: ContactFilters | None = None, cursor: str | None = None, limit: int = 50
) -> Page[Contact]:
    """One keyset page of the actor's (filtered) contacts, newest first, owner and channel joined."""
    contacts = contact_list(actor=actor, filters=filters).select_related("owner", "channel")
    return paginate_by_id(contacts, cursor=cursor, limit=limit)


def _custom_list_has_all(contacts: QuerySet[Contact], key: str, values: list[Any]) -> QuerySet[Contact]:
    """Contacts whose multi-select custom field holds every given value."""
    if connection.vendor == "postgresql":
        return contacts.filter(**{f"custom__{key}__contains": values})
    # SQLite has no JSON containment; ask json_each for each wanted value instead. Only the
    # constant table name is interpolated; the key and the value are bound parameters.
    sql = (
        f"EXISTS (SELECT 1 FROM json_each({Contact._meta.db_table}.custom, %s) AS item WHERE item.value = %s)"  # noqa: S608
    )
    for value in values:
        contacts = contacts.filter(
            RawSQL(  # noqa: S611
                sql,
                (f'$."{key}"', value),
                output_field=BooleanField(),
            )
        )
    return contacts


def contact_tags_map(*, contact_ids: list[UUID]) -> dict[UUID, list[Tag]]:
    """Tags of many contacts in one query (for list pages)."""
    result: dict[UUID, list[Tag]] = {cid: [] for cid in contact_ids}
    rows = ContactTag.objects.filter(contact_id__in=contact_ids).select_related("tag", "tag__group")
    for row in rows:
        result[row.contact_id].append(row.tag)
    return result


def contact_tags(*, contact: Contact) -> list[Tag]:
    return [ct.tag for ct in ContactTag.objects.filter(contact=contact).select_related("tag", "tag__group")]


def identity_list(*, contact: Contact) -> QuerySet[Identity]:
    return Identity.objects.filter(contact=contact)


def identity_owner(*, type: str, namespace: str, value: str) -> Identity | None:
    return Identity.objects.filter(type=type, namespace=namespace, value=value).first()


def timeline_list(*, contact: Contact, limit: int = 100) -> list[TimelineEntry]:
    return list(TimelineEntry.objects.filter(contact=contact).select_related("member")[:limit])


def stage_history(*, contact: Contact) -> QuerySet[StageChange]:
    return StageChange.objects.filter(contact=contact).select_related("member")


def follow_up_list(*, contact: Contact) -> QuerySet[FollowUp]:
    return FollowUp.objects.filter(contact=contact).select_related("author")


def follow_up_get(*, contact: Contact, follow_up_id: UUID | str) -> FollowUp:
    found = _by_id(FollowUp.objects.filter(contact=contact).select_related("author", "contact"), follow_up_id)
    if found is None:
        raise NotFound(_("Follow-up not found."))
    return found


def follow_ups_due(*, actor: Actor, on: date | None = None, limit: int = 50) -> list[FollowUp]:
    """Open follow-ups due by `on` that the actor wrote or whose contact the actor owns."""
    due = (
        FollowUp.objects.filter(done_at__isnull=True, next_follow_up_on__lte=on or today())
        .filter(Q(author_id=actor.member_id) | Q(contact__owner_id=actor.member_id))
        .select_related("contact", "author")
        .order_by("next_follow_up_on", "created_at")
    )
    return list(due[:limit])


def tag_group_list() -> QuerySet[TagGroup]:
    return TagGroup.objects.prefetch_related("tags")


def tag_list() -> QuerySet[Tag]:
    return Tag.objects.select_related("group")


def tag_list_by_ids(*, tag_ids: list[UUID]) -> list[Tag]:
    tags = list(Tag.objects.filter(id__in=tag_ids).select_related("group"))
    missing = {str(t) for t in tag_ids} - {str(t.id) for t in tags}
    if missing:
        raise NotFound(_("Tag not found: %(ids)s") % {"ids": ", ".join(sorted(missing))})
    return tags


def _by_id(queryset: QuerySet[_M], raw_id: UUID | str) -> _M | None:
    wanted = uuid_or_none(raw_id)
    return queryset.filter(id=wanted).first() if wanted is not None else None


def tag_get(*, tag_id: UUID | str) -> Tag:
    tag = _by_id(Tag.objects.select_related("group"), tag_id)
    if tag is None:
        raise NotFound(_("Tag not found."))
    return tag


def tag_group_get(*, group_id: UUID | str) -> TagGroup:
    group = _by_id(TagGroup.objects.all(), group_id)
    if group is None:
        raise NotFound(_("Tag group not found."))
    return group


def custom_field_list() -> QuerySet[CustomField]:
    return CustomField.objects.all()


def custom_field_get(*, field_id: UUID | str) -> CustomField:
    found = _by_id(CustomField.objects.all(), field_id)
    if found is None:
        raise NotFound(_("Custom field not found."))
    return found


def channel_get(*, channel_id: UUID | str) -> Channel:
    found = _by_id(Channel.objects.all(), channel_id)
    if found is None:
        raise NotFound(_("Channel not found."))
    return found


def channel_list() -> QuerySet[Channel]:
    return Channel.objects.all()


def saved_view_list(*, actor: Actor) -> QuerySet[SavedView]:
    return SavedView.objects.filter(Q(member_id=actor.member_id) | Q(is_shared=True))


def saved_view_get(*, actor: Actor, view_id: UUID | str) -> SavedView:
    found = _by_id(saved_view_list(actor=actor), view_id)
    if found is None:
        raise NotFound(_("Saved view not found."))
    return found


def import_job_get(*, actor: Actor, job_id: UUID | str) -> ImportJob:
    job = _by_id(ImportJob.objects.all(), job_id)
    if job is None or not actor.can(Permission.CONTACTS_IMPORT):
        raise NotFound(_("Import not found."))
    return job


def export_job_get(*, actor: Actor, job_id: UUID | str) -> ExportJob:
    job = _by_id(ExportJob.objects.filter(created_by_id=actor.member_id), job_id)
    if job is None:
        raise NotFound(_("Export not found."))
    return job


def contact_counts_by_stage(*, actor: Actor) -> dict[str, int]:
    rows = contact_scoped(actor=actor).order_by().values("stage").annotate(n=Count("id"))
    return {row["stage"]: row["n"] for row in rows}


def contact_counts_by_owner(*, actor: Actor) -> list[tuple[UUID | None, str, int]]:
    """(owner id, owner name, contacts), largest first; the public pool has owner None.

    Grouped on the indexed owner column alone; names are joined afterwards from the few members.
    """
    rows = contact_scoped(actor=actor).order_by().values_list("owner_id").annotate(n=Count("id"))
    counts = dict(rows)
    owners = member_list(active_only=False).filter(id__in=[o for o in counts if o])
    names = dict(owners.values_list("id", "display_name"))
    return sorted(
        ((owner_id, names.get(owner_id, "") if owner_id else "", n) for owner_id, n in counts.items()),
        key=lambda row: (-row[2], row[1]),
    )


def tag_contact_counts() -> dict[UUID, int]:
    """How many contacts carry each tag, workspace-wide: one GROUP BY over the (workspace, tag, contact) index."""
    rows = ContactTag.objects.order_by().values("tag_id").annotate(n=Count("id"))
    return {row["tag_id"]: row["n"] for row in rows}


def contact_page_before(
    *, actor: Actor, filters: ContactFilters | None = None, cursor: str, limit: int = 50
) -> Page[Contact]:
    """The keyset page just before `cursor` (the newer rows), still newest first.

    `next_cursor` is the cursor for going back once more (None on the first page); the page after
    this one starts at `cursor` again.
    """
    contacts = contact_list(actor=actor, filters=filters).select_related("owner", "channel")
    newer = list(contacts.filter(id__gt=decode_id_cursor(cursor, Contact)).order_by("id")[: limit + 1])
    has_more = len(newer) > limit
    items = list(reversed(newer[:limit]))
    return Page(items=items, next_cursor=encode_cursor(items[0].pk) if has_more else None, has_more=has_more)


def contact_count_capped(*, actor: Actor, filters: ContactFilters | None = None, cap: int = 10_000) -> int:
    """How many contacts match, counting at most `cap + 1` rows (so a huge table is never counted)."""
    return contact_list(actor=actor, filters=filters).order_by().values("id")[: cap + 1].count()


def contacts_by_ids(*, actor: Actor, contact_ids: list[UUID]) -> QuerySet[Contact]:
    """The actor's contacts among these ids (others, out of scope or elsewhere, are silently absent)."""
    return contact_scoped(actor=actor).filter(id__in=contact_ids).select_related("owner")


def import_job_list(*, actor: Actor, limit: int = 50) -> list[ImportJob]:
    if not actor.can(Permission.CONTACTS_IMPORT):
        return []
    return list(ImportJob.objects.select_related("created_by")[:limit])


def export_job_list(*, actor: Actor, limit: int = 50) -> list[ExportJob]:
    """An actor's own exports: the files are theirs alone to download."""
    if actor.member_id is None:
        return []
    return list(ExportJob.objects.filter(created_by_id=actor.member_id)[:limit])


# For the event processor ------------------------------------------------------------------------------


def identity_owners(*, keys: Iterable[tuple[str, str, str]]) -> dict[tuple[str, str, str], UUID]:
    """(type, namespace, value) → the contact holding it, for the keys that are held. One query per 500."""
    wanted = list(dict.fromkeys(keys))
    found: dict[tuple[str, str, str], UUID] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        rows = Identity.objects.filter(value__in={value for _k, _ns, value in chunk}).values_list(
            "type", "namespace", "value", "contact_id"
        )
        wanted_set = set(chunk)
        for kind, namespace, value, contact_id in rows:
            if (kind, namespace, value) in wanted_set:
                found[(kind, namespace, value)] = contact_id
    return found


def contacts_known_identities(*, contact_ids: Iterable[UUID]) -> dict[UUID, list[tuple[str, str, str]]]:
    """The identities other than anonymous browser ids of these contacts; a contact with none is anonymous."""
    found: dict[UUID, list[tuple[str, str, str]]] = {}
    rows = (
        Identity.objects.filter(contact_id__in=list(set(contact_ids)))
        .exclude(type=IdentityType.ANONYMOUS)
        .values_list("contact_id", "type", "namespace", "value")
    )
    for contact_id, kind, namespace, value in rows:
        found.setdefault(contact_id, []).append((kind, namespace, value))
    return found


@dataclass(frozen=True)
class ContactBrief:
    id: UUID
    label: str  # name, masked phone or nothing
    owner_id: UUID | None
    stage: str


def contact_briefs(*, contact_ids: Iterable[UUID]) -> dict[UUID, ContactBrief]:
    rows = Contact.objects.filter(id__in=list(set(contact_ids))).values_list(
        "id", "name", "phone", "owner_id", "stage"
    )
    return {
        cid: ContactBrief(id=cid, label=name or mask_phone(phone), owner_id=owner_id, stage=stage)
        for cid, name, phone, owner_id, stage in rows
    }


# -- base querysets for set-based readers above (segment rules, reports) ----------------------------


def contact_rows() -> QuerySet[Contact]:
    return Contact.objects.all()


def contact_tag_rows() -> QuerySet[ContactTag]:
    return ContactTag.objects.all()


def identity_rows() -> QuerySet[Identity]:
    return Identity.objects.all()
