"""Analytics reads: channel quality, cohort retention, the lifecycle funnel, segment figures and
content joined to orders.

Each report composes the reporting selectors of the domains below (contacts, tracking, segments)
into a handful of GROUP BY statements: conditional counts, EXISTS semi-joins on indexed windows and
a join of purchases, all computed by the database. Python only adds up the per-group rows the
database returns (a few per channel, month, cohort or day). Definitions: docs/analytics.md.
"""

import functools
import itertools
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from django.db import transaction
from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.analytics.models import ChannelSpend
from siyu.analytics.periods import Period, month_length
from siyu.analytics.stats import ALL, Rate, medians_by, ratio
from siyu.contacts.models import STAGE_ORDER, Channel, Contact, CostUnit, Stage
from siyu.contacts.reporting import (
    CONVERTED_STAGE,
    RETENTION_DAYS,
    by_channel_and_month,
    contacts_acquired,
    moved_back_from,
    report_channels,
    retained_field,
    retention_window,
    seen_since_q,
    stage_at_least_q,
    stage_history,
    stage_reached_at,
)
from siyu.core.db import heavy_statements_settings
from siyu.core.errors import NotFound
from siyu.core.time import month_after, now
from siyu.segments.models import Segment
from siyu.segments.selectors.stats import (
    DayFigure,
    segment_member_ids,
    segment_overlap,
    segment_size,
    segment_size_series,
)
from siyu.tenancy.actor import Actor
from siyu.tenancy.roles import Permission
from siyu.tracking.models import Content
from siyu.tracking.selectors.reporting import (
    content_for_reports,
    content_outcomes,
    event_in_window,
    purchase_totals_by,
)

DAY = timedelta(days=1)


@contextmanager
def reporting_reads() -> Iterator[None]:
    """Run a report's statements in one transaction (one snapshot), without PostgreSQL's JIT."""
    with transaction.atomic():
        heavy_statements_settings()
        yield


@dataclass(frozen=True)
class ChannelChoice:
    """What the reports are narrowed to: some channels (None: all), with or without channel-less contacts."""

    channel_ids: tuple[UUID, ...] | None = None
    include_no_channel: bool = True

    @property
    def is_all(self) -> bool:
        return self.channel_ids is None


# Spend ------------------------------------------------------------------------------------------------

SpendSource = Literal["entered", "unit_cost", "mixed", "none"]


@dataclass
class Spend:
    """A channel's spend over a period: entered months, months derived from the unit cost, gaps."""

    entered: Decimal = Decimal(0)
    derived: Decimal = Decimal(0)
    entered_months: int = 0
    derived_months: int = 0
    missing_months: list[date] = field(default_factory=list)

    @property
    def exact(self) -> Decimal | None:
        """Known spend, unrounded (shares of months); None when no month of the period has a figure."""
        if not (self.entered_months or self.derived_months):
            return None
        return self.entered + self.derived

    @property
    def amount(self) -> Decimal | None:
        """Known spend, rounded to the fen; None when no month of the period has a figure."""
        exact = self.exact
        return None if exact is None else exact.quantize(Decimal("0.01"))

    @property
    def source(self) -> SpendSource:
        if self.entered_months and self.derived_months:
            return "mixed"
        if self.entered_months:
            return "entered"
        if self.derived_months:
            return "unit_cost"
        return "none"

    @property
    def is_complete(self) -> bool:
        return not self.missing_months

    def add(self, other: "Spend") -> None:
        self.entered += other.entered
        self.derived += other.derived
        self.entered_months += other.entered_months
        self.derived_months += other.derived_months
        self.missing_months = sorted({*self.missing_months, *other.missing_months})


def channel_spend_in(
    *, months: Sequence[date], channel_ids: Sequence[UUID] | None = None
) -> dict[tuple[UUID, date], Decimal]:
    """Entered spend per (channel, month) for the given months."""
    rows = ChannelSpend.objects.filter(month__in=list(months))
    if channel_ids is not None:
        rows = rows.filter(channel_id__in=list(channel_ids))
    return {(row.channel_id, row.month): row.amount for row in rows.only("channel_id", "month", "amount")}


