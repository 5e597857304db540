"""Segments and static lists: create, change, delete, snapshot, and adding or removing members by hand."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from siyu.contacts.cleaning import clean_phone
from siyu.contacts.selectors import contact_scoped, identity_owners
from siyu.core.errors import Conflict, PayloadTooLarge, ValidationError
from siyu.core.time import now as clock_now
from siyu.segments.models import ChangeCause, Segment, SegmentBuild, SegmentKind, SegmentMember
from siyu.segments.rules.spec import rule_document_of, rule_parse
from siyu.segments.selectors.catalog import catalog_load
from siyu.segments.services.evaluation import dependencies_store, segment_build
from siyu.segments.services.membership import changes_apply
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

MAX_BULK = 10_000


def _clean_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise ValidationError(_("Give the segment a name."), fields={"name": _("This field is required.")})
    if len(cleaned) > 100:
        raise ValidationError(_("The name is too long."), fields={"name": _("At most 100 characters.")})
    return cleaned


def _no_rules_for_static_lists() -> ValidationError:
    return ValidationError(
        _("A static list has no rules; its members are added by hand, by import or from a snapshot."),
        fields={"rules": _("Static lists take no rules.")},
    )


def _build_soon(segment: Segment) -> None:
    from siyu.segments.tasks import segment_build_task  # tasks import services; enqueue lazily

    workspace_id, segment_id, revision = str(segment.workspace_id), str(segment.id), segment.revision
    transaction.on_commit(
        lambda: segment_build_task.enqueue(
            workspace_id=workspace_id, segment_id=segment_id, revision=revision
        )
    )


def _save(segment: Segment) -> None:
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as error:
        raise Conflict(
            _("A segment named “%(name)s” already exists.") % {"name": segment.name},
            fields={"name": _("This name is taken.")},
        ) from error


@transaction.atomic
def segment_create(
    *,
    actor: Actor,
    name: str,
    description: str = "",
    kind: str = SegmentKind.DYNAMIC,
    rules: Any = None,
    build_now: bool = False,
) -> Segment:
    """A dynamic segment is built in the background (or now, with `build_now`); a static list starts empty."""
    actor.require(Permission.SEGMENTS_MANAGE)
    if kind not in SegmentKind.values:
        raise ValidationError(_("Unknown segment type."), fields={"kind": _("Choose dynamic or static.")})
    if kind == SegmentKind.STATIC and rules:
        raise _no_rules_for_static_lists()
    segment = Segment(
        name=_clean_name(name),
        description=(description or "").strip(),
        kind=kind,
        created_by_id=actor.member_id,
        is_ready=kind == SegmentKind.STATIC,
    )
    if kind == SegmentKind.DYNAMIC:
        document = rule_document_of(rules)
        rule = rule_parse(document, catalog=catalog_load(), segment_id=segment.id)
        segment.rules = document
        _save(segment)
        dependencies_store(segment=segment, rule=rule)
        if build_now:
            segment_build(segment=segment)
        else:
            _build_soon(segment)
    else:
        _save(segment)
    return segment


@transaction.atomic
def segment_update(
    *,
    actor: Actor,
    segment: Segment,
    name: str,
    description: str = "",
    rules: Any = None,
    build_now: bool = False,
) -> Segment:
    actor.require(Permission.SEGMENTS_MANAGE)
    segment.name = _clean_name(name)
    segment.description = (description or "").strip()
    rules_changed = False
    if segment.kind == SegmentKind.STATIC and rules:
        raise _no_rules_for_static_lists()
    if segment.kind == SegmentKind.DYNAMIC and rules is not None:
        document = rule_document_of(rules)
        rule = rule_parse(document, catalog=catalog_load(), segment_id=segment.id)
        if document != segment.rules:
            rules_changed = True
            segment.rules = document
            segment.revision += 1
            dependencies_store(segment=segment, rule=rule)
    _save(segment)
    if rules_changed:
        if build_now:
            segment_build(segment=segment)
        else:
            _build_soon(segment)
    return segment


@transaction.atomic
def segment_delete(*, actor: Actor, segment: Segment) -> None:
    actor.require(Permission.SEGMENTS_MANAGE)
    users = [
        other.name
        for other in Segment.objects.exclude(id=segment.id)
        if f"segment:{segment.id}" in (other.dependencies or ())
    ]
    if users:
        raise Conflict(
            _("Other segments are built on this one: %(names)s. Change them first.")
            % {"names": pgettext("list separator", ", ").join(users)}
        )
    segment.delete()


@transaction.atomic
def segment_snapshot(*, actor: Actor, segment: Segment, name: str) -> Segment:
    """A static list holding the segment's members as they are now."""
    actor.require(Permission.SEGMENTS_MANAGE)
    snapshot = Segment(
        name=_clean_name(name),
        description=_("Snapshot of %(name)s") % {"name": segment.name},
        kind=SegmentKind.STATIC,
        created_by_id=actor.member_id,
        snapshot_of=segment,
        is_ready=True,
    )
    _save(snapshot)
    moment = clock_now()
    member_ids = list(SegmentMember.objects.filter(segment=segment).values_list("contact_id", flat=True))
    changes_apply(
        segment_id=snapshot.id, entered=member_ids, exited=[], cause=ChangeCause.SNAPSHOT, at=moment
    )
    snapshot.refresh_from_db()
    return snapshot


