from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from siyu.contacts.models import SavedView
from siyu.contacts.selectors import ContactFilters
from siyu.core.errors import PermissionDenied, ValidationError
from siyu.tenancy.actor import Actor


@transaction.atomic
def saved_view_create(
    *, actor: Actor, name: str, filters: ContactFilters, columns: list[str], is_shared: bool = False
) -> SavedView:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(_("Give the view a name of 1 to 100 characters."), fields={"name": ""})
    if actor.member is None:
        raise PermissionDenied(_("Saved views belong to members."))
    payload: dict[str, Any] = filters.to_dict()
    return SavedView.objects.create(
        member=actor.member, name=name, filters=payload, columns=columns, is_shared=is_shared
    )


@transaction.atomic
def saved_view_delete(*, actor: Actor, view: SavedView) -> None:
    if view.member_id != actor.member_id:
        raise PermissionDenied(_("Only the member who saved a view can delete it."))
    view.delete()
