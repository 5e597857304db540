"""Analytics over HTTP: the same reports as the pages, as JSON. Thin handlers over siyu.analytics.selectors.

Every route needs the `analytics.read` permission (API keys: the read or write scope). Money is a
decimal string in yuan ("1234.50"); rates are percentages with one decimal, `null` when there is
nothing to divide by. Definitions: docs/analytics.md.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from ninja import Field, Query, Router, Schema

from siyu.analytics.filters import channel_choice_parse, window_parse
from siyu.analytics.periods import PRESETS, Period, period_parse
from siyu.analytics.selectors import (
    ATTRIBUTION_WINDOWS,
    ChannelChoice,
    ChannelQuality,
    FunnelRow,
    channel_quality,
    cohort_retention,
    content_to_orders,
    lifecycle_funnel,
    segment_sizes,
    segments_overlap,
)
from siyu.analytics.stats import Rate
from siyu.segments.selectors.stats import segment_for_stats
from siyu.tenancy.api import AuthedRequest
from siyu.tenancy.roles import Permission

analytics_router = Router(tags=["analytics"])

PERIOD_HELP = f"The last N days, today included ({'/'.join(str(p) for p in PRESETS)}); ignored when start or end is given"


# --- query parameters -----------------------------------------------------------------------------


class PeriodQuery(Schema):
    preset: int | None = Field(None, description=PERIOD_HELP)
    start: date | None = Field(None, description="First day (YYYY-MM-DD), included")
    end: date | None = Field(None, description="Last day (YYYY-MM-DD), included; today by default")


class ChannelsQuery(PeriodQuery):
    channel: list[str] = Field(
        default_factory=list,
        description='Channel ids to compare, repeated; "none" adds contacts without a channel. Empty: all.',
    )


class CohortQuery(ChannelsQuery):
    grain: Literal["week", "month"] = "week"
    segment: UUID | None = Field(None, description="Only the current members of this segment")


class OverlapQuery(Schema):
    first: UUID
    second: UUID


class ContentQuery(PeriodQuery):
    window: int | None = Field(
        None,
        description=f"Count orders within this many days of the first view ({'/'.join(map(str, ATTRIBUTION_WINDOWS))}); "
        "empty: any time later",
    )


def _period(query: PeriodQuery) -> Period:
    return period_parse(preset=query.preset, start=query.start, end=query.end)


def _choice(query: ChannelsQuery) -> ChannelChoice:
    return channel_choice_parse(query.channel)


# --- output schemas --------------------------------------------------------------------------------


class PeriodOut(Schema):
    start: date
    end: date
    days: int


class RateOut(Schema):
    count: int
    base: int
    percent: float | None


class RetentionOut(RateOut):
    days: int = Field(
        description="Active (any event) in days N-29…N after acquisition, of those acquired ≥ N+1 days ago"
    )


class SpendOut(Schema):
    amount: Decimal | None = Field(description="Known spend in the period; null when no month has a figure")
    source: Literal["entered", "unit_cost", "mixed", "none"]
    entered: Decimal
    from_unit_cost: Decimal
    months_without_spend: list[date]


class CostBaseOut(Schema):
    """The figures spend is divided by: those of the contacts acquired in the months with known spend."""

    new_contacts: int
    customers: int
    orders: int
    revenue: Decimal


class ChannelQualityOut(Schema):
    channel_id: UUID | None = Field(description="null: contacts without a channel (or the totals row)")
    name: str
    new_contacts: int
    customers: int
    conversion: RateOut
    retention: list[RetentionOut]
    buyers: int
    repeat_buyers: int
    repurchase: RateOut
    orders: int
    revenue: Decimal
    average_order_value: Decimal | None
    ltv: Decimal | None = Field(description="Revenue to date / customers")
    spend: SpendOut
    cost_base: CostBaseOut = Field(
        description="The contacts acquired in the months with known spend (all of them when every month "
        "has spend; none without spend); the totals row adds up the channels'"
    )
    cac: Decimal | None = Field(description="Spend / cost_base.customers")
    cost_per_new_contact: Decimal | None = Field(description="Spend / cost_base.new_contacts")
    cost_per_order: Decimal | None = Field(description="Spend / cost_base.orders")
    roi: Decimal | None = Field(
        description="LTV / CAC over cost_base: cost_base.revenue / spend; null without cost_base.customers"
    )


class ChannelReportOut(Schema):
    period: PeriodOut
    as_of: datetime
    channels: list[ChannelQualityOut]
    total: ChannelQualityOut


class CohortRowOut(Schema):
    start: date
    size: int
    cells: list[RateOut]


class CohortReportOut(Schema):
    period: PeriodOut
    grain: str
    as_of: datetime
    columns: int
    segment_id: UUID | None
    cohorts: list[CohortRowOut]


class FunnelStepOut(Schema):
    stage: str
    reached: int
    from_previous: RateOut
    from_start: RateOut
    median_seconds: float | None = Field(description="Median time from reaching the previous stage")


class FunnelRowOut(Schema):
    channel_id: UUID | None
    name: str
    steps: list[FunnelStepOut]


class FunnelReportOut(Schema):
    period: PeriodOut
    total: FunnelRowOut
    channels: list[FunnelRowOut]


class SegmentDayOut(Schema):
    day: date
    size: int
    entered: int
    exited: int


class SegmentSizesOut(Schema):
    segment_id: UUID
    name: str
    period: PeriodOut
    size_now: int
    days: list[SegmentDayOut]


class OverlapOut(Schema):
    first_id: UUID
    second_id: UUID
    first_size: int
    second_size: int
    both: int
    either: int
    jaccard: RateOut


class ContentOutcomeOut(Schema):
    content_id: UUID
    title: str
    kind: str
    viewers: int
    buyers: int = Field(description="Viewers with an order placed after their first view")
    buyer_rate: RateOut
    orders: int
    revenue: Decimal


class ContentOutcomesOut(Schema):
    period: PeriodOut
    window_days: int | None
    content: list[ContentOutcomeOut]


def _period_out(period: Period) -> dict[str, Any]:
    return {"start": period.start, "end": period.end, "days": period.days}


def _rate(rate: Rate) -> dict[str, Any]:
    return {"count": rate.count, "base": rate.base, "percent": rate.percent}


def _channel_out(row: ChannelQuality) -> dict[str, Any]:
    return {
        "channel_id": row.channel_id,
        "name": row.name,
        "new_contacts": row.new_contacts,
        "customers": row.customers,
        "conversion": _rate(row.conversion),
        "retention": [{"days": days, **_rate(rate)} for days, rate in sorted(row.retention.items())],
        "buyers": row.buyers,
        "repeat_buyers": row.repeat_buyers,
        "repurchase": _rate(row.repurchase),
        "orders": row.orders,
        "revenue": row.revenue.quantize(Decimal("0.01")),
        "average_order_value": row.aov,
        "ltv": row.ltv,
        "spend": {
            "amount": row.spend.amount,
            "source": row.spend.source,
            "entered": row.spend.entered.quantize(Decimal("0.01")),
            "from_unit_cost": row.spend.derived.quantize(Decimal("0.01")),
            "months_without_spend": row.spend.missing_months,
        },
        "cost_base": {
            "new_contacts": row.costed.new_contacts,
            "customers": row.costed.customers,
            "orders": row.costed.orders,
            "revenue": row.costed.revenue.quantize(Decimal("0.01")),
        },
        "cac": row.cac,
        "cost_per_new_contact": row.cost_per_contact,
        "cost_per_order": row.cost_per_order,
        "roi": row.roi,
    }


def _funnel_out(row: FunnelRow) -> dict[str, Any]:
    return {
        "channel_id": row.channel_id,
        "name": row.name,
        "steps": [
            {
                "stage": step.stage.value,
                "reached": step.reached,
                "from_previous": _rate(step.from_previous),
                "from_start": _rate(step.from_start),
                "median_seconds": step.median_time.total_seconds() if step.median_time is not None else None,
            }
            for step in row.steps
        ],
    }


# --- routes ---------------------------------------------------------------------------------------


@analytics_router.get("/channels", response=ChannelReportOut, operation_id="analytics_channels")
def channels(request: AuthedRequest, query: Query[ChannelsQuery]) -> dict[str, Any]:
    """Channel quality: per acquisition channel, the contacts acquired in the period and what they became."""
    report = channel_quality(actor=request.auth, period=_period(query), choice=_choice(query))
    return {
        "period": _period_out(report.period),
        "as_of": report.as_of,
        "channels": [_channel_out(row) for row in report.rows],
        "total": _channel_out(report.total),
    }


@analytics_router.get("/cohorts", response=CohortReportOut, operation_id="analytics_cohorts")
def cohorts(request: AuthedRequest, query: Query[CohortQuery]) -> dict[str, Any]:
    """Retention by week or month of acquisition: the share active in each following week (7 days) or
    month (30 days), counting only contacts whose week or month is over."""
    segment = segment_for_stats(actor=request.auth, segment_id=query.segment) if query.segment else None
    report = cohort_retention(
        actor=request.auth, period=_period(query), grain=query.grain, choice=_choice(query), segment=segment
    )
    return {
        "period": _period_out(report.period),
        "grain": report.grain,
        "as_of": report.as_of,
        "columns": report.columns,
        "segment_id": segment.id if segment else None,
        "cohorts": [
            {"start": row.start, "size": row.size, "cells": [_rate(cell) for cell in row.cells]}
            for row in report.rows
        ],
    }


@analytics_router.get("/funnel", response=FunnelReportOut, operation_id="analytics_funnel")
def funnel(request: AuthedRequest, query: Query[ChannelsQuery]) -> dict[str, Any]:
    """The lifecycle funnel of the contacts acquired in the period, overall and by channel."""
    report = lifecycle_funnel(actor=request.auth, period=_period(query), choice=_choice(query))
    return {
        "period": _period_out(report.period),
        "total": _funnel_out(report.total),
        "channels": [_funnel_out(row) for row in report.rows],
    }


@analytics_router.get("/segments/overlap", response=OverlapOut, operation_id="analytics_segments_overlap")
def segments_overlap_route(request: AuthedRequest, query: Query[OverlapQuery]) -> dict[str, Any]:
    """Current members of two segments: each, both, either."""
    first = segment_for_stats(actor=request.auth, segment_id=query.first)
    second = segment_for_stats(actor=request.auth, segment_id=query.second)
    overlap = segments_overlap(actor=request.auth, first=first, second=second)
    return {
        "first_id": first.id,
        "second_id": second.id,
        "first_size": overlap.first_size,
        "second_size": overlap.second_size,
        "both": overlap.both,
        "either": overlap.either,
        "jaccard": _rate(overlap.jaccard),
    }


@analytics_router.get(
    "/segments/{segment_id}/sizes", response=SegmentSizesOut, operation_id="analytics_segment_sizes"
)
def segment_sizes_route(
    request: AuthedRequest, segment_id: UUID, query: Query[PeriodQuery]
) -> dict[str, Any]:
    """A segment's size at the end of each day of the period, with the day's entries and exits."""
    segment = segment_for_stats(actor=request.auth, segment_id=segment_id)
    report = segment_sizes(actor=request.auth, segment=segment, period=_period(query))
    return {
        "segment_id": segment.id,
        "name": segment.name,
        "period": _period_out(report.period),
        "size_now": report.size_now,
        "days": [
            {"day": d.day, "size": d.size, "entered": d.entered, "exited": d.exited} for d in report.days
        ],
    }


@analytics_router.get(
    "/content-outcomes", response=ContentOutcomesOut, operation_id="analytics_content_outcomes"
)
def content_outcomes_route(request: AuthedRequest, query: Query[ContentQuery]) -> dict[str, Any]:
    """Per piece of content: contacts who first read it in the period, and those who ordered afterwards."""
    window = window_parse(query.window)
    period = _period(query)
    outcomes = content_to_orders(
        actor=request.auth,
        period=period,
        window_days=window,
        published_only=not request.auth.can(Permission.CONTENT_MANAGE),
    )
    return {
        "period": _period_out(period),
        "window_days": window,
        "content": [
            {
                "content_id": o.content.id,
                "title": o.content.title,
                "kind": o.content.kind,
                "viewers": o.viewers,
                "buyers": o.buyers,
                "buyer_rate": _rate(o.buyer_rate),
                "orders": o.orders,
                "revenue": o.revenue.quantize(Decimal("0.01")),
            }
            for o in outcomes
        ],
    }