def _spend_for(
    *,
    channel: Channel,
    period: Period,
    entered: dict[tuple[UUID, date], Decimal],
    new_by_month: dict[date, int],
) -> Spend:
    """A month's entered spend counts for the share of its days inside the period; a month without
    one is derived from the channel's unit cost (per new contact: × the month's new contacts in the
    period; per month: × that share of the month); otherwise it is missing."""
    spend = Spend()
    for month in period.months():
        share = Decimal(period.days_in_month(month)) / Decimal(month_length(month))
        amount = entered.get((channel.id, month))
        if amount is not None:
            spend.entered += amount * share
            spend.entered_months += 1
        elif channel.cost_unit == CostUnit.CONTACT:
            spend.derived += channel.unit_cost * new_by_month.get(month, 0)
            spend.derived_months += 1
        elif channel.cost_unit == CostUnit.MONTH:
            spend.derived += channel.unit_cost * share
            spend.derived_months += 1
        else:  # no cost unit, or per click (clicks are not counted here)
            spend.missing_months.append(month)
    return spend


# Channel quality ----------------------------------------------------------------------------------------


@dataclass
class CostBase:
    """What spend is divided by: the figures of the contacts acquired in the months whose spend is
    known. For a channel with spend for every month these are its own figures; for one with gaps,
    those of the months with spend; for a channel without any spend (or no channel), nothing."""

    new_contacts: int = 0
    customers: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)

    def add(self, other: "CostBase") -> None:
        self.new_contacts += other.new_contacts
        self.customers += other.customers
        self.orders += other.orders
        self.revenue += other.revenue


@dataclass
class ChannelQuality:
    channel_id: UUID | None  # None: contacts without a channel; also the totals row
    name: str
    new_contacts: int = 0
    customers: int = 0
    buyers: int = 0
    repeat_buyers: int = 0
    orders: int = 0
    revenue: Decimal = Decimal(0)
    retention: dict[int, Rate] = field(default_factory=dict)
    spend: Spend = field(default_factory=Spend)
    costed: CostBase = field(default_factory=CostBase)
    cost_unit: str = ""
    is_total: bool = False

    @property
    def conversion(self) -> Rate:
        return Rate(self.customers, self.new_contacts)

    @property
    def repurchase(self) -> Rate:
        return Rate(self.repeat_buyers, self.buyers)

    @property
    def aov(self) -> Decimal | None:
        return ratio(self.revenue, self.orders)

    @property
    def ltv(self) -> Decimal | None:
        return ratio(self.revenue, self.customers)

    @property
    def is_partly_costed(self) -> bool:
        """Spend is known for some of the contacts only: CAC and ROI cover those (`costed`)."""
        return self.spend.exact is not None and self.costed.new_contacts != self.new_contacts

    @property
    def cac(self) -> Decimal | None:
        """Spend / the customers acquired in the months with known spend."""
        return ratio(self.spend.exact, self.costed.customers)

    @property
    def cost_per_contact(self) -> Decimal | None:
        return ratio(self.spend.exact, self.costed.new_contacts)

    @property
    def cost_per_order(self) -> Decimal | None:
        return ratio(self.spend.exact, self.costed.orders)

    @property
    def roi(self) -> Decimal | None:
        """LTV / CAC over the months with known spend: (revenue / customers) / (spend / customers),
        i.e. revenue / spend, computed unrounded; None without customers or spend to divide by."""
        if not self.costed.customers:
            return None
        return ratio(self.costed.revenue, self.spend.exact)


@dataclass
class ChannelReport:
    period: Period
    as_of: datetime
    rows: list[ChannelQuality]
    total: ChannelQuality
    months: list[date]
    new_by_month: dict[UUID | None, dict[date, int]]


def _local_date(value: datetime | date) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _cohort(period: Period, choice: ChannelChoice, **extra: Any) -> QuerySet[Contact]:
    return contacts_acquired(
        since=period.since,
        until=period.until,
        channel_ids=choice.channel_ids,
        include_no_channel=choice.include_no_channel,
        **extra,
    )


def _count_by_channel(contacts: QuerySet[Contact]) -> dict[UUID | None, int]:
    return {
        row["channel_id"]: row["n"]
        for row in contacts.values("channel_id").annotate(n=Count("id")).order_by()
    }


