"""Small statistics helpers over querysets and already aggregated numbers.

`medians_by` finds medians in the database with window functions (row number and group size per
partition, keeping the one or two middle rows), so it works the same on SQLite and PostgreSQL and
returns at most two rows per group however many rows the groups hold.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, F, QuerySet, Window
from django.db.models.functions import RowNumber

ALL = "__all__"  # the key of the single group when medians are not grouped


@dataclass(frozen=True)
class Rate:
    """`count` out of `base`; no value when the base is empty (nothing to divide by)."""

    count: int
    base: int

    @property
    def value(self) -> float | None:
        return self.count / self.base if self.base else None

    @property
    def percent(self) -> float | None:
        value = self.value
        return None if value is None else round(value * 100, 1)


def ratio(numerator: Decimal | int | None, denominator: Decimal | int | None) -> Decimal | None:
    """numerator / denominator to two decimals, None when either is unknown or the denominator is 0."""
    if numerator is None or denominator is None or not denominator:
        return None
    return (Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def medians_by(queryset: QuerySet[Any, Any], *, value: str, group: str | None = None) -> dict[Any, Any]:
    """The median of `value` per distinct `group` (or over all rows, keyed ALL), NULL values left out.

    With an even number of rows the median is the mean of the two middle values. Values may be
    numbers or durations (timedelta).
    """
    partition = [F(group)] if group else None
    ranked = (
        queryset.filter(**{f"{value}__isnull": False})
        .annotate(
            median_rank=Window(RowNumber(), partition_by=partition, order_by=F(value).asc()),
            median_size=Window(Count("*"), partition_by=partition),
        )
        .filter(median_rank__gte=(F("median_size") + 1) / 2, median_rank__lte=(F("median_size") + 2) / 2)
    )
    middles: dict[Any, list[Any]] = defaultdict(list)
    for row in ranked.values(*([group] if group else []), value):
        middles[row[group] if group else ALL].append(row[value])
    return {key: _mean(values) for key, values in middles.items()}


def _mean(values: list[Any]) -> Any:
    if len(values) == 1:
        return values[0]
    first, second = values[0], values[1]
    if isinstance(first, timedelta):
        return (first + second) / 2
    return (Decimal(first) + Decimal(second)) / 2
