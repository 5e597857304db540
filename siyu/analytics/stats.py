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

from django.db.models import Count, F, Q, QuerySet, Window
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


def _middle(rank: str, size: str) -> Q:
    """The one or two middle rows: ranks (n+1)//2 and (n+2)//2 of n."""
    return Q(**{f"{rank}__gte": (F(size) + 1) / 2, f"{rank}__lte": (F(size) + 2) / 2})


def medians_by(queryset: QuerySet[Any, Any], *, value: str, group: str | None = None) -> dict[Any, Any]:
    """The median of `value` over all rows (key ALL) and, with `group`, per distinct value of it;
    rows whose value is NULL are left out.

    One statement: row numbers and sizes over all rows and per group (window functions), keeping
    the rows in the middle of either. With an even number of rows the median is the mean of the two
    middle values. Values may be numbers or durations (timedelta).
    """
    order = F(value).asc()
    windows: dict[str, Any] = {
        "rank_all": Window(RowNumber(), order_by=order),
        "size_all": Window(Count("*")),
    }
    middle = _middle("rank_all", "size_all")
    if group:
        windows["rank_group"] = Window(RowNumber(), partition_by=[F(group)], order_by=order)
        windows["size_group"] = Window(Count("*"), partition_by=[F(group)])
        middle |= _middle("rank_group", "size_group")
    ranked = queryset.filter(**{f"{value}__isnull": False}).annotate(**windows).filter(middle)
    middles: dict[Any, list[Any]] = defaultdict(list)
    for row in ranked.values(*([group] if group else []), value, *windows):
        if (row["size_all"] + 1) // 2 <= row["rank_all"] <= (row["size_all"] + 2) // 2:
            middles[ALL].append(row[value])
        if group and (row["size_group"] + 1) // 2 <= row["rank_group"] <= (row["size_group"] + 2) // 2:
            middles[row[group]].append(row[value])
    return {key: _mean(values) for key, values in middles.items()}


def _mean(values: list[Any]) -> Any:
    if len(values) == 1:
        return values[0]
    first, second = values[0], values[1]
    if isinstance(first, timedelta):
        return (first + second) / 2
    return (Decimal(first) + Decimal(second)) / 2
