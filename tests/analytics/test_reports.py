"""Cohort retention, the lifecycle funnel, segment sizes and overlap, content joined to orders:
exact figures on hand-built rows, and another workspace's rows never counted."""

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest

from siyu.analytics.periods import period_last, period_parse
from siyu.analytics.selectors import (
    ChannelChoice,
    CohortRow,
    ContentOutcome,
    channel_quality,
    cohort_retention,
    content_to_orders,
    lifecycle_funnel,
    segment_sizes,
    segments_overlap,
)
from siyu.contacts.models import Stage
from siyu.core.errors import PermissionDenied
from siyu.core.tenancy import workspace_scope
from siyu.segments.models import SegmentDay
from siyu.tenancy.actor import Actor
from siyu.tenancy.selectors import actor_for_member
from tests.analytics import rows
from tests.analytics.rows import ENTERED, EXITED, NOW, days_ago, local_day
from tests.factories import MemberFactory
from tests.tracking.events import make_source

PERIOD = period_last(180, on=date(2026, 6, 30))


def days(n: float) -> timedelta:
    return timedelta(days=n)


# Funnel ---------------------------------------------------------------------------------------------


@pytest.fixture
def funnel_world(workspace, other_workspace):
    ad = rows.channel("公众号")
    store = rows.channel("门店")
    rows.contact(
        created_at=days_ago(100),
        channel=ad,
        history=[
            (Stage.ENGAGED, days_ago(98)),
            (Stage.FOLLOWER, days_ago(96)),
            (Stage.FRIEND, days_ago(90)),
            (Stage.CUSTOMER, days_ago(80)),
            (Stage.MEMBER, days_ago(50)),
        ],
    )
    # Skips follower and friend: both are reached when the contact becomes a customer.
    rows.contact(
        created_at=days_ago(60),
        channel=ad,
        history=[(Stage.ENGAGED, days_ago(59)), (Stage.CUSTOMER, days_ago(50))],
    )
    rows.contact(created_at=days_ago(30), channel=ad)
    # A customer moved back to friend by hand has still reached customer.
    rows.contact(
        created_at=days_ago(20),
        channel=ad,
        history=[(Stage.ENGAGED, days_ago(19)), (Stage.CUSTOMER, days_ago(10)), (Stage.FRIEND, days_ago(5))],
    )
    # Imported as a customer: every stage up to customer reached at creation.
    rows.contact(created_at=days_ago(40), channel=store, first_stage=Stage.CUSTOMER)
    rows.contact(created_at=days_ago(400), channel=ad, first_stage=Stage.MEMBER)  # before the period
    with workspace_scope(other_workspace.id):
        rows.contact(created_at=days_ago(30), channel=rows.channel("公众号"), first_stage=Stage.MEMBER)
    return {"ad": ad, "store": store}


def test_funnel_counts_conversions_and_median_times(funnel_world, admin_actor):
    report = lifecycle_funnel(actor=admin_actor, period=PERIOD)
    assert [(row.name, [s.reached for s in row.steps]) for row in report.rows] == [
        ("公众号", [4, 3, 3, 3, 3, 1]),
        ("门店", [1, 1, 1, 1, 1, 0]),
    ]
    ad = report.rows[0]
    assert [s.from_previous.percent for s in ad.steps] == [100.0, 75.0, 100.0, 100.0, 100.0, 33.3]
    assert [s.from_start.percent for s in ad.steps] == [100.0, 75.0, 75.0, 75.0, 75.0, 25.0]
    assert [s.median_time for s in ad.steps] == [None, days(1), days(9), days(0), days(0), days(30)]
    assert [s.reached for s in report.total.steps] == [5, 4, 4, 4, 4, 1]
    # Overall: [0, 1, 1, 2] → 1 day; [0, 2, 9, 9] → 5.5 days (the mean of the middle two).
    assert [s.median_time for s in report.total.steps] == [
        None,
        days(1),
        days(5.5),
        days(0),
        days(0),
        days(30),
    ]
    store = report.rows[1]
    assert store.steps[5].median_time is None
    assert store.steps[5].from_previous.percent == 0.0


def test_funnel_for_one_channel(funnel_world, admin_actor):
    choice = ChannelChoice(channel_ids=(funnel_world["store"].id,), include_no_channel=False)
    report = lifecycle_funnel(actor=admin_actor, period=PERIOD, choice=choice)
    assert [row.name for row in report.rows] == ["门店"]
    assert [s.reached for s in report.total.steps] == [1, 1, 1, 1, 1, 0]
    assert [s.median_time for s in report.total.steps] == [None, days(0), days(0), days(0), days(0), None]


# Cohorts --------------------------------------------------------------------------------------------


