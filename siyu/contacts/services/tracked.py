"""Writes driven by tracked events rather than by a person: no actor, batched, never one query per event.

The tracking processor calls these while it resolves who an event belongs to. They keep the contacts
domain's own rules (identities unique per workspace, stage history, timeline) without the permission
checks that guard people's actions.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Case, DateTimeField, F, Value, When
from django.db.models.functions import Least

from siyu.contacts.models import (
    Contact,
    Identity,
    IdentityType,
    Stage,
    StageChange,
    TimelineEntry,
    TimelineKind,
)
from siyu.contacts.reporting import RETENTION_DAYS, retained_field, retention_hits
from siyu.contacts.services.contacts import _display, contact_set_field, contacts_changed, contacts_created
from siyu.contacts.services.values import ContactLookups, contact_values_clean
from siyu.core.db import rows_update, rows_write
from siyu.core.ids import uuid7
from siyu.core.time import now

IdentityKey = tuple[str, str, str]  # (type, namespace, value)

# Segment's reserved identify traits → the contact's fields.
TRAIT_FIELDS = {
    "name": "name",
    "phone": "phone",
    "email": "email",
    "gender": "gender",
    "birthday": "birthday",
    "city": "city",
    "region": "region",
    "company": "company",
    "description": "notes",
}
# Traits that name an identity rather than a field.
TRAIT_IDENTITIES = {
    "unionid": IdentityType.WECHAT_UNIONID,
    "unionId": IdentityType.WECHAT_UNIONID,
    "openid": IdentityType.WECHAT_OPENID,
    "openId": IdentityType.WECHAT_OPENID,
    "external_userid": IdentityType.WECOM_EXTERNAL,
    "externalUserId": IdentityType.WECOM_EXTERNAL,
}


@dataclass
class NewVisitor:
    contact_id: UUID
    identities: list[IdentityKey]
    first_seen_at: datetime
    channel_id: UUID | None = None
    reason: str = "tracking"


def visitors_create(*, visitors: Sequence[NewVisitor]) -> None:
    """Contacts first met through events: visitors with their identities, stage history and timeline."""
    if not visitors:
        return
    moment = now()
    rows_write(
        Contact,
        [
            {
                "id": v.contact_id,
                "stage": Stage.VISITOR,
                "channel_id": v.channel_id,
                "last_seen_at": v.first_seen_at,
                "created_at": moment,
                "updated_at": moment,
            }
            for v in visitors
        ],
    )
    rows_write(
        Identity,
        [
            {
                "id": uuid7(),
                "contact_id": v.contact_id,
                "type": k,
                "namespace": ns,
                "value": value,
                "created_at": moment,
            }
            for v in visitors
            for k, ns, value in v.identities
        ],
    )
    rows_write(
        StageChange,
        [
            {
                "id": uuid7(),
                "contact_id": v.contact_id,
                "from_stage": "",
                "to_stage": Stage.VISITOR,
                "reason": v.reason,
                "changed_at": moment,
            }
            for v in visitors
        ],
    )
    rows_write(
        TimelineEntry,
        [
            {
                "id": uuid7(),
                "contact_id": v.contact_id,
                "kind": TimelineKind.CREATED,
                "data": {"source": v.reason},
                "created_at": moment,
            }
            for v in visitors
        ],
    )
    contacts_created(v.contact_id for v in visitors)


def identities_link(*, links: Sequence[tuple[UUID, IdentityKey]]) -> None:
    """Attach identities nobody holds yet (the caller has checked) to contacts, on their timelines.

    A browser id joining a known contact is worth its line too: a new device, or an anonymous visit
    history that an identify just tied to this person."""
    if not links:
        return
    Identity.objects.bulk_create(
        [Identity(contact_id=cid, type=k, namespace=ns, value=v) for cid, (k, ns, v) in links]
    )
    TimelineEntry.objects.bulk_create(
        [
            TimelineEntry(
                contact_id=cid,
                kind=TimelineKind.IDENTITY_ADDED,
                data={"type": k, "namespace": ns, "value": v, "source": "tracking"},
            )
            for cid, (k, ns, v) in links
        ]
    )
    contacts_changed((cid for cid, _key in links), "identities")


def traits_clean(
    traits: Mapping[str, Any], *, lookups: ContactLookups
) -> tuple[dict[str, Any], list[IdentityKey], dict[str, str]]:
    """Identify traits → (contact values, identities they name, errors by trait). Bad traits are left out."""
    raw: dict[str, Any] = {}
    for trait, name in TRAIT_FIELDS.items():
        value = traits.get(trait)
        if value not in (None, "") and not isinstance(value, dict | list):
            raw[name] = value
    if "name" not in raw:
        parts = [traits.get("lastName"), traits.get("firstName")]  # Chinese order: family name first
        joined = "".join(str(p) for p in parts if isinstance(p, str | int))
        if joined:
            raw["name"] = joined
    address = traits.get("address")
    if isinstance(address, dict):
        if address.get("city") and "city" not in raw:
            raw["city"] = address["city"]
        if address.get("state") and "region" not in raw:
            raw["region"] = address["state"]
    company = traits.get("company")
    if isinstance(company, dict) and company.get("name"):
        raw["company"] = company["name"]
    custom_keys = {f.key for f in lookups.fields}
    custom = {k: v for k, v in traits.items() if k in custom_keys}
    if custom:
        raw["custom"] = custom
    values, errors = contact_values_clean(raw, lookups=lookups, partial=True)
    for name in errors:
        values.pop(name.split(".")[0], None)
    identities: list[IdentityKey] = []
    if values.get("phone"):
        identities.append((IdentityType.PHONE, "", values["phone"]))
    if values.get("email"):
        identities.append((IdentityType.EMAIL, "", values["email"]))
    for trait, kind in TRAIT_IDENTITIES.items():
        value = traits.get(trait)
        if isinstance(value, str | int) and str(value).strip():
            identities.append((kind, "", str(value).strip()[:200]))
    return values, identities, errors


def contact_traits_apply(*, contact_id: UUID, values: Mapping[str, Any]) -> dict[str, Any]:
    """Set cleaned identify traits on a contact; what a trait sets wins. Returns what changed."""
    contact = Contact.objects.filter(id=contact_id).first()
    if contact is None:
        return {}
    changed: dict[str, Any] = {}
    for name, new in values.items():
        if name == "custom":
            merged = {**contact.custom, **{k: v for k, v in new.items() if v is not None}}
            if merged != contact.custom:
                changed["custom"] = {"from": contact.custom, "to": merged}
                contact.custom = merged
            continue
        old = getattr(contact, name)
        if new not in (None, "") and new != old:
            changed[name] = {"from": _display(old), "to": _display(new)}
            contact_set_field(contact, name, new)
    if changed:
        contact.save()
        TimelineEntry.objects.create(
            contact=contact, kind=TimelineKind.UPDATED, data={"changes": changed, "source": "identify"}
        )
        contacts_changed(
            [contact.id], *{"field:custom" if name == "custom" else f"field:{name}" for name in changed}
        )
    return changed


def contacts_seen(*, moments: Mapping[UUID, Sequence[datetime]]) -> None:
    """Contacts were active at these moments: move each one's `last_seen_at` forward (never back) and
    set the retention flags the moments fall in (`retention_hits`), in one set-based update."""
    if not moments:
        return
    retained = [retained_field(days) for days in RETENTION_DAYS]
    current = Contact.objects.filter(id__in=list(moments)).values(
        "id", "created_at", "last_seen_at", *retained
    )
    changed: list[dict[str, Any]] = []
    moved: list[UUID] = []
    for row in current:
        seen = moments[row["id"]]
        latest = max(seen)
        hits = {name for name in retention_hits(row["created_at"], seen) if not row[name]}
        forward = row["last_seen_at"] is None or row["last_seen_at"] < latest
        if not (forward or hits):
            continue
        if forward:
            row["last_seen_at"] = latest
            moved.append(row["id"])
        changed.append({**row, **dict.fromkeys(hits, True)})
    rows_update(Contact, changed, key=["id"], fields=["last_seen_at", *retained])
    contacts_changed(moved, "field:last_seen_at")


ACQUISITION_CHUNK = 300  # contacts dated back per UPDATE (two parameters each)


def contacts_acquired_earlier(*, moves: Mapping[UUID, datetime]) -> None:
    """Date contacts' creation back to an earlier moment ({id: when}; e.g. a customer created by an
    order import, to its earliest order). A creation time only ever moves earlier."""
    pending = list(moves.items())
    for start in range(0, len(pending), ACQUISITION_CHUNK):
        chunk = dict(pending[start : start + ACQUISITION_CHUNK])
        acquired_at = Case(
            *(When(id=contact_id, then=Value(at)) for contact_id, at in chunk.items()),
            output_field=DateTimeField(),
        )
        Contact.objects.filter(id__in=chunk).update(created_at=Least(F("created_at"), acquired_at))
    contacts_changed(moves, "field:created_at")


def contacts_retention_set(*, flags: Mapping[UUID, Mapping[str, bool]]) -> None:
    """Store retention flags worked out again from a contact's whole history (after a merge or a new
    creation time): {contact id: {"retained_30": …, "retained_60": …, "retained_90": …}}."""
    retained = [retained_field(days) for days in RETENTION_DAYS]
    rows_update(
        Contact,
        [
            {"id": contact_id, **{name: values[name] for name in retained}}
            for contact_id, values in flags.items()
        ],
        key=["id"],
        fields=retained,
    )


def contacts_channel_fill(*, channels: Mapping[UUID, UUID]) -> None:
    """Give contacts without a channel the one they were first attributed to."""
    by_channel: dict[UUID, list[UUID]] = {}
    for contact_id, channel_id in channels.items():
        by_channel.setdefault(channel_id, []).append(contact_id)
    for channel_id, ids in by_channel.items():
        Contact.objects.filter(id__in=ids, channel__isnull=True).update(channel_id=channel_id)
    contacts_changed(channels, "field:channel")


def contacts_merge_by_id(*, survivor_id: UUID, other_id: UUID, reason: str) -> None:
    """The system folds an anonymous contact into a known one (identity evidence), moving everything."""
    from siyu.contacts.services.contacts import contact_merge

    survivor = Contact.objects.get(id=survivor_id)
    other = Contact.objects.get(id=other_id)
    contact_merge(actor=None, survivor=survivor, other=other, reason=reason)


def contacts_stage_advance(*, targets: Mapping[UUID, tuple[str, str]]) -> int:
    """Move contacts forward to a stage reached through their events ({id: (stage, reason)}).

    Only forward moves happen; returns how many contacts moved.
    """
    from siyu.contacts.services.contacts import contact_stage_change

    moved = 0
    for contact in Contact.objects.filter(id__in=list(targets)):
        stage, reason = targets[contact.id]
        moved += contact_stage_change(actor=None, contact=contact, stage=stage, reason=reason, manual=False)
    return moved
