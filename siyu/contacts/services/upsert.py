"""Batch upsert keyed by an identity: the one fast path behind API bulk upsert and file import.

Rows are cleaned one by one (a bad row fails alone, with field paths), then written with a handful
of set-based statements per batch, never one ORM round-trip per row.
"""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from django.db import connections, router, transaction
from django.db.models import Model
from django.db.models.constants import OnConflict
from django.utils.translation import gettext as _

from siyu.contacts.models import (
    Contact,
    ContactTag,
    Identity,
    IdentityType,
    Stage,
    StageChange,
    Tag,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.services.contacts import PLAIN_FIELDS, _display, _empty, contact_set_field
from siyu.contacts.services.tags import tags_for_names
from siyu.contacts.services.values import ContactLookups, contact_values_clean
from siyu.core.errors import ValidationError
from siyu.core.ids import uuid7
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

RowStatus = Literal["created", "updated", "unchanged", "skipped", "failed"]
MAX_BATCH = 1000
UPDATABLE = (
    *PLAIN_FIELDS,
    "name_pinyin",
    "name_initials",
    "phone_reversed",
    "owner",
    "channel",
    "custom",
    "updated_at",
)


@dataclass
class RowResult:
    index: int
    status: RowStatus
    contact_id: UUID | None = None
    errors: dict[str, str] = field(default_factory=dict)


@dataclass
class UpsertKey:
    """Which identity decides "same contact": phone, email, or any identity type (+ namespace)."""

    type: str = IdentityType.PHONE
    namespace: str = ""

    def __post_init__(self) -> None:
        if self.type not in IdentityType.values:
            raise ValidationError(
                _("“%(value)s” cannot be used as a key (one of %(types)s).")
                % {"value": self.type, "types": ", ".join(IdentityType.values)},
                fields={"key": ""},
            )

    def value_of(self, values: Mapping[str, Any]) -> str:
        if self.type in (IdentityType.PHONE, IdentityType.EMAIL) and values.get(self.type):
            return str(values[self.type])
        for kind, namespace, value in values.get("identities") or []:
            if kind == self.type and namespace == self.namespace:
                return str(value)
        return ""


def _row_identities(values: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    found = list(values.get("identities") or [])
    if values.get("phone"):
        found.append((IdentityType.PHONE, "", values["phone"]))
    if values.get("email"):
        found.append((IdentityType.EMAIL, "", values["email"]))
    return list(dict.fromkeys(found))


def _apply(contact: Contact, values: Mapping[str, Any]) -> dict[str, Any]:
    """Set the given values on a contact; return what changed (for the timeline)."""
    changed: dict[str, Any] = {}
    for name in PLAIN_FIELDS:
        if name not in values:
            continue
        new = values[name] if values[name] is not None else _empty(name)
        if new == "" and name in ("phone", "email"):
            continue  # an empty cell never erases a known phone or email
        old = getattr(contact, name)
        if new != old:
            changed[name] = {"from": _display(old), "to": _display(new)}
            contact_set_field(contact, name, new)
    for name in ("owner", "channel"):
        if name in values and values[name] != getattr(contact, name):
            changed[name] = {"from": _display(getattr(contact, name)), "to": _display(values[name])}
            setattr(contact, name, values[name])
    if values.get("custom"):
        merged = dict(contact.custom)
        for key, value in values["custom"].items():
            if merged.get(key) != value:
                changed[f"custom.{key}"] = {"from": merged.get(key), "to": value}
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
        contact.custom = merged
    return changed


def _insert(objs: Sequence[Model], *, ignore_conflicts: bool = False) -> None:
    """Insert new rows with one prepared statement run for every row (executemany).

    The same columns, values and defaults as `bulk_create`, without compiling SQL for every batch
    of ~50 rows and preparing each value through the query compiler, which dominated import profiles.
    """
    if not objs:
        return
    model = type(objs[0])
    connection = connections[router.db_for_write(model)]
    fields = list(model._meta.local_concrete_fields)
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    quote = connection.ops.quote_name
    suffix = connection.ops.on_conflict_suffix_sql(fields, on_conflict, [], []) if on_conflict else ""
    sql = (
        f"{connection.ops.insert_statement(on_conflict=on_conflict)} {quote(model._meta.db_table)} "
        f"({', '.join(quote(str(f.column)) for f in fields)}) VALUES ({', '.join(['%s'] * len(fields))}) {suffix}"
    )
    rows = []
    for obj in objs:
        obj._stamp_workspace()  # type: ignore[attr-defined]
        rows.append(tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields))
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
    for obj in objs:
        obj._state.adding, obj._state.db = False, connection.alias


def contacts_upsert(
    *,
    actor: Actor,
    rows: Sequence[Mapping[str, Any]],
    key: UpsertKey,
    on_duplicate: Literal["update", "skip"] = "update",
    source: str = "api",
    lookups: ContactLookups | None = None,
) -> list[RowResult]:
    """Create or update up to MAX_BATCH contacts keyed by `key`. Idempotent: a replay changes nothing."""
    actor.require(Permission.CONTACTS_WRITE)
    if len(rows) > MAX_BATCH:
        raise ValidationError(
            _("At most %(n)d rows per batch.") % {"n": MAX_BATCH}, code="too_many_rows", fields={"rows": ""}
        )
    lookups = lookups or ContactLookups.load(create_missing_channels=True)
    results = [RowResult(index=i, status="failed") for i in range(len(rows))]
    cleaned: dict[int, dict[str, Any]] = {}
    keys: dict[int, str] = {}
    for index, raw in enumerate(rows):
        if not isinstance(raw, Mapping):
            results[index].errors = {"": _("Each row must be an object.")}
            continue
        values, errors = contact_values_clean(raw, lookups=lookups, partial=True)
        key_value = key.value_of(values) if not errors else ""
        if not errors and not key_value:
            errors[key.type] = _("The key “%(key)s” is missing in this row.") % {"key": key.type}
        if errors:
            results[index].errors = errors
            continue
        cleaned[index], keys[index] = values, key_value
    with transaction.atomic():
        _write(
            actor=actor,
            cleaned=cleaned,
            keys=keys,
            key=key,
            on_duplicate=on_duplicate,
            source=source,
            results=results,
        )
    return results


def _write(
    *,
    actor: Actor,
    cleaned: dict[int, dict[str, Any]],
    keys: dict[int, str],
    key: UpsertKey,
    on_duplicate: str,
    source: str,
    results: list[RowResult],
) -> None:
    if not cleaned:
        return
    existing_ids = dict(
        Identity.objects.filter(
            type=key.type, namespace=key.namespace, value__in=set(keys.values())
        ).values_list("value", "contact_id")
    )
    contacts = {
        c.id: c
        for c in Contact.objects.filter(id__in=set(existing_ids.values())).select_related("owner", "channel")
    }
    all_identities = {ident for values in cleaned.values() for ident in _row_identities(values)}
    identity_owner: dict[tuple[str, str, str], UUID] = {}
    for kind, namespace, value, contact_id in Identity.objects.filter(
        value__in={ident[2] for ident in all_identities}
    ).values_list("type", "namespace", "value", "contact_id"):
        identity_owner[(kind, namespace, value)] = contact_id

    moment = now()
    new_contacts: dict[str, Contact] = {}  # by key value, for rows repeating a key within the batch
    touched: dict[UUID, Contact] = {}
    changes: dict[UUID, dict[str, Any]] = defaultdict(dict)
    created_ids: set[UUID] = set()
    stage_moves: dict[UUID, tuple[str, str]] = {}
    new_identities: list[Identity] = []
    tag_names: dict[UUID, list[str]] = defaultdict(list)

    for index, values in cleaned.items():
        key_value = keys[index]
        result = results[index]
        contact = new_contacts.get(key_value) or contacts.get(existing_ids.get(key_value))  # type: ignore[arg-type]
        if (
            contact is not None
            and contact.id not in created_ids
            and not actor.may_see_owner(contact.owner_id)
        ):
            result.errors = {key.type: _("This key belongs to a contact outside your data scope.")}
            continue
        is_new = contact is None
        if contact is None:
            contact = Contact(id=uuid7(), workspace_id=actor.workspace_id, stage=Stage.VISITOR, owner=None)
            contact.created_at = contact.updated_at = moment
            if "owner" not in values and actor.member is not None:
                contact.owner = actor.member
        if not is_new and contact.id not in created_ids and on_duplicate == "skip":
            result.status, result.contact_id = "skipped", contact.id
            continue
        conflicts = [
            ident for ident in _row_identities(values) if identity_owner.get(ident) not in (None, contact.id)
        ]
        if conflicts:
            result.errors = {
                (kind if kind in ("phone", "email") else "identities"): _(
                    "“%(value)s” already belongs to another contact."
                )
                % {"value": value}
                for kind, _ns, value in conflicts
            }
            continue
        row_changes = _apply(contact, values)
        if "stage" in values and values["stage"] != contact.stage:
            before = stage_moves.get(contact.id, (contact.stage, contact.stage))[0]
            stage_moves[contact.id] = (before, values["stage"])
            row_changes["stage"] = {"from": contact.stage, "to": values["stage"]}
            contact.stage = values["stage"]
        for ident in _row_identities(values):
            if identity_owner.get(ident) is None:
                identity_owner[ident] = contact.id
                new_identities.append(
                    Identity(contact_id=contact.id, type=ident[0], namespace=ident[1], value=ident[2])
                )
        for name in values.get("tags") or []:
            tag_names[contact.id].append(name)
        if is_new:
            created_ids.add(contact.id)
            new_contacts[key_value] = contact
            result.status = "created"
        elif contact.id in created_ids:
            result.status = "updated"
        else:
            result.status = "updated" if row_changes else "unchanged"
            if row_changes:
                changes[contact.id].update(row_changes)
        touched[contact.id] = contact
        result.contact_id = contact.id

    created = [c for c in touched.values() if c.id in created_ids]
    updated = [c for c in touched.values() if c.id in changes]
    for contact in updated:
        contact.updated_at = moment
    _insert(created)
    if updated:
        Contact.objects.bulk_update(updated, [*UPDATABLE, "stage"])
    _insert(new_identities, ignore_conflicts=True)
    member = actor.member
    stage_rows = [
        StageChange(contact_id=c.id, from_stage="", to_stage=c.stage, reason=source, member=member)
        for c in created
    ]
    stage_rows += [
        StageChange(
            contact_id=cid, from_stage=before, to_stage=after, reason=source, is_manual=True, member=member
        )
        for cid, (before, after) in stage_moves.items()
        if cid not in created_ids
    ]
    _insert(stage_rows)
    kind = TimelineKind.IMPORTED if source == "import" else TimelineKind.CREATED
    timeline = [
        TimelineEntry(contact_id=c.id, kind=kind, data={"source": source}, member=member) for c in created
    ]
    timeline += [
        TimelineEntry(
            contact_id=cid, kind=TimelineKind.UPDATED, data={"changes": row, "source": source}, member=member
        )
        for cid, row in changes.items()
    ]
    _insert(timeline)
    tagged = _add_tags(actor=actor, tag_names=tag_names)
    for result in results:
        if result.status == "unchanged" and result.contact_id in tagged:
            result.status = "updated"


def _add_tags(*, actor: Actor, tag_names: Mapping[UUID, list[str]]) -> set[UUID]:
    """Add tags by name; returns the contacts that gained at least one tag."""
    if not tag_names:
        return set()
    by_name: dict[str, Tag] = {
        t.name: t for t in tags_for_names(names={n for names in tag_names.values() for n in names})
    }
    have = set(ContactTag.objects.filter(contact_id__in=list(tag_names)).values_list("contact_id", "tag_id"))
    rows, entries = [], []
    for contact_id, names in tag_names.items():
        added = [by_name[n] for n in dict.fromkeys(names) if (contact_id, by_name[n].id) not in have]
        if added:
            rows += [ContactTag(contact_id=contact_id, tag=t) for t in added]
            entries.append(
                TimelineEntry(
                    contact_id=contact_id,
                    kind=TimelineKind.TAGS_ADDED,
                    data={"tags": [t.name for t in added]},
                    member=actor.member,
                )
            )
    _insert(rows, ignore_conflicts=True)
    _insert(entries)
    return {entry.contact_id for entry in entries}
