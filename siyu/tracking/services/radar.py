"""Writes a member makes to their own radar: marking alerts read."""

from collections.abc import Collection
from typing import Literal
from uuid import UUID

from django.db import transaction

from siyu.core.ids import uuid_or_none
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tracking.models import Notification

ALL: Literal["all"] = "all"


@transaction.atomic
def notification_mark_read(*, actor: Actor, notification_ids: Collection[UUID | str] | Literal["all"]) -> int:
    """Mark the actor's own alerts read (the given ids, or "all" of them); returns how many changed.

    Ids of other members' alerts (or another workspace's) are ignored, never an error: they are not
    the actor's to touch and saying so would confirm they exist.
    """
    if actor.member_id is None:
        return 0
    rows = Notification.objects.filter(member_id=actor.member_id, read_at__isnull=True)
    if notification_ids != ALL:
        wanted = [_uuid for value in notification_ids if (_uuid := uuid_or_none(value)) is not None]
        if not wanted:
            return 0
        rows = rows.filter(id__in=wanted)
    return rows.update(read_at=now())
