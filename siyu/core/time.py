from datetime import date, datetime, time, timedelta

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


# Days any record can fall on: a filter's bound beyond them selects the same rows, and stays clear of
# the ends of the calendar, where a day's start in some time zone or the day after does not exist.
FIRST_RECORD_DAY = date(1900, 1, 1)
LAST_RECORD_DAY = date(2999, 12, 31)


def days_range(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    """The half-open range of moments `[since, until)` of the days `first` to `last` (both included;
    None: unbounded), with the bounds brought within FIRST_RECORD_DAY … LAST_RECORD_DAY."""
    since = day_start(max(first, FIRST_RECORD_DAY)) if first is not None else None
    until = day_start(min(last, LAST_RECORD_DAY) + timedelta(days=1)) if last is not None else None
    return since, until
