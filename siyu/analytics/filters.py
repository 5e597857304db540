"""The report filters read from a request, shared by the pages (views.py) and the API (api.py).

Each reader raises ValidationError (with the offending field) for a value it cannot read: the API
answers it with 422, a page shows its message above the report drawn without that filter.
"""

from collections.abc import Sequence
from uuid import UUID

from django.utils.translation import gettext as _

from siyu.analytics.selectors import ATTRIBUTION_WINDOWS, ChannelChoice
from siyu.core.errors import ValidationError
from siyu.core.ids import uuid_or_none

NO_CHANNEL = "none"


def channel_choice_parse(values: Sequence[str]) -> ChannelChoice:
    """The channels to compare: channel ids, and "none" for contacts without one. Blank values are
    ignored; nothing at all means every channel."""
    picked = [value for value in values if value]
    if not picked:
        return ChannelChoice()
    ids: list[UUID] = []
    for value in picked:
        if value == NO_CHANNEL:
            continue
        key = uuid_or_none(value)
        if key is None:
            raise ValidationError(
                _("A channel is a channel id or “none”."), fields={"channel": _("Not a channel id.")}
            )
        ids.append(key)
    return ChannelChoice(channel_ids=tuple(ids), include_no_channel=NO_CHANNEL in picked)


def window_parse(value: str | int | None) -> int | None:
    """The attribution window in days, one of ATTRIBUTION_WINDOWS; None (blank) for any time later."""
    if value is None or value == "":
        return None
    days = int(value) if isinstance(value, int) or value.isdigit() else None
    if days not in ATTRIBUTION_WINDOWS:
        raise ValidationError(
            _("The window is one of %(windows)s days.")
            % {"windows": "/".join(map(str, ATTRIBUTION_WINDOWS))},
            fields={"window": _("Not an allowed window.")},
        )
    return days
