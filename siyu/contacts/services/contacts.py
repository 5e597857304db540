"""Writes on single contacts: create, update, stage, owner, identities, reveal, delete, merge."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from uuid import UUID

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.contacts.cleaning import name_search_keys, reversed_digits
from siyu.contacts.events import ContactDeleted, ContactsChanged, ContactsCreated, ContactsMerged
from siyu.contacts.models import (
    STAGE_ORDER,
    Contact,
    ContactRedirect,
    ContactTag,
    FollowUp,
    Identity,
    IdentityType,
    Stage,
    StageChange,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.services.values import PLAIN_FIELDS, ContactLookups, contact_values_clean
from siyu.core.errors import Conflict, PermissionDenied, ValidationError
from siyu.core.events import publish
from siyu.core.tenancy import active_workspace_id
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import AuditAction, Member
from siyu.tenancy.roles import Permission
from siyu.tenancy.services import audit_record


def contacts_changed(contact_ids: Iterable[UUID], *aspects: str) -> None:
    """Tell the domains above which contacts changed and what (segments re-evaluate only that)."""
    ids = tuple(dict.fromkeys(contact_ids))
    if ids and aspects:
        publish(
            ContactsChanged(
                workspace_id=UUID(str(active_workspace_id())), contact_ids=ids, aspects=frozenset(aspects)
            )
        )


def contacts_created(contact_ids: Iterable[UUID]) -> None:
    ids = tuple(dict.fromkeys(contact_ids))
    if ids:
        publish(ContactsCreated(workspace_id=UUID(str(active_workspace_id())), contact_ids=ids))


def timeline_record(
    *, contact: Contact, kind: TimelineKind, data: Mapping[str, Any] | None = None, actor: Actor | None = None
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        contact=contact, kind=kind, data=dict(data or {}), member=actor.member if actor else None
    )


def _display(value: Any) -> Any:
    if isinstance(value, Member):
        return value.display_name
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "name") and hasattr(value, "pk"):
        return value.name
    return value


# Columns kept in step with a plain field by `contact_set_field` (saved with it).
DERIVED_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("name_pinyin", "name_initials"),
    "phone": ("phone_reversed",),
}


def _with_derived(columns: set[str]) -> list[str]:
    return sorted(
        columns | {extra for name in columns for extra in DERIVED_COLUMNS.get(name, ())} | {"updated_at"}
    )


def contact_set_field(contact: Contact, name: str, value: Any) -> None:
    """Set a plain field, keeping the search keys derived from it (pinyin, initials, reversed phone) in step."""
    setattr(contact, name, value)
    if name == "name":
        contact.name_pinyin, contact.name_initials = name_search_keys(value)
    elif name == "phone":
        contact.phone_reversed = reversed_digits(value)


def contact_owner_changeable(*, actor: Actor, contact: Contact) -> bool:
    """Whether the actor may reassign this contact at all: managers any, others their own or the pool's."""
    if actor.can(Permission.CONTACTS_ASSIGN):
        return True
    return actor.can(Permission.CONTACTS_WRITE) and contact.owner_id in (None, actor.member_id)


def _require_owner_allowed(actor: Actor, owner: Member | None, *, current: Member | None) -> None:
    if owner == current or actor.can(Permission.CONTACTS_ASSIGN):
        return
    if owner is None or owner.id == actor.member_id:
        return
    raise PermissionDenied(_("You may assign contacts only to yourself or the public pool."))


def _identity_conflicts(
    identities: Iterable[tuple[str, str, str]], *, contact_id: UUID | None
) -> dict[tuple[str, str, str], UUID]:
    """Identities from the list that already belong to another contact."""
    wanted = set(identities)
    if not wanted:
        return {}
    values = {ident[2] for ident in wanted}
    taken: dict[tuple[str, str, str], UUID] = {}
    for kind, namespace, value, owner_id in Identity.objects.filter(value__in=values).values_list(
        "type", "namespace", "value", "contact_id"
    ):
        if (kind, namespace, value) in wanted and owner_id != contact_id:
            taken[(kind, namespace, value)] = owner_id
    return taken