def channel_quality(
    *, actor: Actor, period: Period, choice: ChannelChoice | None = None, as_of: datetime | None = None
) -> ChannelReport:
    """Per acquisition channel: contacts acquired in the period and what became of them to date.

    In one snapshot: the contacts grouped by channel and month with conditional counts (contacts,
    customers by current stage, contacts old enough per retention window and, of those, the ones
    that came back in it — flags the event processor keeps); the customers moved back by hand;
    their orders joined per channel;
    and, when a channel has spend for some months only, the orders of the contacts acquired in those
    months. Python adds up the few rows these return (docs/analytics.md, "How it is computed").
    """
    actor.require(Permission.ANALYTICS_READ)
    choice = choice or ChannelChoice()
    moment = as_of or now()
    cohort = _cohort(period, choice)
    figures: dict[str, Any] = {
        "contacts": Count("id"),
        "customers": Count("id", filter=stage_at_least_q(CONVERTED_STAGE)),
    }
    for days in RETENTION_DAYS:
        old_enough = Q(created_at__lte=moment - retention_window(days)[1])
        figures[f"eligible_{days}"] = Count("id", filter=old_enough)
        figures[f"active_{days}"] = Count("id", filter=old_enough & Q(**{retained_field(days): True}))
    with reporting_reads():
        grouped = list(by_channel_and_month(cohort, months=period.months()).annotate(**figures))
        purchases = purchase_totals_by(contacts=cohort, key="channel_id")
        moved_back = _monthly(
            by_channel_and_month(
                moved_back_from(CONVERTED_STAGE, contacts=cohort), months=period.months()
            ).annotate(n=Count("id")),
            "n",
        )
        channels = {c.id: c for c in report_channels()}
        wanted: list[UUID | None] = [
            c for c in channels if choice.channel_ids is None or c in choice.channel_ids
        ]
        if choice.include_no_channel:
            wanted.append(None)
        entered = channel_spend_in(months=period.months(), channel_ids=[c for c in wanted if c is not None])
        new_by_month = _monthly(grouped, "contacts")
        spends = {
            channel_id: _spend_for(
                channel=channels[channel_id],
                period=period,
                entered=entered,
                new_by_month=new_by_month.get(channel_id, {}),
            )
            for channel_id in wanted
            if channel_id is not None
        }
        # Channels with spend for some months only: their costs are set against those months' contacts.
        known_months = {
            channel_id: [month for month in period.months() if month not in spend.missing_months]
            for channel_id, spend in spends.items()
            if spend.exact is not None and not spend.is_complete
        }
        costed_purchases = (
            purchase_totals_by(contacts=cohort.filter(_acquired_in(known_months)), key="channel_id")
            if known_months
            else {}
        )

    customers_by_month = _monthly(grouped, "customers")
    for channel_id, by_month in moved_back.items():
        for month, n in by_month.items():
            customers_by_month.setdefault(channel_id, {})
            customers_by_month[channel_id][month] = customers_by_month[channel_id].get(month, 0) + n
    counted: dict[UUID | None, dict[str, int]] = {}
    for row in grouped:
        sums = counted.setdefault(row["channel_id"], defaultdict(int))
        for name in figures:
            sums[name] += row[name]

    rows: list[ChannelQuality] = []
    total = ChannelQuality(channel_id=None, name=_("All channels"), is_total=True)
    for channel_id in wanted:
        channel = channels.get(channel_id) if channel_id else None
        found = counted.get(channel_id)
        spent = any(key[0] == channel_id for key in entered)
        if found is None and (channel is None or not (channel.is_active or spent)):
            continue  # no contacts without a channel, or an inactive channel with nothing in the period
        quality = ChannelQuality(
            channel_id=channel_id,
            name=channel.name if channel else _("No channel"),
            cost_unit=channel.cost_unit if channel else "",
        )
        if found is not None:
            quality.new_contacts = found["contacts"]
            quality.customers = sum(customers_by_month.get(channel_id, {}).values())
            quality.retention = {
                d: Rate(found[f"active_{d}"], found[f"eligible_{d}"]) for d in RETENTION_DAYS
            }
        else:
            quality.retention = {d: Rate(0, 0) for d in RETENTION_DAYS}
        bought = purchases.get(channel_id)
        if bought is not None:
            quality.buyers, quality.repeat_buyers = bought.buyers, bought.repeat_buyers
            quality.orders, quality.revenue = bought.orders, bought.revenue
        if channel is not None:
            quality.spend = spends[channel.id]
            if quality.spend.is_complete:
                quality.costed = CostBase(
                    new_contacts=quality.new_contacts,
                    customers=quality.customers,
                    orders=quality.orders,
                    revenue=quality.revenue,
                )
            elif channel.id in known_months:
                months = known_months[channel.id]
                costed_bought = costed_purchases.get(channel.id)
                quality.costed = CostBase(
                    new_contacts=_sum_of(new_by_month.get(channel.id, {}), months),
                    customers=_sum_of(customers_by_month.get(channel.id, {}), months),
                    orders=costed_bought.orders if costed_bought else 0,
                    revenue=costed_bought.revenue if costed_bought else Decimal(0),
                )
        _add(total, quality)
        rows.append(quality)
    rows.sort(key=lambda q: (q.channel_id is None, -q.new_contacts, q.name))
    return ChannelReport(
        period=period,
        as_of=moment,
        rows=rows,
        total=total,
        months=period.months(),
        new_by_month=new_by_month,
    )


