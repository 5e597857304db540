"""Tag groups, tags, and tagging contacts one at a time or in bulk."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from uuid import UUID

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from siyu.contacts.models import Contact, ContactTag, Tag, TagGroup, TimelineEntry, TimelineKind
from siyu.contacts.services.contacts import contacts_changed
from siyu.core.errors import Conflict, ValidationError
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

BULK_CHUNK = 1000


def _name(raw: str, *, what: str) -> str:
    name = (raw or "").strip()
    if not name or len(name) > 50:
        raise ValidationError(
            _("A %(what)s needs a name of 1 to 50 characters.") % {"what": what},
            fields={"name": _("Invalid.")},
        )
    return name


@transaction.atomic
def tag_group_create(*, actor: Actor, name: str, is_exclusive: bool = False) -> TagGroup:
    actor.require(Permission.TAGS_MANAGE)
    name = _name(name, what=_("tag group"))
    if TagGroup.objects.filter(name=name).exists():
        raise Conflict(
            _("A tag group named “%(name)s” already exists.") % {"name": name}, fields={"name": ""}
        )
    return TagGroup.objects.create(name=name, is_exclusive=is_exclusive, sort_order=TagGroup.objects.count())


@transaction.atomic
def tag_group_update(*, actor: Actor, group: TagGroup, name: str, is_exclusive: bool) -> TagGroup:
    actor.require(Permission.TAGS_MANAGE)
    name = _name(name, what=_("tag group"))
    if TagGroup.objects.filter(name=name).exclude(id=group.id).exists():
        raise Conflict(
            _("A tag group named “%(name)s” already exists.") % {"name": name}, fields={"name": ""}
        )
    group.name, group.is_exclusive = name, is_exclusive
    group.save(update_fields=["name", "is_exclusive"])
    return group


@transaction.atomic
def tag_group_delete(*, actor: Actor, group: TagGroup) -> None:
    actor.require(Permission.TAGS_MANAGE)
    group.delete()


@transaction.atomic
def tag_create(*, actor: Actor, group: TagGroup, name: str, color: str = "blue") -> Tag:
    actor.require(Permission.TAGS_MANAGE)
    name = _name(name, what=_("tag"))
    if Tag.objects.filter(group=group, name=name).exists():
        raise Conflict(
            _("“%(group)s” already has a tag named “%(name)s”.") % {"group": group.name, "name": name},
            fields={"name": ""},
        )
    return Tag.objects.create(group=group, name=name, color=color[:20] or "blue")


@transaction.atomic
def tag_update(*, actor: Actor, tag: Tag, name: str, color: str) -> Tag:
    actor.require(Permission.TAGS_MANAGE)
    name = _name(name, what=_("tag"))
    if Tag.objects.filter(group_id=tag.group_id, name=name).exclude(id=tag.id).exists():
        raise Conflict(_("That tag name is taken in this group."), fields={"name": ""})
    tag.name, tag.color = name, color[:20] or tag.color
    tag.save(update_fields=["name", "color"])
    return tag


@transaction.atomic
def tag_delete(*, actor: Actor, tag: Tag) -> None:
    actor.require(Permission.TAGS_MANAGE)
    tag.delete()


def default_tag_group() -> TagGroup:
    """Where tags named in imports and API payloads without a group are created."""
    name = _("Other tags")
    group = TagGroup.objects.filter(name=name).first()
    if group is None:
        try:
            with transaction.atomic():
                group = TagGroup.objects.create(name=name, sort_order=999)
        except IntegrityError:
            group = TagGroup.objects.get(name=name)
    return group


def tags_for_names(*, names: Iterable[str]) -> list[Tag]:
    """Tags by name (first match across groups); unknown names are created in the default group."""
    wanted = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not wanted:
        return []
    found: dict[str, Tag] = {}
    for tag in Tag.objects.filter(name__in=wanted).select_related("group").order_by("group__sort_order"):
        found.setdefault(tag.name, tag)
    missing = [n for n in wanted if n not in found]
    if missing:
        group = default_tag_group()
        for name in missing:
            found[name] = Tag.objects.get_or_create(group=group, name=name[:50])[0]
    return [found[n] for n in wanted]


def _check_exclusive(tags: Sequence[Tag]) -> None:
    seen: dict[UUID, Tag] = {}
    for tag in tags:
        if tag.group.is_exclusive:
            if tag.group_id in seen and seen[tag.group_id].id != tag.id:
                raise ValidationError(
                    _("“%(group)s” allows one tag per contact; pick either “%(a)s” or “%(b)s”.")
                    % {"group": tag.group.name, "a": seen[tag.group_id].name, "b": tag.name},
                    fields={"tag_ids": ""},
                )
            seen[tag.group_id] = tag


def _tag_contacts(*, actor: Actor, contact_ids: Sequence[UUID], tags: Sequence[Tag]) -> int:
    """Add tags to many contacts; in single-choice groups the new tag replaces the old one."""
    exclusive = [t for t in tags if t.group.is_exclusive]
    if exclusive:
        ContactTag.objects.filter(
            contact_id__in=contact_ids, tag__group_id__in=[t.group_id for t in exclusive]
        ).exclude(tag_id__in=[t.id for t in exclusive]).delete()
    existing: dict[UUID, set[UUID]] = defaultdict(set)
    for contact_id, tag_id in ContactTag.objects.filter(
        contact_id__in=contact_ids, tag_id__in=[t.id for t in tags]
    ).values_list("contact_id", "tag_id"):
        existing[contact_id].add(tag_id)
    rows: list[ContactTag] = []
    entries: list[TimelineEntry] = []
    for contact_id in contact_ids:
        added = [t for t in tags if t.id not in existing[contact_id]]
        if not added:
            continue
        rows.extend(ContactTag(contact_id=contact_id, tag=t) for t in added)
        entries.append(
            TimelineEntry(
                contact_id=contact_id,
                kind=TimelineKind.TAGS_ADDED,
                data={"tags": [t.name for t in added]},
                member=actor.member,
            )
        )
    ContactTag.objects.bulk_create(rows, ignore_conflicts=True)
    TimelineEntry.objects.bulk_create(entries)
    contacts_changed([entry.contact_id for entry in entries] if not exclusive else contact_ids, "tags")
    return len(entries)


def _untag_contacts(*, actor: Actor, contact_ids: Sequence[UUID], tags: Sequence[Tag]) -> int:
    present: dict[UUID, list[str]] = defaultdict(list)
    names = {t.id: t.name for t in tags}
    rows = ContactTag.objects.filter(contact_id__in=contact_ids, tag_id__in=list(names))
    for contact_id, tag_id in rows.values_list("contact_id", "tag_id"):
        present[contact_id].append(names[tag_id])
    rows.delete()
    TimelineEntry.objects.bulk_create(
        TimelineEntry(
            contact_id=contact_id, kind=TimelineKind.TAGS_REMOVED, data={"tags": removed}, member=actor.member
        )
        for contact_id, removed in present.items()
    )
    contacts_changed(present, "tags")
    return len(present)


@transaction.atomic
def contact_tags_add(*, actor: Actor, contact: Contact, tags: Sequence[Tag]) -> None:
    actor.require(Permission.CONTACTS_WRITE)
    _check_exclusive(tags)
    _tag_contacts(actor=actor, contact_ids=[contact.id], tags=tags)


@transaction.atomic
def contact_tags_remove(*, actor: Actor, contact: Contact, tags: Sequence[Tag]) -> None:
    actor.require(Permission.CONTACTS_WRITE)
    _untag_contacts(actor=actor, contact_ids=[contact.id], tags=tags)


def contacts_tag_bulk(
    *, actor: Actor, contacts: QuerySet[Contact], tags: Sequence[Tag], remove: bool = False
) -> int:
    """Tag or untag every contact of a (scoped, filtered) queryset, in chunks. Returns contacts changed."""
    actor.require(Permission.CONTACTS_WRITE)
    _check_exclusive(tags)
    changed = 0
    last_id: UUID | None = None
    ordered = contacts.order_by("id")
    while True:
        chunk_query = ordered.filter(id__gt=last_id) if last_id else ordered
        chunk = list(chunk_query.values_list("id", flat=True)[:BULK_CHUNK])
        if not chunk:
            return changed
        with transaction.atomic():
            if remove:
                changed += _untag_contacts(actor=actor, contact_ids=chunk, tags=tags)
            else:
                changed += _tag_contacts(actor=actor, contact_ids=chunk, tags=tags)
        last_id = chunk[-1]