@pytest.fixture
def cohort_world(workspace, other_workspace):
    ad = rows.channel("公众号")
    store = rows.channel("门店")
    site = make_source()
    c1 = rows.contact(created_at=local_day(1), channel=ad)  # Monday 1 June
    for offset in (1, 8, 22):  # weeks 0, 1 and 3
        rows.event(c1, local_day(1) + days(offset), via=site)
    c2 = rows.contact(created_at=local_day(3), channel=ad)
    rows.event(c2, local_day(3) + days(15), via=site)  # week 2
    rows.contact(created_at=local_day(10), channel=ad)  # the week of 8 June, never seen again
    c4 = rows.contact(created_at=local_day(2), channel=store)
    rows.event(c4, local_day(2) + days(1), via=site)
    with workspace_scope(other_workspace.id):
        stranger = rows.contact(created_at=local_day(1), channel=rows.channel("公众号"))
        rows.event(stranger, local_day(1) + days(8), via=make_source())
    return {"ad": ad, "store": store, "c2": c2}


COHORT_PERIOD = period_parse(start="2026-05-02", end="2026-06-30")


def cells(row: CohortRow, count: int = 5) -> list[tuple[int, int]]:
    return [(cell.count, cell.base) for cell in row.cells[:count]]


def test_weekly_cohorts_of_one_channel(cohort_world, admin_actor):
    choice = ChannelChoice(channel_ids=(cohort_world["ad"].id,), include_no_channel=False)
    report = cohort_retention(actor=admin_actor, period=COHORT_PERIOD, grain="week", choice=choice, as_of=NOW)
    assert report.columns == 8  # whole weeks from 2 May to 30 June
    assert [(row.start, row.size) for row in report.rows] == [(date(2026, 6, 1), 2), (date(2026, 6, 8), 1)]
    assert cells(report.rows[0]) == [(1, 2), (1, 2), (1, 2), (1, 1), (0, 0)]
    assert cells(report.rows[1], 3) == [(0, 1), (0, 1), (0, 0)]
    assert report.rows[0].cells[3].percent == 100.0
    assert report.rows[0].cells[4].percent is None


def test_cohorts_of_every_channel_and_of_a_segment(cohort_world, admin_actor):
    report = cohort_retention(actor=admin_actor, period=COHORT_PERIOD, grain="week", as_of=NOW)
    assert [(row.start, row.size) for row in report.rows] == [(date(2026, 6, 1), 3), (date(2026, 6, 8), 1)]
    assert cells(report.rows[0], 2) == [(2, 3), (1, 3)]

    segment = rows.segment("复购人群")
    rows.member(segment, cohort_world["c2"], at=local_day(20))
    report = cohort_retention(
        actor=admin_actor, period=COHORT_PERIOD, grain="week", segment=segment, as_of=NOW
    )
    assert [(row.start, row.size) for row in report.rows] == [(date(2026, 6, 1), 1)]
    assert cells(report.rows[0], 4) == [(0, 1), (0, 1), (1, 1), (0, 0)]


def test_monthly_cohorts(cohort_world, admin_actor):
    later = NOW + days(2)  # 2 July, noon
    report = cohort_retention(actor=admin_actor, period=COHORT_PERIOD, grain="month", as_of=later)
    assert report.columns == 2
    assert [(row.start, row.size) for row in report.rows] == [(date(2026, 6, 1), 4)]
    # Month 0 is each contact's first 30 days: over for those acquired by 2 June noon (c1 and c4).
    assert cells(report.rows[0], 2) == [(2, 2), (0, 0)]


# Segments -------------------------------------------------------------------------------------------


@pytest.fixture
def segment_world(workspace, other_workspace):
    first = rows.segment("高价值客户")
    second = rows.segment("近期活跃")
    m1, m2, m3, x, y = (rows.contact(created_at=days_ago(200)) for _ in range(5))
    for who in (m1, m2, m3):
        rows.member(first, who, at=local_day(1))
    for who in (m2, m3, y):
        rows.member(second, who, at=local_day(1))
    rows.segment_day(first, date(2026, 6, 20), size=1, entered=1)
    rows.segment_day(first, date(2026, 6, 25), size=2, entered=1)
    rows.change(first, m2, ENTERED, local_day(25))  # already in the day's row: not counted twice
    rows.change(first, x, ENTERED, local_day(26))
    rows.change(first, x, EXITED, local_day(27))
    rows.change(first, m3, ENTERED, local_day(30, hour=9))
    with workspace_scope(other_workspace.id):
        stranger = rows.segment("高价值客户")
        rows.segment_day(stranger, date(2026, 6, 28), size=50, entered=50)
        rows.change(stranger, rows.contact(created_at=days_ago(1)), ENTERED, local_day(28))
    return {"first": first, "second": second, "stranger": stranger}


EXPECTED_DAYS = [
    (date(2026, 6, 24), 1, 0, 0),
    (date(2026, 6, 25), 2, 1, 0),
    (date(2026, 6, 26), 3, 1, 0),
    (date(2026, 6, 27), 2, 0, 1),
    (date(2026, 6, 28), 2, 0, 0),
    (date(2026, 6, 29), 2, 0, 0),
    (date(2026, 6, 30), 3, 1, 0),
]