def _monthly(rows: Iterable[dict[str, Any]], figure: str) -> dict[UUID | None, dict[date, int]]:
    """A figure of `by_channel_and_month` rows per channel and local month (first day), added up."""
    by_channel: dict[UUID | None, dict[date, int]] = {}
    for row in rows:
        month = _local_date(row["month"]).replace(day=1)
        by_month = by_channel.setdefault(row["channel_id"], {})
        by_month[month] = by_month.get(month, 0) + row[figure]
    return by_channel


def _sum_of(by_month: dict[date, int], months: Iterable[date]) -> int:
    return sum(by_month.get(month, 0) for month in months)


def _acquired_in(months_by_channel: dict[UUID, list[date]]) -> Q:
    """Contacts of each channel acquired in its given local months (consecutive months as one range)."""
    parts: list[Q] = []
    for channel_id, months in months_by_channel.items():
        ranges: list[list[date]] = []
        for month in sorted(months):
            if ranges and month_after(ranges[-1][1]) == month:
                ranges[-1][1] = month
            else:
                ranges.append([month, month])
        for first, last in ranges:
            span = Period(start=first, end=month_after(last) - DAY)
            parts.append(Q(channel_id=channel_id, created_at__gte=span.since, created_at__lt=span.until))
    return functools.reduce(operator.or_, parts)


def _add(total: ChannelQuality, row: ChannelQuality) -> None:
    total.new_contacts += row.new_contacts
    total.customers += row.customers
    total.buyers += row.buyers
    total.repeat_buyers += row.repeat_buyers
    total.orders += row.orders
    total.revenue += row.revenue
    for days, rate in row.retention.items():
        before = total.retention.get(days, Rate(0, 0))
        total.retention[days] = Rate(before.count + rate.count, before.base + rate.base)
    if row.channel_id is not None:
        total.spend.add(row.spend)
        total.costed.add(row.costed)


# Cohort retention -----------------------------------------------------------------------------------

Grain = Literal["week", "month"]
GRAIN_DAYS: dict[str, int] = {"week": 7, "month": 30}
COHORT_COLUMNS = 12


@dataclass(frozen=True)
class CohortRow:
    start: date  # first day of the cohort's week (Monday) or month
    size: int
    cells: list[Rate]  # cells[k]: active in period k after acquisition, of those whose period k is over


@dataclass(frozen=True)
class CohortReport:
    period: Period
    grain: str
    as_of: datetime
    columns: int
    rows: list[CohortRow]
    segment: Segment | None


