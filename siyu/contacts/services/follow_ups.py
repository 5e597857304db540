from datetime import date

from django.db import transaction
from django.utils.translation import gettext as _

from siyu.contacts.models import Contact, FollowUp, FollowUpKind, TimelineKind
from siyu.contacts.services.contacts import timeline_record
from siyu.core.errors import PermissionDenied, ValidationError
from siyu.core.time import now
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission


@transaction.atomic
def follow_up_create(
    *, actor: Actor, contact: Contact, kind: str, content: str, next_follow_up_on: date | None = None
) -> FollowUp:
    actor.require(Permission.CONTACTS_WRITE)
    errors = {}
    content = (content or "").strip()
    if not content:
        errors["content"] = _("Write what happened.")
    elif len(content) > 5000:
        errors["content"] = _("At most %(n)d characters.") % {"n": 5000}
    if kind not in FollowUpKind.values:
        errors["kind"] = _("Choose one of: %(kinds)s.") % {"kinds": ", ".join(FollowUpKind.values)}
    if errors:
        raise ValidationError(_("The follow-up is not valid."), fields=errors)
    follow_up = FollowUp.objects.create(
        contact=contact, author=actor.member, kind=kind, content=content, next_follow_up_on=next_follow_up_on
    )
    # Writing a new follow-up closes the earlier open ones on this contact: they were followed up.
    FollowUp.objects.filter(contact=contact, done_at__isnull=True).exclude(id=follow_up.id).update(
        done_at=now()
    )
    timeline_record(
        contact=contact,
        kind=TimelineKind.FOLLOW_UP,
        data={
            "kind": kind,
            "content": content[:500],
            "next_follow_up_on": next_follow_up_on.isoformat() if next_follow_up_on else None,
            "follow_up_id": str(follow_up.id),
        },
        actor=actor,
    )
    return follow_up


@transaction.atomic
def follow_up_complete(*, actor: Actor, follow_up: FollowUp) -> FollowUp:
    actor.require(Permission.CONTACTS_WRITE)
    is_theirs = (
        follow_up.author_id in (None, actor.member_id) or follow_up.contact.owner_id == actor.member_id
    )
    if not is_theirs and not actor.can(Permission.CONTACTS_ASSIGN):
        raise PermissionDenied(_("Only the author or the contact's owner can close this follow-up."))
    if follow_up.done_at is None:
        follow_up.done_at = now()
        follow_up.save(update_fields=["done_at"])
    return follow_up
