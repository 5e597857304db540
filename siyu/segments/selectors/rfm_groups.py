"""How many customers fall in each of the eight RFM groups now: one grouped query over the activity
counters, with the same thresholds the rule compiler uses (`rules.sql._rfm_q`), so these sizes are
what an RFM segment would hold and what `rfm.rfm_score` says of each customer."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case, Count, IntegerField, Q, Value, When

from siyu.core.time import now as clock_now
from siyu.segments.rfm import GROUP_LABELS, GROUP_OF, RfmCuts
from siyu.segments.rules.sql import Clock, recency_q
from siyu.tracking.selectors.events import activity_rows


@dataclass(frozen=True)
class RfmGroupSize:
    group: str
    label: str
    count: int
    recency_high: bool
    frequency_high: bool
    monetary_high: bool


@dataclass(frozen=True)
class RfmGroupSizes:
    customers: int  # contacts with at least one order
    groups: list[RfmGroupSize]  # the eight groups, in GROUP_LABELS order


def _flag(condition: Q) -> Case:
    return Case(When(condition, then=Value(1)), default=Value(0), output_field=IntegerField())


def rfm_group_sizes(*, cuts: RfmCuts | None, at: datetime | None = None) -> RfmGroupSizes | None:
    """The eight groups with their sizes, or None while there are no cut points."""
    if cuts is None:
        return None
    clock = Clock(now=at or clock_now(), rfm=cuts)
    customers = activity_rows().filter(orders__gt=0, last_order_at__isnull=False)
    rows = (
        customers.annotate(
            r_high=_flag(recency_q("lte", cuts.recency_high_max_days, clock)),
            f_high=_flag(Q(orders__gte=cuts.frequency_high_min)),
            m_high=_flag(Q(revenue__gte=cuts.monetary_high_min)),
        )
        .values("r_high", "f_high", "m_high")
        .annotate(size=Count("id"))
        .order_by()
    )
    sizes: dict[str, int] = dict.fromkeys(GROUP_LABELS, 0)
    for row in rows:
        group = GROUP_OF[(bool(row["r_high"]), bool(row["f_high"]), bool(row["m_high"]))]
        sizes[group] += int(row["size"])
    parts = {group: parts for parts, group in GROUP_OF.items()}
    return RfmGroupSizes(
        customers=sum(sizes.values()),
        groups=[
            RfmGroupSize(
                group=group,
                label=str(label),
                count=sizes[group],
                recency_high=parts[group][0],
                frequency_high=parts[group][1],
                monetary_high=parts[group][2],
            )
            for group, label in GROUP_LABELS.items()
        ],
    )
