"""Writing membership changes: exactly the contacts that really entered or left are recorded.

Inserts use ON CONFLICT DO NOTHING … RETURNING and deletes use DELETE … RETURNING, so two evaluators
racing on the same contact (the event processor and the clock) record one entry, one history row
and one count between them.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import F
from django.utils import timezone

from siyu.core.db import new_uuid_sql, prepared
from siyu.core.events import publish
from siyu.core.tenancy import active_workspace_id
from siyu.segments.events import SegmentEntered, SegmentExited
from siyu.segments.models import MembershipChange, MembershipChangeKind, Segment, SegmentDay, SegmentMember

IN_CHUNK = 500


def _table(model: type[object]) -> str:
    return connection.ops.quote_name(model._meta.db_table)  # type: ignore[attr-defined]


def _ids(model: type[object], attname: str, values: Sequence[UUID]) -> list[Any]:
    return [prepared(model, attname, value) for value in values]  # type: ignore[arg-type]


def _returned(cursor_rows: list[tuple[object, ...]]) -> list[UUID]:
    return [value if isinstance(value, UUID) else UUID(str(value)) for (value,) in cursor_rows]


def members_insert(*, segment_id: UUID, contact_ids: Sequence[UUID], at: datetime) -> list[UUID]:
    """Add members; returns those that were not members already."""
    workspace = prepared(SegmentMember, "workspace_id", active_workspace_id())
    segment = prepared(SegmentMember, "segment_id", segment_id)
    moment = prepared(SegmentMember, "entered_at", at)
    added: list[UUID] = []
    with connection.cursor() as cursor:
        for start in range(0, len(contact_ids), IN_CHUNK):
            chunk = _ids(SegmentMember, "contact_id", contact_ids[start : start + IN_CHUNK])
            rows = ", ".join([f"({new_uuid_sql()}, %s, %s, %s, %s)"] * len(chunk))
            params: list[Any] = []
            for contact in chunk:
                params += [workspace, segment, contact, moment]
            cursor.execute(
                f"INSERT INTO {_table(SegmentMember)} (id, workspace_id, segment_id, contact_id, entered_at) "  # noqa: S608
                f"VALUES {rows} ON CONFLICT (workspace_id, segment_id, contact_id) DO NOTHING RETURNING contact_id",
                params,
            )
            added += _returned(cursor.fetchall())
    return added


def members_delete(*, segment_id: UUID, contact_ids: Sequence[UUID]) -> list[UUID]:
    """Remove members; returns those that were members."""
    workspace = prepared(SegmentMember, "workspace_id", active_workspace_id())
    segment = prepared(SegmentMember, "segment_id", segment_id)
    removed: list[UUID] = []
    with connection.cursor() as cursor:
        for start in range(0, len(contact_ids), IN_CHUNK):
            chunk = _ids(SegmentMember, "contact_id", contact_ids[start : start + IN_CHUNK])
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"DELETE FROM {_table(SegmentMember)} WHERE workspace_id = %s AND segment_id = %s "  # noqa: S608
                f"AND contact_id IN ({marks}) RETURNING contact_id",
                [workspace, segment, *chunk],
            )
            removed += _returned(cursor.fetchall())
    return removed


def day_record(*, segment_id: UUID, at: datetime, entered: int, exited: int) -> None:
    """Add the day's entries and exits and set its closing size to the segment's current count."""
    size = Segment.objects.filter(id=segment_id).values_list("member_count", flat=True).first() or 0
    values = [
        prepared(SegmentDay, "workspace_id", active_workspace_id()),
        prepared(SegmentDay, "segment_id", segment_id),
        prepared(SegmentDay, "day", timezone.localdate(at)),
        size,
        entered,
        exited,
    ]
    table = _table(SegmentDay)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (id, workspace_id, segment_id, day, size, entered, exited) "  # noqa: S608
            f"VALUES ({new_uuid_sql()}, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (workspace_id, segment_id, day) DO UPDATE SET size = excluded.size, "
            f"entered = {table}.entered + excluded.entered, exited = {table}.exited + excluded.exited",
            values,
        )


def changes_apply(
    *,
    segment_id: UUID,
    entered: Sequence[UUID],
    exited: Sequence[UUID],
    cause: str,
    at: datetime,
) -> tuple[list[UUID], list[UUID]]:
    """Record entries and exits (members, history, counts, the day's figures) and publish them."""
    added = members_insert(segment_id=segment_id, contact_ids=entered, at=at) if entered else []
    removed = members_delete(segment_id=segment_id, contact_ids=exited) if exited else []
    if not added and not removed:
        return added, removed
    MembershipChange.objects.bulk_create(
        [
            MembershipChange(segment_id=segment_id, contact_id=contact_id, kind=kind, cause=cause, at=at)
            for kind, ids in ((MembershipChangeKind.ENTERED, added), (MembershipChangeKind.EXITED, removed))
            for contact_id in ids
        ],
        batch_size=1000,
    )
    Segment.objects.filter(id=segment_id).update(member_count=F("member_count") + len(added) - len(removed))
    day_record(segment_id=segment_id, at=at, entered=len(added), exited=len(removed))
    workspace_id = UUID(str(active_workspace_id()))
    if added:
        publish(
            SegmentEntered(
                workspace_id=workspace_id, segment_id=segment_id, contact_ids=tuple(added), cause=cause, at=at
            )
        )
    if removed:
        publish(
            SegmentExited(
                workspace_id=workspace_id,
                segment_id=segment_id,
                contact_ids=tuple(removed),
                cause=cause,
                at=at,
            )
        )
    return added, removed
