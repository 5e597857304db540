"""Batch upsert keyed by an identity: the one fast path behind API bulk upsert and file import.

Rows are cleaned one by one (a bad row fails alone, with field paths), then written with a handful
of set-based statements per batch, never one ORM round-trip per row.
"""

import functools
import os
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal
from uuid import UUID

from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model
from django.db.models.base import ModelState
from django.db.models.constants import OnConflict
from django.utils.translation import gettext as _

from siyu.contacts.models import (
    Contact,
    ContactTag,
    Identity,
    IdentityType,
    StageChange,
    Tag,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.services.contacts import (
    _display,
    _empty,
    contact_set_field,
    contacts_changed,
    contacts_created,
)
from siyu.contacts.services.tags import tags_for_names
from siyu.contacts.services.values import PLAIN_FIELDS, ContactLookups, contact_values_clean
from siyu.core.db import planner_statistics_refresh
from siyu.core.errors import ValidationError
from siyu.core.ids import uuid7
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.models import Member
from siyu.tenancy.roles import Permission

if sys.platform != "win32":
    import fcntl

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


def _apply(contact: Contact, values: Mapping[str, Any], *, track: bool = True) -> dict[str, Any]:
    """Set the given values on a contact; return what changed (for the timeline) unless `track` is off."""
    changed: dict[str, Any] = {}
    for name in PLAIN_FIELDS:
        if name not in values:
            continue
        new = values[name] if values[name] is not None else _empty(name)
        if new == "" and name in ("phone", "email"):
            continue  # an empty cell never erases a known phone or email
        old = getattr(contact, name)
        if new != old:
            if track:
                changed[name] = {"from": _display(old), "to": _display(new)}
            contact_set_field(contact, name, new)
    for name in ("owner", "channel"):
        if name in values and values[name] != getattr(contact, name):
            if track:
                changed[name] = {"from": _display(getattr(contact, name)), "to": _display(values[name])}
            setattr(contact, name, values[name])
    if values.get("custom"):
        merged = dict(contact.custom)
        for key, value in values["custom"].items():
            if merged.get(key) != value:
                if track:
                    changed[f"custom.{key}"] = {"from": merged.get(key), "to": value}
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
        contact.custom = merged
    return changed


class _Sql:
    """Values as the database wants them, and INSERTs of many rows with one prepared statement.

    New rows are written as tuples with `executemany`, never as model instances: building an instance
    and preparing each value through its field cost more than the rest of a batch. Every value set here
    is what the field would have prepared (uuid7 ids, the columns' defaults, one timestamp per statement).
    """

    def __init__(self) -> None:
        self.connection = connections[router.db_for_write(Contact)]
        self.native_uuid = self.connection.features.has_native_uuid_field
        self._json_blank = Contact._meta.get_field("custom").get_db_prep_save({}, self.connection)

    def uuid(self, value: UUID | None) -> Any:
        if value is None or self.native_uuid:
            return value
        return value.hex

    def moment(self) -> Any:
        return Contact._meta.get_field("created_at").get_db_prep_save(now(), self.connection)

    def json(self, value: Any) -> Any:
        if value == {}:
            return self._json_blank
        return Contact._meta.get_field("custom").get_db_prep_save(value, self.connection)

    def date(self, value: Any) -> Any:
        return self.connection.ops.adapt_datefield_value(value)

    def insert(
        self,
        model: type[Model],
        columns: Sequence[str],
        rows: list[tuple[Any, ...]],
        *,
        ignore_conflicts: bool = False,
    ) -> None:
        if rows:
            with self.connection.cursor() as cursor:
                cursor.executemany(
                    _insert_sql(self.connection.alias, model, tuple(columns), ignore_conflicts), rows
                )


@functools.cache
def _insert_sql(alias: str, model: type[Model], columns: tuple[str, ...], ignore_conflicts: bool) -> str:
    """INSERT for every column of the table; refuses a column list that leaves one out (it has no default)."""
    fields = {f.attname: f for f in model._meta.local_concrete_fields}
    if sorted(columns) != sorted(fields):
        raise ValueError(
            f"{model.__name__} rows need exactly the columns {sorted(fields)}, not {sorted(columns)}"
        )
    connection = connections[alias]
    on_conflict = OnConflict.IGNORE if ignore_conflicts else None
    quote = connection.ops.quote_name
    targets = [fields[c] for c in columns]
    suffix = connection.ops.on_conflict_suffix_sql(targets, on_conflict, [], []) if on_conflict else ""
    return (
        f"{connection.ops.insert_statement(on_conflict=on_conflict)} {quote(model._meta.db_table)} "
        f"({', '.join(quote(str(f.column)) for f in targets)}) VALUES ({', '.join(['%s'] * len(targets))}) {suffix}"
    )


@functools.cache
def _contact_blank() -> dict[str, Any]:
    """A new contact's attributes: every column's default (ids and times are set per contact)."""
    return {
        f.attname: f.get_default() for f in Contact._meta.concrete_fields if f.attname not in ("id", "custom")
    }


def _contact_draft(*, workspace_id: UUID, moment: datetime, owner: Member | None) -> Contact:
    """A contact to insert, made without `Model.__init__` (as unpickling does): same attributes, far cheaper."""
    contact = Contact.__new__(Contact)
    contact.__dict__.update(_contact_blank())
    contact.__dict__.update(
        id=uuid7(), workspace_id=workspace_id, custom={}, created_at=moment, updated_at=moment
    )
    contact._state = ModelState()
    if owner is not None:
        contact.owner_id = owner.pk
        Contact._meta.get_field("owner").set_cached_value(contact, owner)
    return contact


def _contact_rows(sql: _Sql, contacts: Sequence[Contact]) -> tuple[list[str], list[tuple[Any, ...]]]:
    """New contacts as rows of every column, values prepared like their fields would."""
    columns = [f.attname for f in Contact._meta.local_concrete_fields]
    prepare: dict[str, Callable[[Any], Any]] = {}
    for f in Contact._meta.local_concrete_fields:
        if f.attname in ("id", "workspace_id", "owner_id", "channel_id"):
            prepare[f.attname] = sql.uuid
        elif f.get_internal_type() == "JSONField":
            prepare[f.attname] = sql.json
        elif f.get_internal_type() == "DateField":
            prepare[f.attname] = sql.date
        elif f.get_internal_type() == "DateTimeField":
            prepare[f.attname] = _moment_preparer(f, sql.connection)
        elif f.get_internal_type() not in (
            "CharField",
            "TextField",
            "BooleanField",
        ):  # drivers take these as they are
            raise ValueError(f"Contact.{f.name}: no fast preparation for {f.get_internal_type()}")
    converted = [(i, prepare[c]) for i, c in enumerate(columns) if c in prepare]
    rows = []
    for contact in contacts:
        attributes = contact.__dict__
        row = [attributes[c] for c in columns]
        for i, convert in converted:
            row[i] = convert(row[i])
        rows.append(tuple(row))
    return columns, rows


def _moment_preparer(field: Field[Any, Any], connection: BaseDatabaseWrapper) -> Callable[[Any], Any]:
    """Prepares timestamps, each distinct one once (a batch shares one)."""
    prepared: dict[datetime, Any] = {}

    def prepare(value: datetime | None) -> Any:
        if value is None:
            return None
        if value not in prepared:
            prepared[value] = field.get_db_prep_save(value, connection)
        return prepared[value]

    return prepare


def contacts_upsert(
    *,
    actor: Actor,
    rows: Sequence[Mapping[str, Any]],
    key: UpsertKey,
    on_duplicate: Literal["update", "skip"] = "update",
    source: str = "api",
    lookups: ContactLookups | None = None,
) -> list[RowResult]:
    """Create or update up to MAX_BATCH contacts keyed by `key`. Idempotent: a replay changes nothing.

    The batch is planned (who is new, what changes, every row to insert) from one read of its
    identities, then written in one transaction. A batch that updates nobody is planned before the
    transaction, and the plan is kept only if a second read inside it finds the same identities:
    on SQLite, where one writer at a time holds the database, concurrent batches then wait for each
    other only while rows are actually written.
    """
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
    if not cleaned:
        return results
    batch = _Batch(actor=actor, cleaned=cleaned, keys=keys, key=key, on_duplicate=on_duplicate, source=source)
    plan = None
    if not transaction.get_connection().in_atomic_block:
        known = batch.identities_read()
        if not batch.updates_someone(known):
            plan = batch.plan(known)
    with _WriterTurn() as turn, transaction.atomic():
        known = batch.identities_read()
        if plan is None or known != plan.identities:
            plan = batch.plan(known)
        plan.write(actor=actor)
        outcomes = plan.outcomes.values()
        contacts_created(o.contact_id for o in outcomes if o.status == "created" and o.contact_id)
        contacts_changed((o.contact_id for o in outcomes if o.status == "updated" and o.contact_id), "*")
        turn.end()
    for index, outcome in plan.outcomes.items():
        results[index] = outcome
    return results


class _WriterTurn:
    """On SQLite, batch writers queue for the one write lock on a file lock the kernel hands over at once.

    SQLite's own wait for a busy database polls with sleeps of up to 100 ms, so under steady batch
    traffic one process can keep taking the write lock while another sleeps through every chance.
    The turn is only an order of arrival; SQLite's locking still guarantees correctness, so a turn may
    end before COMMIT: COMMIT appends to the log in milliseconds, and the checkpoint that can follow it
    (copying the log into the database file) then overlaps with the next batch instead of delaying it.
    """

    _files: ClassVar[dict[tuple[int, str], tuple[threading.Lock, int]]] = {}  # by (process, database)

    def __init__(self) -> None:
        connection = transaction.get_connection()
        name = str(connection.settings_dict["NAME"])
        self._turn: tuple[threading.Lock, int] | None = None
        if (
            sys.platform != "win32"
            and connection.vendor == "sqlite"
            and not connection.in_atomic_block
            and Path(name).is_file()  # an in-memory database lives in one process
        ):
            key = (os.getpid(), name)
            if key not in self._files:
                descriptor = os.open(f"{name}-writers.lock", os.O_RDWR | os.O_CREAT, 0o600)
                self._files[key] = (threading.Lock(), descriptor)
            self._turn = self._files[key]

    def __enter__(self) -> "_WriterTurn":
        if self._turn is not None:
            lock, descriptor = self._turn
            lock.acquire()
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            except BaseException:
                lock.release()
                raise
        return self

    def end(self) -> None:
        if self._turn is not None:
            lock, descriptor = self._turn
            self._turn = None
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            lock.release()

    def __exit__(self, *exc_info: object) -> None:
        self.end()


IdentityRow = tuple[str, str, str, UUID]  # type, namespace, value, contact id


@dataclass
class _Batch:
    """The cleaned rows of one call, and how to plan their writes."""

    actor: Actor
    cleaned: dict[int, dict[str, Any]]
    keys: dict[int, str]
    key: UpsertKey
    on_duplicate: str
    source: str
    row_identities: dict[int, list[tuple[str, str, str]]] = field(init=False)

    def __post_init__(self) -> None:
        self.row_identities = {index: _row_identities(values) for index, values in self.cleaned.items()}

    def identities_read(self) -> frozenset[IdentityRow]:
        """Every stored identity sharing a value with the batch (the keys are among them)."""
        values = {ident[2] for identities in self.row_identities.values() for ident in identities}
        return frozenset(
            Identity.objects.filter(value__in=values)
            .order_by()  # the default ordering makes SQLite scan the workspace's identities to sort them
            .values_list("type", "namespace", "value", "contact_id")
        )

    def existing_ids(self, identities: frozenset[IdentityRow]) -> dict[str, UUID]:
        """Key value → the contact that already has it."""
        keys = set(self.keys.values())
        return {
            value: contact_id
            for kind, namespace, value, contact_id in identities
            if kind == self.key.type and namespace == self.key.namespace and value in keys
        }

    def updates_someone(self, identities: frozenset[IdentityRow]) -> bool:
        return bool(self.existing_ids(identities))

    def plan(self, identities: frozenset[IdentityRow]) -> "_Plan":
        actor, key, source = self.actor, self.key, self.source
        existing_ids = self.existing_ids(identities)
        contacts = {
            c.id: c
            for c in Contact.objects.filter(id__in=set(existing_ids.values())).select_related(
                "owner", "channel"
            )
        }
        identity_owner: dict[tuple[str, str, str], UUID] = {
            (kind, namespace, value): contact_id for kind, namespace, value, contact_id in identities
        }
        moment = now()
        workspace_id = actor.workspace_id
        default_owner = actor.member
        plan = _Plan(identities=identities, source=source)
        new_contacts: dict[str, Contact] = {}  # by key value, for rows repeating a key within the batch
        touched: dict[UUID, Contact] = {}
        changes: dict[UUID, dict[str, Any]] = defaultdict(dict)
        created_ids: set[UUID] = set()
        stage_moves: dict[UUID, tuple[str, str]] = {}
        new_identities: list[tuple[UUID, str, str, str]] = []

        for index, values in self.cleaned.items():
            key_value = self.keys[index]
            result = plan.outcomes[index] = RowResult(index=index, status="failed")
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
                owner = default_owner if "owner" not in values else None
                contact = _contact_draft(workspace_id=workspace_id, moment=moment, owner=owner)
            if not is_new and contact.id not in created_ids and self.on_duplicate == "skip":
                result.status, result.contact_id = "skipped", contact.id
                continue
            row_identities = self.row_identities[index]
            conflicts = [
                ident for ident in row_identities if identity_owner.get(ident) not in (None, contact.id)
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
            row_changes = _apply(contact, values, track=not is_new and contact.id not in created_ids)
            if "stage" in values and values["stage"] != contact.stage:
                before = stage_moves.get(contact.id, (contact.stage, contact.stage))[0]
                stage_moves[contact.id] = (before, values["stage"])
                row_changes["stage"] = {"from": contact.stage, "to": values["stage"]}
                contact.stage = values["stage"]
            for ident in row_identities:
                if identity_owner.get(ident) is None:
                    identity_owner[ident] = contact.id
                    new_identities.append((contact.id, *ident))
            if values.get("tags"):
                plan.tag_names[contact.id] += values["tags"]
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
        plan.updated = [c for c in touched.values() if c.id in changes]
        for contact in plan.updated:
            contact.updated_at = moment
        sql = plan.sql
        uuid, workspace, member = sql.uuid, sql.uuid(workspace_id), sql.uuid(actor.member_id)
        plan.contact_columns, plan.contact_rows = _contact_rows(sql, created)
        db_ids = {contact_id: uuid(contact_id) for contact_id in touched}
        stamp = sql.moment()
        plan.identity_rows = [
            (uuid(uuid7()), workspace, db_ids[cid], *ident, stamp) for cid, *ident in new_identities
        ]
        stamp = sql.moment()
        plan.stage_rows = [
            (uuid(uuid7()), workspace, db_ids[c.id], "", c.stage, source, False, member, stamp)
            for c in created
        ]
        plan.stage_rows += [
            (uuid(uuid7()), workspace, db_ids[cid], before, after, source, True, member, stamp)
            for cid, (before, after) in stage_moves.items()
            if cid not in created_ids
        ]
        kind = TimelineKind.IMPORTED if source == "import" else TimelineKind.CREATED
        stamp = sql.moment()
        created_data = sql.json({"source": source})
        plan.timeline_rows = [
            (uuid(uuid7()), workspace, db_ids[c.id], kind, created_data, member, stamp) for c in created
        ]
        plan.timeline_rows += [
            (
                uuid(uuid7()),
                workspace,
                db_ids[cid],
                TimelineKind.UPDATED,
                sql.json({"changes": row, "source": source}),
                member,
                stamp,
            )
            for cid, row in changes.items()
        ]
        return plan


_IDENTITY_COLUMNS = ("id", "workspace_id", "contact_id", "type", "namespace", "value", "created_at")
_STAGE_COLUMNS = (
    "id",
    "workspace_id",
    "contact_id",
    "from_stage",
    "to_stage",
    "reason",
    "is_manual",
    "member_id",
    "changed_at",
)
_TIMELINE_COLUMNS = ("id", "workspace_id", "contact_id", "kind", "data", "member_id", "created_at")
_CONTACT_TAG_COLUMNS = ("id", "workspace_id", "contact_id", "tag_id", "created_at")


@dataclass
class _Plan:
    """Everything a batch writes, decided from one read of its identities (`identities`)."""

    identities: frozenset[IdentityRow]
    source: str
    sql: _Sql = field(default_factory=lambda: _Sql())
    outcomes: dict[int, RowResult] = field(default_factory=dict)
    contact_columns: list[str] = field(default_factory=list)
    contact_rows: list[tuple[Any, ...]] = field(default_factory=list)
    identity_rows: list[tuple[Any, ...]] = field(default_factory=list)
    stage_rows: list[tuple[Any, ...]] = field(default_factory=list)
    timeline_rows: list[tuple[Any, ...]] = field(default_factory=list)
    updated: list[Contact] = field(default_factory=list)
    tag_names: dict[UUID, list[str]] = field(default_factory=lambda: defaultdict(list))

    def write(self, *, actor: Actor) -> None:
        sql = self.sql
        sql.insert(Contact, self.contact_columns, self.contact_rows)
        if self.updated:
            Contact.objects.bulk_update(self.updated, [*UPDATABLE, "stage"])
        sql.insert(Identity, _IDENTITY_COLUMNS, self.identity_rows, ignore_conflicts=True)
        sql.insert(StageChange, _STAGE_COLUMNS, self.stage_rows)
        sql.insert(TimelineEntry, _TIMELINE_COLUMNS, self.timeline_rows)
        tagged = _add_tags(sql=sql, actor=actor, tag_names=self.tag_names)
        for outcome in self.outcomes.values():
            if outcome.status == "unchanged" and outcome.contact_id in tagged:
                outcome.status = "updated"


def _add_tags(*, sql: _Sql, actor: Actor, tag_names: Mapping[UUID, list[str]]) -> set[UUID]:
    """Add tags by name; returns the contacts that gained at least one tag."""
    if not tag_names:
        return set()
    by_name: dict[str, Tag] = {
        t.name: t for t in tags_for_names(names={n for names in tag_names.values() for n in names})
    }
    wanted = {
        contact_id: _one_per_exclusive_group([by_name[n] for n in names])
        for contact_id, names in tag_names.items()
    }
    _replace_exclusive_tags(wanted)
    have = set(ContactTag.objects.filter(contact_id__in=list(tag_names)).values_list("contact_id", "tag_id"))
    uuid, workspace, member = sql.uuid, sql.uuid(actor.workspace_id), sql.uuid(actor.member_id)
    rows, entries, tagged = [], [], set()
    stamp = sql.moment()
    for contact_id, tags in wanted.items():
        added = [t for t in tags if (contact_id, t.id) not in have]
        if added:
            tagged.add(contact_id)
            rows += [(uuid(uuid7()), workspace, uuid(contact_id), uuid(t.id), stamp) for t in added]
            entries.append(
                (
                    uuid(uuid7()),
                    workspace,
                    uuid(contact_id),
                    TimelineKind.TAGS_ADDED,
                    sql.json({"tags": [t.name for t in added]}),
                    member,
                    stamp,
                )
            )
    sql.insert(ContactTag, _CONTACT_TAG_COLUMNS, rows, ignore_conflicts=True)
    sql.insert(TimelineEntry, _TIMELINE_COLUMNS, entries)
    return tagged


def _one_per_exclusive_group(tags: list[Tag]) -> list[Tag]:
    """A row's tags, without repeats; in a single-choice group the last one named wins."""
    last_in_group = {t.group_id: t for t in tags if t.group.is_exclusive}
    kept = [t for t in tags if not t.group.is_exclusive or last_in_group[t.group_id] is t]
    return list({t.id: t for t in kept}.values())


def _replace_exclusive_tags(wanted: Mapping[UUID, list[Tag]]) -> None:
    """Before adding a single-choice tag, drop the contact's other tag of that group (as the UI does)."""
    contacts_by_tag: dict[Tag, list[UUID]] = defaultdict(list)
    for contact_id, tags in wanted.items():
        for tag in tags:
            if tag.group.is_exclusive:
                contacts_by_tag[tag].append(contact_id)
    for tag, contact_ids in contacts_by_tag.items():
        ContactTag.objects.filter(contact_id__in=contact_ids, tag__group_id=tag.group_id).exclude(
            tag_id=tag.id
        ).delete()


def contact_statistics_refresh() -> None:
    """After a bulk load: let the database plan the next queries on the new numbers of rows."""
    planner_statistics_refresh(
        tables=[model._meta.db_table for model in (Contact, Identity, ContactTag, TimelineEntry, StageChange)]
    )
