"""How analytics figures read on the page: rates with their base, yuan, ratios and durations.

A figure with nothing to divide by shows as a dash, never as 0.
"""

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.utils.translation import gettext as _

from siyu.analytics.stats import Rate

register = template.Library()
DASH = "—"


@register.filter
def pct(rate: Rate | None) -> str:
    if rate is None or rate.percent is None:
        return DASH
    return f"{rate.percent:.1f}%"


@register.filter
def yuan(value: Decimal | int | float | None) -> str:
    if value is None:
        return DASH
    return f"¥{intcomma(f'{Decimal(value):.2f}')}"


@register.filter
def yuan_whole(value: Decimal | int | float | None) -> str:
    """Yuan rounded to the whole yuan, for headline figures: ¥153,187."""
    if value is None:
        return DASH
    return f"¥{intcomma(f'{Decimal(value):.0f}')}"


@register.filter
def times(value: Decimal | None) -> str:
    """A ratio such as ROI: 2.35×."""
    return DASH if value is None else f"{value:.2f}×"


@register.filter
def duration(value: timedelta | None) -> str:
    """A median time: minutes under an hour, hours under a day, else days with one decimal."""
    if value is None:
        return DASH
    seconds = value.total_seconds()
    if seconds < 3600:
        return _("%(n)d min") % {"n": round(seconds / 60)}
    if seconds < 86400:
        return _("%(n)s h") % {"n": f"{seconds / 3600:.1f}"}
    return _("%(n)s days") % {"n": f"{seconds / 86400:.1f}"}


@register.filter
def heat(rate: Rate | None, scale: int | None = 100) -> str:
    """A background for a retention cell: deeper blue for a higher share, relative to `scale` percent."""
    if rate is None or rate.percent is None:
        return ""
    share = min(1.0, rate.percent / (scale or 100))
    alpha = 0.06 + 0.74 * share
    return (
        f"background-color: rgba(32, 107, 196, {alpha:.2f}); color: {'#fff' if share > 0.55 else 'inherit'}"
    )


@register.filter
def get(mapping: Any, key: Any) -> Any:
    try:
        return mapping[key]
    except (KeyError, IndexError, TypeError):
        return None