def cohort_retention(
    *,
    actor: Actor,
    period: Period,
    grain: Grain = "week",
    choice: ChannelChoice | None = None,
    segment: Segment | None = None,
    as_of: datetime | None = None,
) -> CohortReport:
    """Contacts acquired in the period, by week or month of acquisition: the share active (any event)
    in each following week (7 days) or month (30 days), counted from each contact's own acquisition.

    A cell counts only contacts whose period k has fully passed; its base is shown beside the share.
    """
    actor.require(Permission.ANALYTICS_READ)
    choice = choice or ChannelChoice()
    moment = as_of or now()
    length = GRAIN_DAYS[grain] * DAY
    elapsed = max(0, (moment - period.since) // length)
    columns = max(1, min(COHORT_COLUMNS, elapsed))
    extra = {"contact_ids": segment_member_ids(segment=segment)} if segment is not None else {}
    cohort = _cohort(period, choice, **extra)
    trunc = TruncWeek("created_at") if grain == "week" else TruncMonth("created_at")
    figures: dict[str, Any] = {"size": Count("id")}
    for k in range(columns):
        figures[f"eligible_{k}"] = Count("id", filter=Q(created_at__lte=moment - (k + 1) * length))
    counts: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    with reporting_reads():
        for values in cohort.annotate(cohort=trunc).values("cohort").annotate(**figures).order_by():
            # Two UTC offsets of one local day (a time-zone change) fall in the same cohort.
            row: dict[str, Any] = dict(values)
            bucket = counts[_local_date(row["cohort"])]
            for name in figures:
                bucket[name] += int(row[name])
        for k in range(columns):
            # One semi-join per period k: the contacts whose period k is over with an event in it.
            window = event_in_window(
                contact_id=OuterRef("pk"),
                start=OuterRef("created_at") + k * length,
                end=OuterRef("created_at") + (k + 1) * length,
            )
            old_enough = cohort.filter(created_at__lte=moment - (k + 1) * length).filter(
                seen_since_q(k * length)
            )
            for active in (
                old_enough.filter(window)
                .annotate(cohort=trunc)
                .values("cohort")
                .annotate(n=Count("id"))
                .order_by()
            ):
                counts[_local_date(active["cohort"])][f"active_{k}"] += active["n"]
    rows = [
        CohortRow(
            start=start,
            size=figures_of["size"],
            cells=[Rate(figures_of[f"active_{k}"], figures_of[f"eligible_{k}"]) for k in range(columns)],
        )
        for start, figures_of in sorted(counts.items())
    ]
    return CohortReport(period=period, grain=grain, as_of=moment, columns=columns, rows=rows, segment=segment)


# Lifecycle funnel -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunnelStep:
    stage: Stage
    reached: int
    from_previous: Rate  # reached this stage, of those that reached the previous one
    from_start: Rate  # reached this stage, of every acquired contact
    median_time: timedelta | None  # from reaching the previous stage to reaching this one


@dataclass(frozen=True)
class FunnelRow:
    channel_id: UUID | None
    name: str
    steps: list[FunnelStep]
    is_total: bool = False

    @property
    def size(self) -> int:
        return self.steps[0].reached if self.steps else 0


@dataclass(frozen=True)
class FunnelReport:
    period: Period
    total: FunnelRow
    rows: list[FunnelRow]


def lifecycle_funnel(*, actor: Actor, period: Period, choice: ChannelChoice | None = None) -> FunnelReport:
    """Contacts acquired in the period: how many reached each lifecycle stage, the conversion from
    the stage before and from the start, and the median time from one stage to the next, by channel."""
    actor.require(Permission.ANALYTICS_READ)
    choice = choice or ChannelChoice()
    cohort = _cohort(period, choice)
    counts = {stage.value: Count("id", filter=stage_at_least_q(stage)) for stage in STAGE_ORDER}
    with reporting_reads():
        grouped: dict[UUID | None, dict[str, Any]] = {
            row["channel_id"]: dict(row) for row in cohort.values("channel_id").annotate(**counts).order_by()
        }
        for stage in STAGE_ORDER[1:]:
            for channel_id, n in _count_by_channel(moved_back_from(stage, contacts=cohort)).items():
                grouped[channel_id][stage.value] += n
        medians = _stage_medians(cohort)

    channels = {c.id: c for c in report_channels()}
    rows = [
        _funnel_row(channel_id, channels[channel_id].name if channel_id else _("No channel"), row, medians)
        for channel_id, row in grouped.items()
        if channel_id is None or channel_id in channels
    ]
    rows.sort(key=lambda r: (r.channel_id is None, -r.size, r.name))
    totals = {stage.value: sum(row[stage.value] for row in grouped.values()) for stage in STAGE_ORDER}
    total = _funnel_row(ALL, _("All channels"), totals, medians, is_total=True)
    return FunnelReport(period=period, total=total, rows=rows)


def _stage_medians(cohort: QuerySet[Contact]) -> dict[str, dict[Any, timedelta]]:
    """Per stage after the first: the median time from reaching the stage before to reaching it, per
    channel and over all (key ALL), among the contacts that reached it with a recorded time."""
    medians: dict[str, dict[Any, timedelta]] = {}
    for previous, stage in itertools.pairwise(STAGE_ORDER):
        reached_previous: Any = stage_reached_at(previous)
        if previous == STAGE_ORDER[0]:
            reached_previous = Coalesce(reached_previous, F("created_at"))
        # Only contacts that reached the stage have a time for it: the current stage answers for
        # most, a probe of the history only for those below it (moved back by hand).
        reached = cohort.filter(stage_at_least_q(stage) | Q(Exists(stage_history(stage))))
        durations = reached.annotate(
            reached_previous=reached_previous, reached_this=stage_reached_at(stage)
        ).annotate(
            took=ExpressionWrapper(F("reached_this") - F("reached_previous"), output_field=DurationField())
        )
        medians[stage.value] = medians_by(durations, value="took", group="channel_id")
    return medians


def _funnel_row(
    key: Any,
    name: str,
    counts: dict[str, Any],
    medians: dict[str, dict[Any, timedelta]],
    *,
    is_total: bool = False,
) -> FunnelRow:
    steps: list[FunnelStep] = []
    start = int(counts[STAGE_ORDER[0].value])
    previous = start
    for stage in STAGE_ORDER:
        reached = int(counts[stage.value])
        steps.append(
            FunnelStep(
                stage=stage,
                reached=reached,
                from_previous=Rate(reached, previous),
                from_start=Rate(reached, start),
                median_time=medians.get(stage.value, {}).get(key),
            )
        )
        previous = reached
    return FunnelRow(channel_id=None if key == ALL else key, name=name, steps=steps, is_total=is_total)


# Segments ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentReport:
    segment: Segment
    period: Period
    days: list[DayFigure]
    size_now: int

    @property
    def entered(self) -> int:
        return sum(d.entered for d in self.days)

    @property
    def exited(self) -> int:
        return sum(d.exited for d in self.days)


def segment_sizes(
    *, actor: Actor, segment: Segment, period: Period, as_of: datetime | None = None
) -> SegmentReport:
    """The segment's size at the end of each day of the period, with the day's entries and exits
    (`segment_size_series`: the same figures as the segment's own page)."""
    actor.require(Permission.ANALYTICS_READ)
    today = timezone.localdate(as_of or now())
    days = segment_size_series(segment=segment, start=period.start, end=period.end, today=today)
    size_now = segment_size(segment=segment)
    return SegmentReport(segment=segment, period=period, days=days, size_now=size_now)


@dataclass(frozen=True)
class Overlap:
    first: Segment
    second: Segment
    first_size: int
    second_size: int
    both: int

    @property
    def either(self) -> int:
        return self.first_size + self.second_size - self.both

    @property
    def only_first(self) -> int:
        return self.first_size - self.both

    @property
    def only_second(self) -> int:
        return self.second_size - self.both

    @property
    def jaccard(self) -> Rate:
        return Rate(self.both, self.either)

    @property
    def share_of_first(self) -> Rate:
        return Rate(self.both, self.first_size)

    @property
    def share_of_second(self) -> Rate:
        return Rate(self.both, self.second_size)


def segments_overlap(*, actor: Actor, first: Segment, second: Segment) -> Overlap:
    actor.require(Permission.ANALYTICS_READ)
    sizes = segment_overlap(first=first, second=second)
    return Overlap(
        first=first, second=second, first_size=sizes["first"], second_size=sizes["second"], both=sizes["both"]
    )


# Content joined to orders --------------------------------------------------------------------------


ATTRIBUTION_WINDOWS = (7, 30, 90)  # days after the first view; None: any time later


@dataclass(frozen=True)
class ContentOutcome:
    content: Content
    viewers: int
    buyers: int
    orders: int
    revenue: Decimal

    @property
    def buyer_rate(self) -> Rate:
        return Rate(self.buyers, self.viewers)

    @property
    def revenue_per_viewer(self) -> Decimal | None:
        return ratio(self.revenue, self.viewers)


def content_to_orders(
    *, actor: Actor, period: Period, window_days: int | None = None, published_only: bool = False
) -> list[ContentOutcome]:
    """Every piece of content with the contacts who first read it in the period and, of them, those who
    ordered after their first view (within `window_days` when given); most buyers first."""
    actor.require(Permission.ANALYTICS_READ)
    window = timedelta(days=window_days) if window_days else None
    figures = {
        row["content_id"]: row
        for row in content_outcomes(since=period.since, until=period.until, window=window)
    }
    outcomes = []
    for content in content_for_reports(published_only=published_only):
        row = figures.get(content.id)
        outcomes.append(
            ContentOutcome(
                content=content,
                viewers=int(row["viewers"]) if row else 0,
                buyers=int(row["buyers"]) if row else 0,
                orders=int(row["orders"]) if row else 0,
                revenue=Decimal(row["revenue"]) if row else Decimal(0),
            )
        )
    outcomes.sort(key=lambda o: (-o.buyers, -o.viewers, o.content.title))
    return outcomes


# Spend entry page ------------------------------------------------------------------------------------


def channel_spend_list(*, actor: Actor, since: date | None = None) -> QuerySet[ChannelSpend]:
    actor.require(Permission.ANALYTICS_READ)
    rows = ChannelSpend.objects.select_related("channel", "updated_by")
    if since is not None:
        rows = rows.filter(month__gte=since)
    return rows.order_by("-month", "channel__name", "id")


def channel_spend_get(*, actor: Actor, spend_id: object) -> ChannelSpend:
    actor.require(Permission.ANALYTICS_READ)
    try:
        key = UUID(str(spend_id))
    except ValueError:
        key = None
    spend = ChannelSpend.objects.select_related("channel").filter(id=key).first() if key else None
    if spend is None:
        raise NotFound(_("This spend entry does not exist or was deleted."))
    return spend


@dataclass(frozen=True)
class SpendCell:
    """One channel's spend in one month: what was entered, else what the unit cost gives."""

    channel: Channel
    month: date
    entry: ChannelSpend | None
    derived: Decimal | None  # from the unit cost, when nothing is entered

    @property
    def amount(self) -> Decimal | None:
        return self.entry.amount if self.entry is not None else self.derived


@dataclass(frozen=True)
class SpendMonth:
    month: date
    cells: list[SpendCell]

    @property
    def total(self) -> Decimal:
        return sum((cell.amount or Decimal(0) for cell in self.cells), Decimal(0))


def spend_overview(*, actor: Actor, months: Sequence[date]) -> tuple[list[Channel], list[SpendMonth]]:
    """Channels (active ones and any with an entry) and, per month, each one's entered or derived spend.

    A derived month counts the whole month (per month) or its new contacts so far (per new contact).
    """
    actor.require(Permission.ANALYTICS_READ)
    months = sorted({m.replace(day=1) for m in months}, reverse=True)
    if not months:
        return [], []
    span = Period(start=months[-1], end=month_after(months[0]) - DAY)
    entries = {(row.channel_id, row.month): row for row in channel_spend_list(actor=actor, since=span.start)}
    cohort = _cohort(span, ChannelChoice(include_no_channel=False))
    new_by_month = _monthly(
        by_channel_and_month(cohort, months=span.months()).annotate(contacts=Count("id")), "contacts"
    )
    with_entries = {channel_id for channel_id, _month in entries}
    channels = [c for c in report_channels() if c.is_active or c.id in with_entries]
    rows = []
    for month in months:
        whole = Period(start=month, end=month_after(month) - DAY)
        cells = []
        for channel in channels:
            entry = entries.get((channel.id, month))
            derived = None
            if entry is None:
                spend = _spend_for(
                    channel=channel, period=whole, entered={}, new_by_month=new_by_month.get(channel.id, {})
                )
                derived = spend.amount
            cells.append(SpendCell(channel=channel, month=month, entry=entry, derived=derived))
        rows.append(SpendMonth(month=month, cells=cells))
    return channels, rows
