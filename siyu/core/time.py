from datetime import date, datetime, time

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def today() -> date:
    return timezone.localdate()


def day_start(day: date) -> datetime:
    """Midnight at the start of a calendar day in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def month_after(month: date) -> date:
    """The first day of the month after the one `month` falls in."""
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)