def test_segment_sizes_per_day(segment_world, admin_actor):
    period = period_parse(start="2026-06-24", end="2026-06-30")
    report = segment_sizes(actor=admin_actor, segment=segment_world["first"], period=period, as_of=NOW)
    assert [(d.day, d.size, d.entered, d.exited) for d in report.days] == EXPECTED_DAYS
    assert (report.size_now, report.entered, report.exited) == (3, 3, 1)


def test_segment_sizes_without_an_earlier_row_rebuild_the_start_from_the_history(segment_world, admin_actor):
    SegmentDay.objects.filter(day=date(2026, 6, 20)).delete()
    period = period_parse(start="2026-06-24", end="2026-07-05")  # days after today are left out
    report = segment_sizes(actor=admin_actor, segment=segment_world["first"], period=period, as_of=NOW)
    assert [(d.day, d.size, d.entered, d.exited) for d in report.days] == EXPECTED_DAYS


def test_segment_overlap(segment_world, admin_actor):
    overlap = segments_overlap(
        actor=admin_actor, first=segment_world["first"], second=segment_world["second"]
    )
    assert (overlap.first_size, overlap.second_size, overlap.both, overlap.either) == (3, 3, 2, 4)
    assert (overlap.only_first, overlap.only_second) == (1, 1)
    assert overlap.jaccard.percent == 50.0
    assert overlap.share_of_first.percent == 66.7


# Content joined to orders ---------------------------------------------------------------------------------


@pytest.fixture
def content_world(workspace, other_workspace):
    guide, serum, empty = rows.article("秋冬护肤指南"), rows.article("玻尿酸精华"), rows.article("门店活动")
    v1, v2, v3 = (rows.contact(created_at=days_ago(60)) for _ in range(3))
    rows.purchase(v1, days_ago(20), "999.00")  # before reading: not credited
    rows.viewed(v1, guide, days_ago(10))
    rows.purchase(v1, days_ago(5), "100.00")
    rows.purchase(v1, days_ago(2), "50.00")
    rows.viewed(v1, serum, days_ago(3))
    rows.viewed(v2, guide, days_ago(8))
    rows.viewed(v3, guide, days_ago(40))  # first read before the period
    rows.purchase(v3, days_ago(1), "70.00")
    with workspace_scope(other_workspace.id):
        stranger = rows.contact(created_at=days_ago(60))
        rows.viewed(stranger, rows.article("秋冬护肤指南"), days_ago(10))
        rows.purchase(stranger, days_ago(5), "500.00")
    return {"guide": guide, "serum": serum, "empty": empty}


def figures(outcomes: list[ContentOutcome]) -> list[tuple[str, int, int, int, Decimal]]:
    return [(o.content.title, o.viewers, o.buyers, o.orders, o.revenue) for o in outcomes]


CONTENT_PERIOD = period_parse(start="2026-06-01", end="2026-06-30")


def test_content_viewers_who_ordered_later(content_world, admin_actor):
    outcomes = content_to_orders(actor=admin_actor, period=CONTENT_PERIOD)
    assert figures(outcomes) == [
        ("秋冬护肤指南", 2, 1, 2, Decimal("150.00")),
        ("玻尿酸精华", 1, 1, 1, Decimal("50.00")),
        ("门店活动", 0, 0, 0, Decimal("0")),
    ]
    assert outcomes[0].buyer_rate.percent == 50.0
    assert outcomes[0].revenue_per_viewer == Decimal("75.00")


def test_content_orders_within_a_window(content_world, admin_actor):
    outcomes = content_to_orders(actor=admin_actor, period=CONTENT_PERIOD, window_days=7)
    assert figures(outcomes)[:2] == [
        ("秋冬护肤指南", 2, 1, 1, Decimal("100.00")),
        ("玻尿酸精华", 1, 1, 1, Decimal("50.00")),
    ]


# Permission ------------------------------------------------------------------------------------------


def test_every_report_needs_the_analytics_permission(workspace, rep_actor, make_member):
    segment = rows.segment("人群")
    calls: list[Callable[[Actor], object]] = [
        lambda actor: lifecycle_funnel(actor=actor, period=PERIOD),
        lambda actor: cohort_retention(actor=actor, period=PERIOD),
        lambda actor: segment_sizes(actor=actor, segment=segment, period=PERIOD),
        lambda actor: segments_overlap(actor=actor, first=segment, second=segment),
        lambda actor: content_to_orders(actor=actor, period=PERIOD),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call(rep_actor)
    marketer = actor_for_member(member=MemberFactory(role="marketing"))
    assert lifecycle_funnel(actor=marketer, period=PERIOD).rows == []
    assert channel_quality(actor=marketer, period=PERIOD).rows == []
    with pytest.raises(PermissionDenied):
        channel_quality(actor=rep_actor, period=PERIOD)