# -- static lists: members by hand ----------------------------------------------------------------


@dataclass(frozen=True)
class RowResult:
    row: int
    value: str
    status: str  # added | removed | unchanged | not_found | invalid
    contact_id: UUID | None = None
    message: str = ""


def _resolve(actor: Actor, values: Sequence[str]) -> list[tuple[str, UUID | None, str]]:
    """Each value (a contact id or a phone number) → (value, contact id or None, problem)."""
    parsed: list[tuple[str, UUID | None, str, str]] = []  # value, id, phone, problem
    for raw in values:
        value = str(raw).strip()
        try:
            parsed.append((value, UUID(value), "", ""))
            continue
        except ValueError:
            pass
        try:
            phone = clean_phone(value)
        except ValueError:
            phone = ""
        parsed.append((value, None, phone, "" if phone else _("Not a contact id or a phone number.")))
    ids = [contact_id for _v, contact_id, _p, _e in parsed if contact_id is not None]
    visible = contact_scoped(actor=actor)
    existing = set(visible.filter(id__in=ids).values_list("id", flat=True)) if ids else set()
    phones = identity_owners(keys=[("phone", "", phone) for _v, _i, phone, _e in parsed if phone])
    seen_by_phone = set(visible.filter(id__in=list(phones.values())).values_list("id", flat=True))
    phones = {key: contact_id for key, contact_id in phones.items() if contact_id in seen_by_phone}
    result: list[tuple[str, UUID | None, str]] = []
    for value, contact_id, phone, problem in parsed:
        if problem:
            result.append((value, None, problem))
        elif contact_id is not None:
            result.append((value, contact_id if contact_id in existing else None, ""))
        else:
            result.append((value, phones.get(("phone", "", phone)), ""))
    return result


def _members_change(
    *, actor: Actor, segment: Segment, values: Sequence[str], add: bool, cause: str
) -> list[RowResult]:
    actor.require(Permission.SEGMENTS_MANAGE)
    if segment.kind != SegmentKind.STATIC:
        raise ValidationError(
            _("Members of a dynamic segment follow its rules; add them to a static list instead.")
        )
    if len(values) > MAX_BULK:
        raise PayloadTooLarge(
            _("At most %(n)d values per call; split the list.") % {"n": MAX_BULK},
            code="too_many_rows",
            fields={"values": _("%(count)d values sent.") % {"count": len(values)}},
        )
    resolved = _resolve(actor, values)
    wanted = sorted({contact_id for _v, contact_id, _p in resolved if contact_id is not None})
    moment = clock_now()
    with transaction.atomic():
        if add:
            changed, _none = changes_apply(
                segment_id=segment.id, entered=wanted, exited=[], cause=cause, at=moment
            )
        else:
            _none, changed = changes_apply(
                segment_id=segment.id, entered=[], exited=wanted, cause=cause, at=moment
            )
    done = set(changed)
    results = []
    reported: set[UUID] = set()
    for row, (value, contact_id, problem) in enumerate(resolved, start=1):
        if problem:
            results.append(RowResult(row=row, value=value, status="invalid", message=problem))
        elif contact_id is None:
            results.append(RowResult(row=row, value=value, status="not_found", message=_("No such contact.")))
        elif contact_id in done and contact_id not in reported:
            reported.add(contact_id)
            results.append(
                RowResult(row=row, value=value, status="added" if add else "removed", contact_id=contact_id)
            )
        else:
            message = _("Already in the list.") if add else _("Was not in the list.")
            results.append(
                RowResult(row=row, value=value, status="unchanged", contact_id=contact_id, message=message)
            )
    segment.refresh_from_db()
    return results


def segment_members_add(
    *, actor: Actor, segment: Segment, values: Sequence[str], cause: str = ChangeCause.MANUAL
) -> list[RowResult]:
    """Add contacts (by id or phone) to a static list; one result per row."""
    return _members_change(actor=actor, segment=segment, values=values, add=True, cause=cause)


def segment_members_remove(*, actor: Actor, segment: Segment, values: Sequence[str]) -> list[RowResult]:
    return _members_change(actor=actor, segment=segment, values=values, add=False, cause=ChangeCause.MANUAL)


def segment_rebuild(*, actor: Actor, segment: Segment, now: bool = True) -> SegmentBuild | None:
    """Rebuild a dynamic segment on request (the engine rebuilds on its own otherwise): now, returning
    the build (None when its rules cannot be evaluated: see `segment.problem`), or in the background."""
    actor.require(Permission.SEGMENTS_MANAGE)
    if segment.kind != SegmentKind.DYNAMIC:
        raise ValidationError(
            _("A static list is not built from rules; add or remove its members instead."), code="not_dynamic"
        )
    if not now:
        _build_soon(segment)
        return None
    return segment_build(segment=segment)