def _primary_identities(values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    found = list(values.get("identities") or [])
    if values.get("phone"):
        found.append((IdentityType.PHONE, "", values["phone"]))
    if values.get("email"):
        found.append((IdentityType.EMAIL, "", values["email"]))
    return found


def _raise_on_conflicts(conflicts: Mapping[tuple[str, str, str], UUID]) -> None:
    if conflicts:
        fields = {}
        for kind, _namespace, value in conflicts:
            path = kind if kind in (IdentityType.PHONE, IdentityType.EMAIL) else "identities"
            fields[path] = _("“%(value)s” already belongs to another contact.") % {"value": value}
        raise Conflict(
            _("This contact shares an identity with another contact; merge them instead."),
            code="identity_taken",
            fields=fields,
        )


@transaction.atomic
def contact_create(
    *,
    actor: Actor,
    data: Mapping[str, Any],
    lookups: ContactLookups | None = None,
    source: str = "manual",
) -> Contact:
    actor.require(Permission.CONTACTS_WRITE)
    lookups = lookups or ContactLookups.load()
    values, errors = contact_values_clean(data, lookups=lookups, partial=False)
    if errors:
        raise ValidationError(_("Some fields are not valid."), fields=errors)
    owner = values.get("owner", actor.member)
    _require_owner_allowed(actor, owner, current=None)
    identities = _primary_identities(values)
    _raise_on_conflicts(_identity_conflicts(identities, contact_id=None))

    contact = Contact(owner=owner, channel=values.get("channel"), stage=values.get("stage", Stage.VISITOR))
    for name in PLAIN_FIELDS:
        if name in values:
            contact_set_field(contact, name, values[name] if values[name] is not None else _empty(name))
    contact_set_field(contact, "name", values.get("name", ""))
    contact.custom = {k: v for k, v in values.get("custom", {}).items() if v is not None}
    contact.save()
    Identity.objects.bulk_create(
        [Identity(contact=contact, type=k, namespace=ns, value=v) for k, ns, v in dict.fromkeys(identities)]
    )
    StageChange.objects.create(
        contact=contact, from_stage="", to_stage=contact.stage, reason=source, member=actor.member
    )
    timeline_record(contact=contact, kind=TimelineKind.CREATED, data={"source": source}, actor=actor)
    if values.get("tags"):
        from siyu.contacts.services.tags import contact_tags_add, tags_for_names

        contact_tags_add(actor=actor, contact=contact, tags=tags_for_names(names=values["tags"]))
    contacts_created([contact.id])
    return contact


def _empty(name: str) -> Any:
    return None if name == "birthday" else ""


@transaction.atomic
def contact_update(
    *, actor: Actor, contact: Contact, data: Mapping[str, Any], lookups: ContactLookups | None = None
) -> Contact:
    """Partial update: only the keys present in `data` change."""
    actor.require(Permission.CONTACTS_WRITE)
    lookups = lookups or ContactLookups.load()
    values, errors = contact_values_clean(data, lookups=lookups, partial=True)
    if errors:
        raise ValidationError(_("Some fields are not valid."), fields=errors)
    changed: dict[str, Any] = {}
    identities_to_add = list(values.get("identities") or [])
    for name in PLAIN_FIELDS:
        if name not in values:
            continue
        new = values[name] if values[name] is not None else _empty(name)
        old = getattr(contact, name)
        if new == old:
            continue
        changed[name] = {"from": _display(old), "to": _display(new)}
        contact_set_field(contact, name, new)
        if name in ("phone", "email") and new:
            identities_to_add.append((name, "", new))
    _raise_on_conflicts(_identity_conflicts(identities_to_add, contact_id=contact.id))
    for name in ("phone", "email"):
        if name in changed and changed[name]["from"]:
            Identity.objects.filter(
                contact=contact, type=name, namespace="", value=changed[name]["from"]
            ).delete()
    if "channel" in values and values["channel"] != contact.channel:
        changed["channel"] = {"from": _display(contact.channel), "to": _display(values["channel"])}
        contact.channel = values["channel"]
    if "custom" in values:
        merged = dict(contact.custom)
        for key, value in values["custom"].items():
            if merged.get(key) != value:
                changed[f"custom.{key}"] = {"from": merged.get(key), "to": value}
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        contact.custom = merged
    if changed:
        # Only the fields this update set: the instance may be older than the row (the event processor
        # moves stages and last-seen times meanwhile), and a full save would write those back.
        contact.save(
            update_fields=_with_derived(
                {"custom" if name.startswith("custom.") else name for name in changed}
            )
        )
        timeline_record(contact=contact, kind=TimelineKind.UPDATED, data={"changes": changed}, actor=actor)
        contacts_changed(
            [contact.id],
            *{"field:custom" if name.startswith("custom.") else f"field:{name}" for name in changed},
        )
    if identities_to_add:
        contacts_changed([contact.id], "identities")
    Identity.objects.bulk_create(
        [
            Identity(contact=contact, type=k, namespace=ns, value=v)
            for k, ns, v in dict.fromkeys(identities_to_add)
        ],
        ignore_conflicts=True,
    )
    if "owner" in values and values["owner"] != contact.owner:
        contact_owner_change(actor=actor, contacts=[contact], owner=values["owner"])
    if "stage" in values and values["stage"] != contact.stage:
        contact_stage_change(actor=actor, contact=contact, stage=values["stage"], reason="", manual=True)
    if values.get("tags"):
        from siyu.contacts.services.tags import contact_tags_add, tags_for_names

        contact_tags_add(actor=actor, contact=contact, tags=tags_for_names(names=values["tags"]))
    return contact


@transaction.atomic
def contact_stage_change(
    *, actor: Actor | None, contact: Contact, stage: Stage | str, reason: str = "", manual: bool
) -> bool:
    """Move a contact to a stage. Automatic moves only go forward; manual ones may go anywhere.

    Returns whether the stage changed.
    """
    target = Stage(stage)
    current = Stage(contact.stage)
    if target == current:
        return False
    if not manual and STAGE_ORDER.index(target) < STAGE_ORDER.index(current):
        return False
    if actor is not None:
        actor.require(Permission.CONTACTS_WRITE)
    Contact.objects.filter(id=contact.id).update(stage=target)
    contact.stage = target
    member = actor.member if actor else None
    StageChange.objects.create(
        contact=contact,
        from_stage=current,
        to_stage=target,
        reason=reason[:200],
        is_manual=manual,
        member=member,
    )
    TimelineEntry.objects.create(
        contact=contact,
        kind=TimelineKind.STAGE_CHANGED,
        data={"from": current.value, "to": target.value, "reason": reason, "manual": manual},
        member=member,
    )
    contacts_changed([contact.id], "field:stage")
    return True


@transaction.atomic
def contact_owner_change(*, actor: Actor, contacts: Sequence[Contact], owner: Member | None) -> int:
    """Assign contacts to a member, or release them to the public pool (owner=None)."""
    for contact in contacts:
        _require_owner_allowed(actor, owner, current=contact.owner)
        if not contact_owner_changeable(actor=actor, contact=contact):
            raise PermissionDenied(_("Only managers may take contacts away from another owner."))
    moving = [c for c in contacts if c.owner_id != (owner.id if owner else None)]
    if not moving:
        return 0
    Contact.objects.filter(id__in=[c.id for c in moving]).update(owner=owner)
    owner_name = owner.display_name if owner else _("Public pool")
    entries = []
    for contact in moving:
        previous = contact.owner.display_name if contact.owner else _("Public pool")
        entries.append(
            TimelineEntry(
                contact=contact,
                kind=TimelineKind.OWNER_CHANGED,
                data={"from": previous, "to": owner_name},
                member=actor.member,
            )
        )
        contact.owner = owner
    TimelineEntry.objects.bulk_create(entries)
    contacts_changed([c.id for c in moving], "field:owner")
    audit_record(
        actor=actor,
        action=AuditAction.OWNER_CHANGED,
        target_type="contact",
        target_id=moving[0].id if len(moving) == 1 else "",
        summary=_("%(count)d contact(s) → %(owner)s") % {"count": len(moving), "owner": owner_name},
        data={
            "contact_ids": [str(c.id) for c in moving[:1000]],
            "owner_id": str(owner.id) if owner else None,
        },
    )
    return len(moving)


def contact_phone_reveal(*, actor: Actor, contact: Contact) -> str:
    actor.require(Permission.CONTACTS_REVEAL_PHONE)
    if contact.phone:
        audit_record(
            actor=actor,
            action=AuditAction.PHONE_REVEALED,
            target_type="contact",
            target_id=contact.id,
            summary=f"{contact.name} {contact.masked_phone}",
        )
    return contact.phone


@transaction.atomic
def identity_add(
    *, actor: Actor, contact: Contact, type: str, namespace: str = "", value: str, merge: bool = False
) -> Identity:
    """Attach an identity. If another contact holds it: a clear conflict, or a merge when asked."""
    actor.require(Permission.CONTACTS_WRITE)
    from siyu.contacts.services.values import clean_identity

    try:
        kind, namespace, value = clean_identity({"type": type, "namespace": namespace, "value": value})
    except ValueError as exc:
        raise ValidationError(str(exc), fields={"value": str(exc)}) from exc
    existing = (
        Identity.objects.filter(type=kind, namespace=namespace, value=value).select_related("contact").first()
    )
    if existing is not None:
        if existing.contact_id == contact.id:
            return existing
        if not merge:
            raise Conflict(
                _("This identity already belongs to %(name)s. Merge the two contacts to combine them.")
                % {"name": str(existing.contact)},
                code="identity_taken",
                fields={"value": str(existing.contact_id)},
            )
        other = existing.contact
        if not actor.may_see_owner(other.owner_id):
            raise Conflict(_("This identity belongs to a contact you cannot see."), code="identity_taken")
        contact_merge(actor=actor, survivor=contact, other=other)
        return Identity.objects.get(type=kind, namespace=namespace, value=value)
    identity = Identity.objects.create(contact=contact, type=kind, namespace=namespace, value=value)
    timeline_record(
        contact=contact,
        kind=TimelineKind.IDENTITY_ADDED,
        data={"type": kind, "namespace": namespace, "value": value},
        actor=actor,
    )
    contacts_changed([contact.id], "identities")
    return identity


@transaction.atomic
def identity_remove(*, actor: Actor, contact: Contact, identity_id: UUID) -> None:
    actor.require(Permission.CONTACTS_WRITE)
    deleted, _count = Identity.objects.filter(contact=contact, id=identity_id).delete()
    if not deleted:
        from siyu.core.errors import NotFound

        raise NotFound(_("Identity not found."))
    contacts_changed([contact.id], "identities")


@transaction.atomic
def contact_delete(*, actor: Actor, contact: Contact) -> None:
    actor.require(Permission.CONTACTS_DELETE)
    audit_record(
        actor=actor,
        action=AuditAction.CONTACT_DELETED,
        target_type="contact",
        target_id=contact.id,
        summary=f"{contact.name} {contact.masked_phone}".strip(),
    )
    ContactRedirect.objects.filter(Q(contact=contact) | Q(old_id=contact.id)).delete()
    publish(ContactDeleted(workspace_id=contact.workspace_id, contact_id=contact.id))
    contact.delete()


MERGE_RULE = gettext_lazy(
    "The surviving contact keeps its own values; empty fields are filled from the other contact. "
    "The later lifecycle stage wins, custom fields are combined (survivor first), notes are joined, "
    "and identities, tags, follow-ups, history and timeline all move to the survivor."
)


def contact_merge_preview(*, survivor: Contact, other: Contact) -> dict[str, dict[str, Any]]:
    """Field by field: survivor's value, other's value and the merged result."""
    preview: dict[str, dict[str, Any]] = {}
    for name in (*PLAIN_FIELDS, "owner", "channel", "stage", "custom"):
        mine, theirs = getattr(survivor, name), getattr(other, name)
        preview[name] = {
            "survivor": _display(mine),
            "other": _display(theirs),
            "result": _display(_merged_value(name, mine, theirs)),
        }
    return preview


def _merged_value(name: str, mine: Any, theirs: Any) -> Any:
    if name == "stage":
        return max(Stage(mine), Stage(theirs), key=STAGE_ORDER.index)
    if name == "custom":
        return {**theirs, **{k: v for k, v in mine.items() if v not in (None, "", [])}}
    if name == "notes" and mine and theirs and mine != theirs:
        return f"{mine}\n\n{theirs}"
    return mine if mine not in (None, "") else theirs


@transaction.atomic
def contact_merge(*, actor: Actor | None, survivor: Contact, other: Contact, reason: str = "") -> Contact:
    """Fold `other` into `survivor` (see MERGE_RULE). `actor` None: the system merging on identity
    evidence (an identified visitor), which is recorded on the timeline with its reason and not audited."""
    if actor is not None:
        actor.require(Permission.CONTACTS_MERGE)
    if survivor.id == other.id:
        raise ValidationError(_("A contact cannot be merged with itself."))
    preview = contact_merge_preview(survivor=survivor, other=other)
    for name in (*PLAIN_FIELDS, "owner", "channel", "custom"):
        value = _merged_value(name, getattr(survivor, name), getattr(other, name))
        if name in PLAIN_FIELDS:
            contact_set_field(survivor, name, value)
        else:
            setattr(survivor, name, value)
    if other.created_at < survivor.created_at:
        survivor.created_at = other.created_at
    # Only what the merge sets: the event processor may have moved the survivor's stage and last-seen
    # time since it was read; last seen only ever moves forward.
    survivor.save(update_fields=_with_derived({*PLAIN_FIELDS, "owner", "channel", "custom", "created_at"}))
    if other.last_seen_at is not None:
        Contact.objects.filter(id=survivor.id).filter(
            Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=other.last_seen_at)
        ).update(last_seen_at=other.last_seen_at)
    survivor.refresh_from_db(fields=["stage", "last_seen_at"])
    contact_stage_change(
        actor=None,
        contact=survivor,
        stage=_merged_value("stage", survivor.stage, other.stage),
        reason="merge",
        manual=False,
    )

    Identity.objects.filter(contact=other).update(contact=survivor)
    survivor_tags = set(ContactTag.objects.filter(contact=survivor).values_list("tag_id", flat=True))
    exclusive_groups = set(
        ContactTag.objects.filter(contact=survivor, tag__group__is_exclusive=True).values_list(
            "tag__group_id", flat=True
        )
    )
    for row in ContactTag.objects.filter(contact=other).select_related("tag"):
        if row.tag_id not in survivor_tags and row.tag.group_id not in exclusive_groups:
            ContactTag.objects.create(contact=survivor, tag_id=row.tag_id)
    FollowUp.objects.filter(contact=other).update(contact=survivor)
    TimelineEntry.objects.filter(contact=other).update(contact=survivor)
    StageChange.objects.filter(contact=other).update(contact=survivor)
    ContactRedirect.objects.filter(contact=other).update(contact=survivor)
    ContactRedirect.objects.create(old_id=other.id, contact=survivor)
    timeline_record(
        contact=survivor,
        kind=TimelineKind.MERGED,
        data={"merged_id": str(other.id), "merged_name": str(other), "preview": preview, "reason": reason},
        actor=actor,
    )
    if actor is not None:
        audit_record(
            actor=actor,
            action=AuditAction.CONTACTS_MERGED,
            target_type="contact",
            target_id=survivor.id,
            summary=f"{other} → {survivor}",
            data={"merged_id": str(other.id)},
        )
    publish(ContactsMerged(workspace_id=survivor.workspace_id, survivor_id=survivor.id, merged_id=other.id))
    other.delete()
    return survivor
