"""The reporting period: whole local days, from a start date to an end date, both included.

A period is chosen by a preset (the last 30/90/180/365 days, today included) or by two dates. Every
report converts it once to a half-open range of aware datetimes `[since, until)` in the workspace's
time zone, so "the last 30 days" means the same contacts on every page and in the API.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils.translation import gettext as _

from siyu.core.errors import ValidationError
from siyu.core.time import FIRST_RECORD_DAY, day_start, month_after, today

PRESETS = (30, 90, 180, 365)
DEFAULT_PRESET = 180
MAX_DAYS = 3 * 366 + 1  # three years: enough for yearly comparisons, bounded for the database


@dataclass(frozen=True)
class Period:
    start: date  # first day, included
    end: date  # last day, included
    preset: int | None = None  # the preset it came from, None for chosen dates

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> datetime:
        return day_start(self.start)

    @property
    def until(self) -> datetime:
        """The moment after the last day: the exclusive upper bound."""
        return day_start(self.end + timedelta(days=1))

    def months(self) -> list[date]:
        """First days of the calendar months the period touches, oldest first."""
        first = self.start.replace(day=1)
        months = []
        while first <= self.end:
            months.append(first)
            first = month_after(first)
        return months

    def days_in_month(self, month: date) -> int:
        """How many of the period's days fall in the month starting on `month`."""
        first = max(self.start, month)
        last = min(self.end, month_after(month) - timedelta(days=1))
        return max(0, (last - first).days + 1)


def month_length(month: date) -> int:
    return (month_after(month) - month).days


def months_back(count: int, *, on: date | None = None) -> list[date]:
    """First days of the month of `on` (today by default) and of the `count - 1` before it, newest first."""
    last = (on or today()).replace(day=1)
    index = last.year * 12 + last.month - count  # months since year 0 of the oldest one
    month = date(index // 12, index % 12 + 1, 1)
    months = []
    while month <= last:
        months.append(month)
        month = month_after(month)
    return months[::-1]


def month_parse(text: str) -> date | None:
    """The first day of a month written YYYY-MM (what an <input type="month"> sends); None when the
    text is not one."""
    try:
        year, month = (int(part) for part in text.strip().split("-")[:2])
        return date(year, month, 1)
    except ValueError:
        return None


def period_last(days: int, *, on: date | None = None) -> Period:
    """The last `days` days up to and including `on` (today by default)."""
    end = on or today()
    return Period(start=end - timedelta(days=days - 1), end=end, preset=days)


def period_parse(
    *, preset: str | int | None = None, start: str | date | None = None, end: str | date | None = None
) -> Period:
    """A period from request values: two dates if given, else a preset, else the default preset.

    Raises ValidationError with the offending field for a bad date, a start after the end, a
    period longer than MAX_DAYS or an unknown preset.
    """
    if start or end:
        last = _date(end, "end") if end else today()
        first = (
            _date(start, "start")
            if start
            else max(last - timedelta(days=DEFAULT_PRESET - 1), FIRST_RECORD_DAY)
        )
        if first > last:
            raise ValidationError(
                _("The start date is after the end date."),
                fields={"start": _("Must be on or before the end.")},
            )
        if (last - first).days + 1 > MAX_DAYS:
            raise ValidationError(
                _("A period can be at most %(days)d days long.") % {"days": MAX_DAYS},
                fields={"start": _("Too long ago for this end date.")},
            )
        return Period(start=first, end=last)
    if preset in (None, ""):
        return period_last(DEFAULT_PRESET)
    try:
        days = int(preset)
    except (TypeError, ValueError):
        days = 0
    if days not in PRESETS:
        raise ValidationError(
            _("Choose a period of %(presets)s days, or two dates.")
            % {"presets": "/".join(str(p) for p in PRESETS)},
            fields={"preset": _("Unknown period.")},
        )
    return period_last(days)


def _date(value: str | date, field: str) -> date:
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValidationError(
                _("Dates are written as YYYY-MM-DD."), fields={field: _("Not a date.")}
            ) from exc
    last_day = today() + timedelta(days=366)
    if not FIRST_RECORD_DAY <= day <= last_day:
        raise ValidationError(
            _("Reports cover days from %(first)s to %(last)s.")
            % {"first": FIRST_RECORD_DAY.isoformat(), "last": last_day.isoformat()},
            fields={field: _("Out of range.")},
        )
    return day
