"""Analytics writes: the spend entered per channel and month.

Entering spend needs `FIELDS_MANAGE`, the permission that manages channels and their unit cost on
the channel settings page: the people who say what a channel costs per contact or per month are the
ones who say what it cost in a given month.
"""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.translation import gettext as _

from siyu.analytics.models import ChannelSpend
from siyu.contacts.models import Channel
from siyu.core.errors import NotFound, ValidationError
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission

SPEND_PERMISSION = Permission.FIELDS_MANAGE
MAX_AMOUNT = Decimal("999999999999.99")
EARLIEST_MONTH = date(2000, 1, 1)
NOTE_MAX_LENGTH = 200


def _amount_clean(amount: Decimal | int | str) -> Decimal:
    try:
        value = Decimal(str(amount).strip().replace(",", "")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        value = Decimal(-1)
    if not value.is_finite() or not Decimal(0) <= value <= MAX_AMOUNT:
        raise ValidationError(
            _("The amount is a number of yuan from 0 to %(max)s.") % {"max": f"{MAX_AMOUNT:,.2f}"},
            fields={"amount": _("Not a valid amount.")},
        )
    return value


def _month_clean(month: date) -> date:
    first = month.replace(day=1)
    if first < EARLIEST_MONTH or first.year > 2999:
        raise ValidationError(_("Choose a month from 2000 on."), fields={"month": _("Out of range.")})
    return first


@transaction.atomic
def channel_spend_set(
    *, actor: Actor, channel: Channel, month: date, amount: Decimal | int | str, note: str = ""
) -> ChannelSpend:
    """Enter (or correct) what a channel cost in a month; the month is stored as its first day."""
    actor.require(SPEND_PERMISSION)
    # The row is stamped with the active workspace, but nothing else checks its channel's.
    if str(channel.workspace_id) != str(actor.workspace_id):
        raise NotFound(_("This channel does not exist."))
    month = _month_clean(month)
    value = _amount_clean(amount)
    note = " ".join(note.split())
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(
            _("A note has at most %(max)d characters.") % {"max": NOTE_MAX_LENGTH},
            fields={"note": _("Too long.")},
        )
    spend, _created = ChannelSpend.objects.update_or_create(  # locks the row it updates
        channel=channel,
        month=month,
        defaults={"amount": value, "note": note, "updated_by": actor.member},
    )
    return spend


@transaction.atomic
def channel_spend_delete(*, actor: Actor, spend: ChannelSpend) -> None:
    """Remove a month's entry: the month falls back to the channel's unit cost again."""
    actor.require(SPEND_PERMISSION)
    ChannelSpend.objects.filter(id=spend.id).delete()
