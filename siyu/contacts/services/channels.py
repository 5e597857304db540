from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _

from siyu.contacts.models import Channel, ChannelKind
from siyu.core.errors import Conflict, ValidationError
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission


@transaction.atomic
def channel_create(*, actor: Actor, name: str, kind: str = ChannelKind.OTHER, code: str = "") -> Channel:
    actor.require(Permission.FIELDS_MANAGE)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(_("A channel needs a name of 1 to 100 characters."), fields={"name": ""})
    if kind not in ChannelKind.values:
        raise ValidationError(_("Unknown channel type."), fields={"kind": ""})
    code = slugify(code or name)[:50] or f"channel-{Channel.objects.count() + 1}"
    if Channel.objects.filter(code=code).exists():
        raise Conflict(_("A channel with the code “%(code)s” exists.") % {"code": code}, fields={"code": ""})
    return Channel.objects.create(name=name, kind=kind, code=code)
